data "aws_partition" "current" {}

locals {
  root = "arn:${data.aws_partition.current.partition}:iam::${var.account_id}:root"
}

# One customer managed key per team ($1/month prorated hourly, nothing while pending deletion):
# it envelope-encrypts the cluster's Kubernetes secrets and the budget alert topic. The alert
# topic cannot use the free AWS managed key (alias/aws/sns): its key policy cannot be changed, so
# AWS Budgets could not encrypt the alerts it publishes and they would never arrive.
resource "aws_kms_key" "this" {
  description = "labctl ${var.name}: Kubernetes secrets and budget alerts"
  # Teardown schedules deletion; the shortest window AWS allows, so nothing lingers for long.
  deletion_window_in_days = var.deletion_window_days
  # Free inside a class: the first rotation (and its extra $1/month) comes after a year.
  enable_key_rotation = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account administers the key through IAM policies (the default key policy): the
        # cluster role's own policy grants EKS what it needs.
        Sid       = "AccountAdministersThroughIAM"
        Effect    = "Allow"
        Principal = { AWS = local.root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "BudgetsPublishEncryptedAlerts"
        Effect    = "Allow"
        Principal = { Service = "budgets.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
        }
      },
    ]
  })
  tags = var.tags
}
