output "vpc_id" {
  description = "ID of the team's VPC."
  value       = aws_vpc.this.id
}

output "subnet_ids" {
  description = "IDs of the two public subnets (one per AZ)."
  value       = aws_subnet.public[*].id
}
