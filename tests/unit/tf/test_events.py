"""Reading terraform's -json event stream (recorded from a real apply against the emulator)."""

from pathlib import Path

from labctl.tf.events import Progress, parse_line

FIXTURE = Path(__file__).parent / "fixtures" / "apply-events.jsonl"


def feed() -> Progress:
    prog = Progress()
    for line in FIXTURE.read_text().splitlines():
        ev = parse_line(line)
        if ev is not None:
            prog.feed(ev)
    return prog


def test_counts_planned_and_completed_resources_but_not_data_source_reads():
    prog = feed()
    assert prog.planned == 3
    assert prog.done == 3          # the data-source read is not a resource "done"


def test_change_summary_is_the_last_one_seen():
    assert feed().summary == {"add": 41, "change": 0, "remove": 0, "import": 0, "operation": "apply"}


def test_error_diagnostic_becomes_one_line_with_address():
    errors = feed().errors
    assert len(errors) == 1
    assert errors[0].one_line() == (
        "creating EKS Cluster (c-team-x): operation error EKS: CreateCluster, https response error "
        "StatusCode: 400 (module.cluster.aws_eks_cluster.this)")


def test_non_json_lines_are_ignored():
    assert parse_line("Terraform has been successfully initialized!") is None
    assert parse_line("{not json") is None
