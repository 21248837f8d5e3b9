variable "name" {
  description = "Node group and launch template name (cohort-team-pool)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster the group joins."
  type        = string
}

variable "node_role_arn" {
  description = "IAM role ARN for the nodes."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets to launch nodes in."
  type        = list(string)
}

variable "capacity_type" {
  description = "ON_DEMAND or SPOT."
  type        = string

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.capacity_type)
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "instance_types" {
  description = "Instance types, in order of preference (SPOT pools should list several)."
  type        = list(string)

  validation {
    condition     = length(var.instance_types) > 0
    error_message = "instance_types needs at least one type."
  }
}

variable "min_size" {
  description = "Minimum nodes; 0 allows scale-to-zero."
  type        = number
}

variable "max_size" {
  description = "Maximum nodes (EKS requires at least 1)."
  type        = number

  validation {
    condition     = var.max_size >= 1
    error_message = "max_size must be at least 1."
  }
}

variable "desired_size" {
  description = "Initial nodes; ignored after creation (the autoscaler owns it)."
  type        = number
}

variable "disk_gib" {
  description = "Root volume size in GiB (gp3)."
  type        = number
  default     = 50
}

variable "gpus_per_node" {
  description = "GPUs per node of this group (largest instance type), advertised to the autoscaler for scale-from-zero."
  type        = number
  default     = 0
}

variable "labels" {
  description = "Kubernetes labels on the group's nodes."
  type        = map(string)
  default     = {}
}

variable "taints" {
  description = "Kubernetes taints on the group's nodes (effect in Kubernetes spelling: NoSchedule, NoExecute, PreferNoSchedule)."
  type = list(object({
    key    = string
    value  = string
    effect = string
  }))
  default = []
}

variable "cost_tags" {
  description = "Tags for launched instances and volumes (provider default_tags do not reach them)."
  type        = map(string)
}

variable "enabled" {
  description = "false: the pool is switched off; only its launch template exists (no node group, no ASG tags)."
  type        = bool
  default     = true
}
