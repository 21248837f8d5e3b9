resource "aws_sns_topic" "alerts" {
  name = "${var.name}-budget-alerts"
  # The team's customer managed key (module team-key), whose policy lets AWS Budgets encrypt.
  kms_master_key_id = var.kms_key_id
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowBudgetsToPublish"
      Effect    = "Allow"
      Principal = { Service = "budgets.amazonaws.com" }
      Action    = "SNS:Publish"
      Resource  = aws_sns_topic.alerts.arn
      # Only this account's budgets (confused-deputy guard, as the AWS Budgets guide shows).
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
      }
    }]
  })
}

resource "aws_budgets_budget" "this" {
  name              = "${var.name}-budget"
  account_id        = var.account_id
  budget_type       = "COST"
  limit_amount      = var.limit_usd
  limit_unit        = "USD"
  time_unit         = "MONTHLY"
  time_period_start = var.period_start

  # Only the team's spend counts (requires labctl:team as an activated cost allocation tag).
  cost_filter {
    name   = "TagKeyValue"
    values = ["user:labctl:team$${var.team}"]
  }

  dynamic "notification" {
    for_each = var.alert_thresholds_percent
    content {
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value
      threshold_type            = "PERCENTAGE"
      notification_type         = "ACTUAL"
      subscriber_sns_topic_arns = [aws_sns_topic.alerts.arn]
    }
  }
  tags = var.tags
}
