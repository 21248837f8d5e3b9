variable "name" {
  description = "Name prefix (cohort-team), used in the key's description."
  type        = string
}

variable "account_id" {
  description = "Account that owns the key; its IAM policies administer it."
  type        = string
}

variable "deletion_window_days" {
  description = "Days a deleted key waits before it is gone (7 to 30; AWS charges nothing meanwhile)."
  type        = number
  default     = 7

  validation {
    condition     = var.deletion_window_days >= 7 && var.deletion_window_days <= 30
    error_message = "deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
