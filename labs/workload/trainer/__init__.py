"""The reference training workload of labctl's labs.

A small but real PyTorch model trained on generated data for a configured number of steps, that
checkpoints to S3 atomically (every N steps and at once on SIGTERM) and resumes from the latest
good checkpoint on start. Settings come only from the environment variables listed in
``../env-contract.json``; progress goes to stdout as JSON lines and to a Prometheus endpoint.

Runs as ``python -m trainer`` from the folder that holds this package (``/app`` in the image,
``labs/workload`` in the repository). Needs torch and boto3; prometheus_client and
nvidia-ml-py (pynvml) are used when present.
"""
