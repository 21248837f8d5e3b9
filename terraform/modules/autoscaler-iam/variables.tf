variable "name" {
  description = "Name prefix (cohort-team) for the role."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster whose Auto Scaling groups the autoscaler may change."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of that cluster; the autoscaler may describe only its node groups."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer" {
  description = "Cluster OIDC issuer URL (https://...)."
  type        = string
}

variable "namespace" {
  description = "Namespace of the cluster-autoscaler service account."
  type        = string
  default     = "kube-system"
}

variable "service_account" {
  description = "Name of the cluster-autoscaler service account."
  type        = string
  default     = "cluster-autoscaler"
}

variable "tags" {
  description = "Tags for every taggable resource here: the team's (labctl:cohort, labctl:team, ...). Explicit, not only the provider's default_tags, because a batch of teams shares one provider (labctl/tf/batch.py)."
  type        = map(string)
  default     = {}
}
