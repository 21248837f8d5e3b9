"""Every AWS call labctl makes, as typed functions; the only package that imports boto3 or
botocore, whose errors are mapped here onto labctl.errors (AwsError and its family).

- ``session``      AwsTarget (emulator, LocalStack or an account), clients, the error mapping
- ``walker``       the one walk over a cohort's resources by its ``labctl:cohort`` tag
- ``inventory``    every resource of a cohort, per service and type (built on the walker)
- ``sweep``        deleting what an inventory found, in dependency order
- ``accounts``     an account per team: AssumeRole, and inventory and sweep across accounts
- ``state_store``  the cohort's S3 bucket of Terraform states, and its locks
- ``eks``, ``ec2``, ``quotas``, ``identity``, ``pricing``  node groups; offerings, images and
                   instances; service quotas; who the credentials are; live prices and billing
- ``emulator``, ``compat``  the embedded emulator (moto server) and its fixes for the aws provider
"""
