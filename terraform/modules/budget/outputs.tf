output "name" {
  description = "Budget name."
  value       = aws_budgets_budget.this.name
}

output "topic_arn" {
  description = "SNS topic that receives budget alerts."
  value       = aws_sns_topic.alerts.arn
}
