# The team root's own provider, in a file of its own: a batch of teams (labctl/tf/batch.py) calls
# the rest of this root (main.tf, variables.tf, outputs.tf, versions.tf, as the cohort's one
# "team module") once per team and passes each the provider of its account, shared by every team
# there, so a batch starts one aws provider per account instead of one per team. The batch's
# provider is this one, written by labctl.tf.batch.provider_config from the same variables; its
# default_tags name only the cohort, so every module also tags its resources with the team's tags
# explicitly (var.tags): a resource carries the same tags whichever root created it.

provider "aws" {
  region = var.region

  # Emulator and LocalStack targets: fake credentials, no account lookups. Their endpoint comes
  # from AWS_ENDPOINT_URL in the environment labctl gives terraform (every service, so nothing
  # can reach real AWS), not from an `endpoints` block: validating that block (hundreds of
  # attributes) cost the provider ~2.5 CPU-s in every plan and apply.
  skip_credentials_validation = var.provider_settings.emulator
  skip_requesting_account_id  = var.provider_settings.emulator
  skip_metadata_api_check     = true
  skip_region_validation      = var.provider_settings.emulator
  s3_use_path_style           = var.provider_settings.emulator
  # Against an emulator an unimplemented call fails fast instead of retrying for minutes.
  max_retries = var.provider_settings.max_retries

  default_tags {
    tags = local.tags
  }

  # Per-team accounts: the team's resources are made by the facilitator's role in the team's own
  # account. A batch of teams in several accounts (labctl.tf.batch) still runs as one terraform
  # command, one provider per account, with no credentials written anywhere.
  dynamic "assume_role" {
    for_each = var.team_account == null ? [] : [var.team_account]
    content {
      role_arn     = assume_role.value.role_arn
      session_name = assume_role.value.session_name
    }
  }
}
