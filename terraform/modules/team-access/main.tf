# A team's own role in a real account: it may read what it needs to follow its work, and change
# only resources tagged labctl:team=<team>. The permissions policy is a JSON template beside this
# file (policies/team.json.tftpl) so that tests can read its intent without running terraform.
locals {
  principals = length(var.principal_arns) > 0 ? var.principal_arns : ["arn:${data.aws_partition.current.partition}:iam::${var.account_id}:root"]
  policy = templatefile("${path.module}/policies/team.json.tftpl", {
    team       = var.team
    bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.checkpoint_bucket}"
  })
}

data "aws_partition" "current" {}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-team"
  description          = "labctl team ${var.team}: change only resources tagged labctl:team=${var.team}"
  max_session_duration = var.max_session_seconds
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FacilitatorProvidedPrincipals"
      Effect    = "Allow"
      Principal = { AWS = local.principals }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "labctl-team"
  role   = aws_iam_role.this.id
  policy = local.policy
}
