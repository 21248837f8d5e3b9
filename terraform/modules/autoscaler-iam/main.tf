locals {
  oidc_host = replace(var.oidc_issuer, "https://", "")
}

# IRSA role for the cluster-autoscaler: only its service account may assume it.
resource "aws_iam_role" "this" {
  name = "${var.name}-cluster-autoscaler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_host}:sub" = "system:serviceaccount:${var.namespace}:${var.service_account}"
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
  tags = var.tags
}

# As the cluster-autoscaler's AWS docs recommend: read everything, but change only the
# Auto Scaling groups tagged as owned by this cluster.
resource "aws_iam_role_policy" "this" {
  name = "cluster-autoscaler"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
        ]
        Resource = "*"
      },
      {
        # Node groups of this cluster only (arn:...:nodegroup/<cluster>/<group>/<id>).
        Effect   = "Allow"
        Action   = "eks:DescribeNodegroup"
        Resource = "${replace(var.cluster_arn, ":cluster/", ":nodegroup/")}/*"
      },
      {
        # Write actions only on groups that carry both auto-discovery tags the node-group module
        # puts on this cluster's ASGs; Auto Scaling cannot scope these actions by ARN prefix.
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = "*"
        Condition = {
          StringEquals = {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"             = "true"
          }
        }
      },
    ]
  })
}
