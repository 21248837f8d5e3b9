output "arn" {
  description = "ARN of the team's KMS key."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Id of the team's KMS key."
  value       = aws_kms_key.this.key_id
}
