output "schedule_names" {
  description = "Names of the scale-to-zero schedules, by node group."
  value       = { for k, s in aws_scheduler_schedule.scale_to_zero : k => s.name }
}
