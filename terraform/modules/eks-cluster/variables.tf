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
