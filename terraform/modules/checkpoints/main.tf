resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_21:Versioning would keep every overwritten checkpoint (GBs each) and bill them until they expire; a checkpoint lost to an overwrite is rewritten at the next save, and the bucket is deleted after class.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage and adds transfer for checkpoints that live one day and can be recomputed; a region outage ends the class anyway.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) already encrypts every object at rest; SSE-KMS would add a KMS request charge per object read and write and key grants for every training pod and team role, for no protection a throwaway checkpoint needs.
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket per team that outlives this one; a 4-hour class has no audit requirement on checkpoint reads.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events: the training job reads its own checkpoints back.
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
  tags = var.tags
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

# Only TLS: a request over plain HTTP is denied, whoever makes it.
resource "aws_s3_bucket_policy" "tls_only" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = {
        Bool = { "aws:SecureTransport" = "false" }
      }
    }]
  })
  # AWS rejects a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
