data "aws_partition" "current" {}

resource "aws_iam_role" "scheduler" {
  name = "${var.name}-backstop"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "scale-gpu-node-groups-to-zero"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "eks:UpdateNodegroupConfig"
      Resource = var.node_group_arns
    }]
  })
}

# At window end, scale every GPU node group to zero even if labctl is not running, through
# EventBridge Scheduler's universal target (one AWS API call per schedule).
resource "aws_scheduler_schedule" "scale_to_zero" {
  #checkov:skip=CKV_AWS_297:The schedule holds only a cluster and node group name, no secret; a customer managed key would add a second key policy the backstop depends on, and a key that is disabled or pending deletion would stop the one thing that must fire when labctl is not running. AWS encrypts it with an AWS owned key.
  for_each                     = toset(var.node_group_names)
  name                         = "${var.name}-stop-${substr(sha256(each.value), 0, 8)}"
  description                  = "labctl backstop: scale ${each.value} to zero at the end of the session"
  schedule_expression          = "at(${var.at})"
  schedule_expression_timezone = "UTC"
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:eks:updateNodegroupConfig"
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      ClusterName   = var.cluster_name
      NodegroupName = each.value
      ScalingConfig = { MinSize = 0, DesiredSize = 0 }
    })
    retry_policy {
      maximum_retry_attempts       = 10
      maximum_event_age_in_seconds = 3600
    }
  }
}
