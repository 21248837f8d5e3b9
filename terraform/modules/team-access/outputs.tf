output "role_arn" {
  description = "ARN of the team's role (handed out in the team's folder by `labctl handouts`)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the team's role."
  value       = aws_iam_role.this.name
}

output "policy_json" {
  description = "The role's permissions policy as rendered (tests check its intent statically)."
  value       = local.policy
}
