data "aws_partition" "current" {}

locals {
  policy_prefix = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
}

resource "aws_iam_role" "cluster" {
  name = "${var.name}-cluster"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy_prefix}/AmazonEKSClusterPolicy"
}

# EKS encrypts Kubernetes secrets with the team's key through the cluster role.
resource "aws_iam_role_policy" "cluster_secrets_encryption" {
  name = "secrets-encryption"
  role = aws_iam_role.cluster.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
      Resource = var.secrets_kms_key_arn
    }]
  })
}

resource "aws_eks_cluster" "this" {
  #checkov:skip=CKV_AWS_39:Teams reach their cluster's API from their own laptops over the internet during a 4-hour class; a private endpoint needs a VPN or bastion per team. Exposure is narrowed by public_access_cidrs (the cohort's api_access_cidrs) instead.
  #checkov:skip=CKV_AWS_38:public_access_cidrs comes from the cohort file (api_access_cidrs); it defaults to 0.0.0.0/0 because a venue's egress addresses are often unknown before class. Facilitators who know them list them. Access still needs IAM credentials.
  #checkov:skip=CKV_AWS_37:Control plane logs go to a CloudWatch log group that EKS creates outside Terraform and keeps after the cluster is deleted (a leftover after teardown) and are billed per GB ingested; a 4-hour lab cluster is debugged with kubectl.
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_public_access  = true
    endpoint_private_access = false
    public_access_cidrs     = var.public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = var.secrets_kms_key_arn
    }
  }

  access_config {
    authentication_mode                         = "API_AND_CONFIG_MAP"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_iam_role_policy.cluster_secrets_encryption]
  tags       = var.tags
}

# IRSA: lets the cluster-autoscaler's service account assume its IAM role.
resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints
  tags            = var.tags
}

# One node role shared by all of the team's node groups.
resource "aws_iam_role" "node" {
  name = "${var.name}-node"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each   = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])
  role       = aws_iam_role.node.name
  policy_arn = "${local.policy_prefix}/${each.value}"
}
