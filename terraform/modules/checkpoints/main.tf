resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name
  # Teardown must succeed even when the team left checkpoints behind.
  force_destroy = true

  # Checkpoints expire so a forgotten bucket stops costing. Written inline on purpose: the
  # separate aws_s3_bucket_lifecycle_configuration resource waits for three identical reads
  # 10 s apart after every write (55 s measured here), which set the floor of every team's
  # apply; the inline rule is the same PutBucketLifecycleConfiguration without the wait.
  # Deprecated in provider 5.x, removed in 6.0: versions.tf keeps the provider below 6.
  lifecycle_rule {
    id      = "expire-checkpoints"
    enabled = true
    expiration {
      days = var.expiry_days
    }
    abort_incomplete_multipart_upload_days = 1
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
