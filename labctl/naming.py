"""Names of everything labctl creates, derived in one place from cohort and team ids.

AWS limits per name kind are checked for every team at validation time, so a name that would
be too long is rejected before anything is created, with the team named.
"""

from __future__ import annotations

import hashlib

TAG_COHORT = "labctl:cohort"
TAG_TEAM = "labctl:team"
TAG_LAB = "labctl:lab"
TAG_EXPIRES = "labctl:expires-at"

# name kind -> AWS maximum length
LIMITS = {
    "cluster": 100,
    "node_group": 63,
    "iam_role": 64,
    "bucket": 63,
    "budget": 100,
    "sns_topic": 256,
    "schedule": 64,
    "launch_template": 128,
}


def prefix(cohort: str, team: str) -> str:
    return f"{cohort}-{team}"


def bucket_name(cohort: str, team: str) -> str:
    # Bucket names are global in AWS: a short hash of (cohort, team) keeps two facilitators'
    # cohorts with the same ids from colliding less likely without leaking anything.
    digest = hashlib.sha256(f"{cohort}/{team}".encode()).hexdigest()[:8]
    return f"labctl-{cohort}-{team}-{digest}"


def derived_names(cohort: str, team: str) -> dict[str, str]:
    p = prefix(cohort, team)
    return {
        "cluster": p,
        "node_group": f"{p}-gpu-on-demand",
        "iam_role": f"{p}-cluster-autoscaler",
        "bucket": bucket_name(cohort, team),
        "budget": f"{p}-budget",
        "sns_topic": f"{p}-budget-alerts",
        "schedule": f"{p}-gpu-backstop",
        "launch_template": f"{p}-gpu-on-demand",
    }


def too_long(cohort: str, team: str) -> list[str]:
    """Messages for every derived name over its AWS limit."""
    out = []
    for kind, name in derived_names(cohort, team).items():
        if len(name) > LIMITS[kind]:
            out.append(f"derived {kind} name {name!r} is {len(name)} characters, AWS allows {LIMITS[kind]}")
    return out
