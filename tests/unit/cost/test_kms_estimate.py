"""The team's KMS key (module team-key) has a price in the catalog, with its source and date, and
the estimate charges it for the session's hours ($1 per key-month, prorated hourly)."""

from __future__ import annotations

from decimal import Decimal as D

from labctl.cost import catalog as cat
from labctl.cost.estimate import estimate_plan

ADDRESS = "module.team_key.aws_kms_key.this"
PLAN = {
    "planned_values": {"root_module": {"child_modules": [{"address": "module.team_key", "resources": [
        {"address": ADDRESS, "mode": "managed", "type": "aws_kms_key", "name": "this",
         "values": {"deletion_window_in_days": 7, "tags_all": {"labctl:team": "a"}}}]}]}},
    "resource_changes": [{"address": ADDRESS, "mode": "managed", "type": "aws_kms_key", "name": "this",
                          "change": {"actions": ["create"], "after_unknown": {"arn": True}}}],
}


def test_the_kms_key_price_has_provenance(catalog):
    sp = catalog.service(cat.KMS_KEY, "us-east-1")
    assert sp is not None and sp.unit == "hour"
    assert sp.usd_per_unit * cat.HOURS_PER_MONTH == D("0.9999978")   # $1.00 a month, to the micro-dollar
    assert "aws.amazon.com/kms/pricing" in sp.source and sp.observed_at.isoformat() == "2026-12-04"


def test_a_four_hour_class_pays_about_half_a_cent_per_key(catalog):
    est = estimate_plan(PLAN, "us-east-1", D(4), catalog)
    assert est.warnings == ()
    [key] = est.components
    assert key.cost == (D("0.005479"),) * 3 and key.label == "KMS customer managed key"
