variable "cohort" {
  description = "Cohort id (DNS-1123 label); tag labctl:cohort."
  type        = string
}

variable "team" {
  description = "Team name (DNS-1123 label); tag labctl:team."
  type        = string
}

variable "lab" {
  description = "Lab name; tag labctl:lab."
  type        = string
}

variable "expires_at" {
  description = "End of the session window, RFC 3339 UTC; tag labctl:expires-at."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "provider_settings" {
  description = "Target-specific provider settings: emulator (emulator or LocalStack: skip account checks, refuse a real account), max_retries. The endpoint comes from AWS_ENDPOINT_URL."
  type = object({
    emulator    = bool
    max_retries = number
  })
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
}

variable "node_groups" {
  description = "Node groups by pool name (system, gpu_on_demand, gpu_spot); only groups with max_size >= 1 are passed."
  type = map(object({
    capacity_type  = string
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_gib       = number
    gpus_per_node  = number
    labels         = map(string)
    taints = list(object({
      key    = string
      value  = string
      effect = string
    }))
  }))
}

variable "standby_node_groups" {
  description = "Pools the lab defines but that are switched off (max_size 0): only their launch templates are created, so switching one on creates no template. Same shape as node_groups."
  type = map(object({
    capacity_type  = string
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_gib       = number
    gpus_per_node  = number
    labels         = map(string)
    taints = list(object({
      key    = string
      value  = string
      effect = string
    }))
  }))
  default = {}
}

variable "checkpoint_bucket" {
  description = "S3 bucket for training checkpoints."
  type        = string
}

variable "checkpoint_expiry_days" {
  description = "Days until checkpoints expire."
  type        = number
}

variable "budget_usd" {
  description = "Team budget for the session, decimal string in USD."
  type        = string
}

variable "budget_period_start" {
  description = "Budget period start (YYYY-MM-DD_HH:MM)."
  type        = string
}

variable "backstop_at" {
  description = "When the backstop scales GPU node groups to zero (yyyy-mm-ddThh:mm:ss UTC)."
  type        = string
}

variable "team_access_principal_arns" {
  description = "Principals the facilitator hands to this team, allowed to assume its role (module team-access); empty trusts the account root."
  type        = list(string)
  default     = []
}

variable "api_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the cluster's public API endpoint (cohort field api_access_cidrs); everywhere when the cohort lists none."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "team_account" {
  description = "Per-team accounts (cohort field accounts): the team's own account id and the role the provider assumes there; null when the cohort shares the facilitator's account."
  type = object({
    id           = string
    role_arn     = string
    session_name = string
  })
  default = null

  validation {
    condition     = var.team_account == null || can(regex("^[0-9]{12}$", var.team_account.id))
    error_message = "team_account.id must be a 12-digit AWS account id."
  }
}
