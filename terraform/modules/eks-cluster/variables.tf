variable "name" {
  description = "Cluster name (cohort-team); also the prefix of its IAM roles."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version, e.g. \"1.31\"."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.31."
  }
}

variable "subnet_ids" {
  description = "Subnets (at least two AZs) for the control plane ENIs."
  type        = list(string)
}

variable "oidc_thumbprints" {
  description = "Server certificate thumbprints for the OIDC provider; empty lets IAM use its trusted CA library (AWS no longer requires them for EKS issuers)."
  type        = list(string)
  default     = []
}

variable "secrets_kms_key_arn" {
  description = "KMS key (module team-key) that envelope-encrypts the cluster's Kubernetes secrets."
  type        = string
}

variable "public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public Kubernetes API endpoint (the cohort's api_access_cidrs); 0.0.0.0/0 when the cohort lists none."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.public_access_cidrs) > 0 && alltrue([for c in var.public_access_cidrs : can(cidrnetmask(c))])
    error_message = "public_access_cidrs must be one or more IPv4 CIDR blocks such as 203.0.113.0/24."
  }
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
