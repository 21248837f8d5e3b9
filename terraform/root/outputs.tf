output "cluster_name" {
  description = "EKS cluster name."
  value       = module.cluster.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.cluster.endpoint
}

output "cluster_certificate_authority" {
  description = "Cluster CA (base64) for kubeconfig."
  value       = module.cluster.certificate_authority
}

output "autoscaler_role_arn" {
  description = "IRSA role for the cluster-autoscaler service account."
  value       = module.autoscaler_iam.role_arn
}

output "checkpoint_bucket" {
  description = "Checkpoint bucket name."
  value       = module.checkpoints.bucket
}

output "node_groups" {
  description = "Node groups by pool: name, ARN, ASG names and the ASG tags the autoscaler reads."
  value = {
    for k, m in module.node_group : k => {
      name       = m.name
      arn        = m.arn
      asg_names  = m.autoscaling_group_names
      asg_tags   = m.asg_tags
      launch_tpl = m.launch_template_id
    } if m.enabled
  }
}

output "budget_name" {
  description = "AWS Budget name."
  value       = module.budget.name
}

output "backstop_schedules" {
  description = "Scale-to-zero schedules by node group."
  value       = length(module.backstop) > 0 ? module.backstop[0].schedule_names : {}
}

output "account_id" {
  description = "Account the team's resources live in."
  value       = data.aws_caller_identity.current.account_id
}

output "team_role_arn" {
  description = "The team's own IAM role (module team-access), for its handout folder."
  value       = module.team_access.role_arn
}
