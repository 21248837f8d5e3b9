locals {
  # Scale-from-zero: the cluster-autoscaler cannot look at a node that does not exist, so it
  # reads what a node of this group would look like from these ASG tags.
  node_template_tags = merge(
    { for k, v in var.labels : "k8s.io/cluster-autoscaler/node-template/label/${k}" => v },
    { for t in var.taints : "k8s.io/cluster-autoscaler/node-template/taint/${t.key}" => "${t.value}:${t.effect}" },
    var.gpus_per_node > 0 ? { "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu" = tostring(var.gpus_per_node) } : {},
  )
  # Auto-discovery: --node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>
  discovery_tags = {
    "k8s.io/cluster-autoscaler/enabled"             = "true"
    "k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
  }
  asg_tags = merge(local.discovery_tags, local.node_template_tags)
  taint_effects = {
    NoSchedule       = "NO_SCHEDULE"
    NoExecute        = "NO_EXECUTE"
    PreferNoSchedule = "PREFER_NO_SCHEDULE"
  }
}

resource "aws_launch_template" "this" {
  name                   = var.name
  update_default_version = true

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.disk_gib
      volume_type           = "gp3"
      delete_on_termination = true
      encrypted             = true
    }
  }

  # IMDSv2 only, and one hop: processes on the node reach the metadata service, pods (one hop
  # further, in their own network namespace) do not, so no pod can take the node role's
  # credentials. Pods that need AWS (the cluster-autoscaler) get their own role through IRSA.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # default_tags reach the template itself, not what it launches: instances and their volumes
  # carry the cost tags only through tag specifications.
  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.cost_tags, { Name = var.name })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.cost_tags, { Name = var.name })
  }
  tags = var.cost_tags
}

resource "aws_eks_node_group" "this" {
  # A pool switched off keeps only its launch template: switching it on again then creates no
  # template (the provider waits a fixed 5 s after creating one, by design).
  count = var.enabled ? 1 : 0

  cluster_name    = var.cluster_name
  node_group_name = var.name
  node_role_arn   = var.node_role_arn
  subnet_ids      = var.subnet_ids
  capacity_type   = var.capacity_type
  instance_types  = var.instance_types
  labels          = var.labels

  scaling_config {
    min_size     = var.min_size
    max_size     = var.max_size
    desired_size = var.desired_size
  }

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  dynamic "taint" {
    for_each = var.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = local.taint_effects[taint.value.effect]
    }
  }

  tags = merge(var.cost_tags, local.asg_tags)

  lifecycle {
    # The cluster-autoscaler and the backstop schedule change the desired size at run time;
    # Terraform must not fight them on the next apply.
    ignore_changes = [scaling_config[0].desired_size]
  }
}

# EKS does not copy node group tags to the underlying Auto Scaling group, where the
# cluster-autoscaler reads them.
resource "aws_autoscaling_group_tag" "this" {
  for_each               = var.enabled ? local.asg_tags : {}
  autoscaling_group_name = aws_eks_node_group.this[0].resources[0].autoscaling_groups[0].name

  tag {
    key                 = each.key
    value               = each.value
    propagate_at_launch = false
  }
}

# The node group became conditional (count) when switched-off pools started keeping their launch
# template; states written before keep their node group.
moved {
  from = aws_eks_node_group.this
  to   = aws_eks_node_group.this[0]
}
