variable "name" {
  description = "Name prefix (cohort-team) for the schedules and their role."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster of the node groups."
  type        = string
}

variable "node_group_names" {
  description = "GPU node groups to scale to zero at window end."
  type        = list(string)
}

variable "node_group_arns" {
  description = "ARNs of those node groups (the scheduler role may update only them)."
  type        = list(string)
}

variable "at" {
  description = "When to fire, UTC, as yyyy-mm-ddThh:mm:ss (EventBridge Scheduler at() syntax)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$", var.at))
    error_message = "at must look like 2026-12-01T13:00:00."
  }
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
