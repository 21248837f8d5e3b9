"""The Terraform adapter, in the terraform-exec style: argv built by pure functions, processes
started in one place, only ``-json`` output read.

- ``runner``   starts terraform (own process group, labctl's CLI config, graceful stop, time bounds)
- ``argv``     the argv of each command, pure
- ``events``   the ``-json`` UI stream, typed
- ``state``    the one reader of Terraform state (files and the bytes S3 holds): outputs, addresses, ids
- ``batch``    a root that provisions or destroys several teams at once; merging and splitting states
- ``backend``  a team root's S3 backend file, workspace and read copy
- ``config``   the Terraform CLI configuration every run points at (the provider mirror)
"""
