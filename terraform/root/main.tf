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

data "aws_caller_identity" "current" {
  lifecycle {
    # A root meant for the emulator or LocalStack, run by hand without labctl's environment
    # (AWS_ENDPOINT_URL, fake credentials), would reach whatever account the shell's
    # credentials reach: stop before any change. 123456789012 is moto's account, 000000000000
    # LocalStack's default; a team with an account of its own may be only there.
    postcondition {
      condition     = !var.provider_settings.emulator || var.team_account != null || contains(["123456789012", "000000000000"], self.account_id)
      error_message = "This team is for the emulator or LocalStack, but the credentials reach AWS account ${self.account_id}: run it through labctl, which points terraform at the emulator."
    }
    # Per-team accounts, on every target: the team's resources land in its own account or nowhere.
    postcondition {
      condition     = var.team_account == null || try(self.account_id == var.team_account.id, false)
      error_message = "This team's resources belong in AWS account ${try(var.team_account.id, "?")}, but its credentials reach account ${self.account_id}: check the role in the cohort file's accounts section."
    }
  }
}

module "network" {
  source       = "./modules/network"
  name         = local.name
  cluster_name = local.name
  tags         = local.tags
}

module "team_key" {
  source     = "./modules/team-key"
  name       = local.name
  account_id = data.aws_caller_identity.current.account_id
  tags       = local.tags
}

module "cluster" {
  source              = "./modules/eks-cluster"
  name                = local.name
  kubernetes_version  = var.kubernetes_version
  subnet_ids          = module.network.subnet_ids
  secrets_kms_key_arn = module.team_key.arn
  public_access_cidrs = var.api_public_access_cidrs
  tags                = local.tags
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
  cluster_arn       = module.cluster.arn
  oidc_provider_arn = module.cluster.oidc_provider_arn
  oidc_issuer       = module.cluster.oidc_issuer
  tags              = local.tags
}

module "checkpoints" {
  source      = "./modules/checkpoints"
  bucket_name = var.checkpoint_bucket
  expiry_days = var.checkpoint_expiry_days
  tags        = local.tags
}

module "budget" {
  source       = "./modules/budget"
  name         = local.name
  team         = var.team
  account_id   = data.aws_caller_identity.current.account_id
  limit_usd    = var.budget_usd
  period_start = var.budget_period_start
  kms_key_id   = module.team_key.arn
  tags         = local.tags
}

module "backstop" {
  source           = "./modules/backstop"
  count            = length(local.gpu_groups) > 0 ? 1 : 0
  name             = local.name
  cluster_name     = module.cluster.name
  node_group_names = [for k in sort(keys(local.gpu_groups)) : module.node_group[k].name]
  node_group_arns  = [for k in sort(keys(local.gpu_groups)) : module.node_group[k].arn]
  at               = var.backstop_at
  tags             = local.tags
}

# Real accounts: the team's own role, allowed to change only resources tagged with its team.
module "team_access" {
  source            = "./modules/team-access"
  name              = local.name
  team              = var.team
  account_id        = data.aws_caller_identity.current.account_id
  principal_arns    = var.team_access_principal_arns
  checkpoint_bucket = var.checkpoint_bucket
  tags              = local.tags
}
