"""Kubeconfig handouts: built as data (pure), written with mode 0600 (one I/O function)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


# LocalStack's documented dummy credentials (not a secret: LocalStack accepts any).
LOCALSTACK_ENV = [{"name": "AWS_ACCESS_KEY_ID", "value": "test"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "test"}]


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_base64: str, region: str,
                   profile: str | None = None, aws_endpoint_url: str | None = None) -> dict[str, Any]:
    """A kubeconfig that gets tokens from `aws eks get-token` (the AWS CLI), like
    `aws eks update-kubeconfig` writes; no secret is stored in the file. ``aws_endpoint_url``:
    LocalStack's endpoint, so the token comes from LocalStack, never from a real account."""
    env = [{"name": "AWS_PROFILE", "value": profile}] if profile else []
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"]
    if aws_endpoint_url:
        args = ["--endpoint-url", aws_endpoint_url, *args]
        env = list(LOCALSTACK_ENV)
    user: dict[str, Any] = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
        "args": args, "interactiveMode": "Never"}}
    if env:
        user["exec"]["env"] = env
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_base64}}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }


def team_eks_kubeconfig(outputs: dict[str, Any], default_name: str, region: str, profile: str | None = None,
                        aws_endpoint_url: str | None = None) -> dict[str, Any] | None:
    """A team's EKS kubeconfig from its Terraform outputs and its cohort's region, profile and
    (LocalStack) endpoint; None when its state has no cluster endpoint yet. The one builder behind
    `labctl kubeconfig` and `collect`."""
    if not outputs.get("cluster_endpoint"):
        return None
    return eks_kubeconfig(outputs.get("cluster_name") or default_name, outputs["cluster_endpoint"],
                          outputs.get("cluster_certificate_authority") or "", region, profile, aws_endpoint_url)


def write_kubeconfig(path: Path, config: dict[str, Any] | str) -> Path:
    """Write with mode 0600 from the first byte (never world-readable, even briefly)."""
    text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
