output "name" {
  description = "Node group name."
  value       = one(aws_eks_node_group.this[*].node_group_name)
}

output "arn" {
  description = "Node group ARN."
  value       = one(aws_eks_node_group.this[*].arn)
}

output "autoscaling_group_names" {
  description = "Auto Scaling groups behind the node group."
  value       = flatten([for ng in aws_eks_node_group.this : ng.resources[0].autoscaling_groups[*].name])
}

output "asg_tags" {
  description = "Tags put on the Auto Scaling group (discovery and node-template)."
  value       = var.enabled ? local.asg_tags : {}
}

output "launch_template_id" {
  description = "Launch template ID."
  value       = aws_launch_template.this.id
}

output "enabled" {
  description = "Whether the node group exists (false: the pool is switched off, only its launch template exists)."
  value       = var.enabled
}
