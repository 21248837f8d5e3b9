output "role_arn" {
  description = "IAM role ARN to annotate the autoscaler's service account with (eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.this.arn
}
