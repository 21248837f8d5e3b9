variable "name" {
  description = "Name prefix (cohort-team) for the role."
  type        = string
}

variable "team" {
  description = "Team name: the value of the labctl:team tag the role may act on."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.team))
    error_message = "team must be a DNS-1123 label."
  }
}

variable "account_id" {
  description = "Account the team's resources live in; its root is trusted when no principal is given."
  type        = string
}

variable "principal_arns" {
  description = "IAM principals (users or roles the facilitator hands to the team) allowed to assume the role; empty means the account root, so any principal of the account whose own policy allows sts:AssumeRole on this role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:", a))])
    error_message = "principal_arns must be IAM or STS ARNs."
  }
}

variable "checkpoint_bucket" {
  description = "The team's checkpoint bucket: the role may read (not write) its objects."
  type        = string
}

variable "max_session_seconds" {
  description = "Longest session the role hands out (the class is 4 hours; 1 to 12 hours allowed by IAM)."
  type        = number
  default     = 14400

  validation {
    condition     = var.max_session_seconds >= 3600 && var.max_session_seconds <= 43200
    error_message = "max_session_seconds must be between 3600 and 43200."
  }
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
