variable "name" {
  description = "Name prefix (cohort-team)."
  type        = string
}

variable "team" {
  description = "Team name, matched against the labctl:team cost allocation tag."
  type        = string
}

variable "account_id" {
  description = "AWS account ID owning the budget."
  type        = string
}

variable "limit_usd" {
  description = "Budget for the session in USD, as a decimal string (e.g. \"150.00\")."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]{1,2})?$", var.limit_usd)) && tonumber(var.limit_usd) > 0
    error_message = "limit_usd must be a positive amount like 150 or 150.00."
  }
}

variable "period_start" {
  description = "Budget period start, YYYY-MM-DD_HH:MM (UTC)."
  type        = string
}

variable "alert_thresholds_percent" {
  description = "Actual-spend percentages of the limit at which the SNS topic is notified."
  type        = list(number)
  default     = [50, 80, 100]
}

variable "kms_key_id" {
  description = "KMS key (ARN or id; module team-key) that encrypts the alert topic. Must be a customer managed key whose policy lets budgets.amazonaws.com use it."
  type        = string
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
