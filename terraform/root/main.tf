# One team's environment. labctl copies this root and ../modules into the team's build
# directory and writes terraform.tfvars.json beside it: user values arrive only as data.

locals {
  tags = {
    "labctl:cohort"     = var.cohort
    "labctl:team"       = var.team
    "labctl:lab"        = var.lab
    "labctl:expires-at" = var.expires_at
  }
  name       = "${var.cohort}-${var.team}"
  gpu_groups = { for k, g in var.node_groups : k => g if g.gpus_per_node > 0 }
}

provider "aws" {
  region = var.region

  # Emulator and LocalStack targets: fake credentials, loopback endpoints, no account lookups.
  skip_credentials_validation = var.provider_settings.emulator
  skip_requesting_account_id  = var.provider_settings.emulator
  skip_metadata_api_check     = true
  skip_region_validation      = var.provider_settings.emulator
  s3_use_path_style           = var.provider_settings.emulator
  # Against an emulator an unimplemented call fails fast instead of retrying for minutes.
  max_retries = var.provider_settings.max_retries

  dynamic "endpoints" {
    for_each = var.provider_settings.endpoint_url == "" ? [] : [var.provider_settings.endpoint_url]
    content {
      autoscaling = endpoints.value
      budgets     = endpoints.value
      ec2         = endpoints.value
      eks         = endpoints.value
      iam         = endpoints.value
      s3          = endpoints.value
      scheduler   = endpoints.value
      sns         = endpoints.value
      sts         = endpoints.value
    }
  }

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

module "network" {
  source       = "./modules/network"
  name         = local.name
  cluster_name = local.name
}

module "cluster" {
  source             = "./modules/eks-cluster"
  name               = local.name
  kubernetes_version = var.kubernetes_version
  subnet_ids         = module.network.subnet_ids
}

module "node_group" {
  source   = "./modules/node-group"
  for_each = merge(var.standby_node_groups, var.node_groups)

  enabled        = contains(keys(var.node_groups), each.key)
  name           = "${local.name}-${each.key}"
  cluster_name   = module.cluster.name
  node_role_arn  = module.cluster.node_role_arn
  subnet_ids     = module.network.subnet_ids
  capacity_type  = each.value.capacity_type
  instance_types = each.value.instance_types
  min_size       = each.value.min_size
  max_size       = each.value.max_size
  desired_size   = each.value.desired_size
  disk_gib       = each.value.disk_gib
  gpus_per_node  = each.value.gpus_per_node
  labels         = each.value.labels
  taints         = each.value.taints
  cost_tags      = local.tags
}

module "autoscaler_iam" {
  source            = "./modules/autoscaler-iam"
  name              = local.name
  cluster_name      = module.cluster.name
  oidc_provider_arn = module.cluster.oidc_provider_arn
  oidc_issuer       = module.cluster.oidc_issuer
}

module "checkpoints" {
  source      = "./modules/checkpoints"
  bucket_name = var.checkpoint_bucket
  expiry_days = var.checkpoint_expiry_days
}

module "budget" {
  source       = "./modules/budget"
  name         = local.name
  team         = var.team
  account_id   = data.aws_caller_identity.current.account_id
  limit_usd    = var.budget_usd
  period_start = var.budget_period_start
}

module "backstop" {
  source           = "./modules/backstop"
  count            = length(local.gpu_groups) > 0 ? 1 : 0
  name             = local.name
  cluster_name     = module.cluster.name
  node_group_names = [for k in sort(keys(local.gpu_groups)) : module.node_group[k].name]
  node_group_arns  = [for k in sort(keys(local.gpu_groups)) : module.node_group[k].arn]
  at               = var.backstop_at
}

# Real accounts: the team's own role, allowed to change only resources tagged with its team.
module "team_access" {
  source            = "./modules/team-access"
  name              = local.name
  team              = var.team
  account_id        = data.aws_caller_identity.current.account_id
  principal_arns    = var.team_access_principal_arns
  checkpoint_bucket = var.checkpoint_bucket
}
