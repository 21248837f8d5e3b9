"""The checkpoint store in-process against the emulator's S3 (no torch: bodies are bytes here).

What it must prove: a body is loaded only if the pointer names it and its bytes match the
pointer's SHA-256; anything else is rejected with a logged reason and the next good one (or
a fresh start) is used; a save that fails at any point leaves the previous pointer in force.
"""

from __future__ import annotations

import io
import json
import uuid

import pytest

from tests.workload.conftest import S3
from trainer.checkpoint import KEEP, CheckpointStore
from trainer.log import JsonLog

pytestmark = pytest.mark.emulator


def body(step: int) -> bytes:
    return f"checkpoint-of-step-{step}".encode() * 100


def decode(raw: bytes) -> int:
    text = raw.decode()
    if not text.startswith("checkpoint-of-step-"):
        raise ValueError("not a checkpoint")
    return int(text.split("-")[3].split("c")[0])


class Store:
    def __init__(self, s3: S3, client=None) -> None:
        self.s3 = s3
        self.bucket = s3.new_bucket()
        self.prefix = f"team-a/{uuid.uuid4().hex[:6]}"
        self.out = io.StringIO()
        self.store = CheckpointStore(client or s3.client, self.bucket, self.prefix, JsonLog(self.out))

    def events(self, kind: str) -> list[dict]:
        return [e for e in map(json.loads, self.out.getvalue().splitlines()) if e["event"] == kind]

    def pointer(self) -> dict:
        return self.s3.pointer(self.bucket, self.prefix)

    def load(self):
        found = self.store.load_latest(decode)
        return None if found is None else found[0]


@pytest.fixture
def saved(s3: S3) -> Store:
    st = Store(s3)
    for step in (10, 20, 30):
        st.store.save(step, body(step))
    return st


def test_load_takes_the_newest_good_checkpoint(saved: Store) -> None:
    assert saved.load() == 30
    assert not saved.events("checkpoint_rejected")


def test_a_corrupted_body_is_rejected_for_its_hash_and_the_previous_one_loaded(saved: Store) -> None:
    newest = saved.pointer()["checkpoints"][0]
    damaged = bytearray(body(30))
    damaged[5] ^= 0xFF
    saved.s3.put(saved.bucket, newest["key"], bytes(damaged))
    assert saved.load() == 20
    (rejected,) = saved.events("checkpoint_rejected")
    assert rejected["key"] == newest["key"] and "sha256" in rejected["reason"]


def test_a_truncated_body_is_rejected(saved: Store) -> None:
    newest = saved.pointer()["checkpoints"][0]
    saved.s3.put(saved.bucket, newest["key"], body(30)[:100])
    assert saved.load() == 20
    assert "size" in saved.events("checkpoint_rejected")[0]["reason"]


def test_a_pointer_with_a_wrong_hash_is_not_trusted(saved: Store) -> None:
    pointer = saved.pointer()
    pointer["checkpoints"][0]["sha256"] = "0" * 64
    saved.s3.put(saved.bucket, saved.store.pointer_key, json.dumps(pointer).encode())
    assert saved.load() == 20
    assert "sha256" in saved.events("checkpoint_rejected")[0]["reason"]


def test_a_newer_body_without_a_pointer_is_ignored(saved: Store) -> None:
    # What an upload cut off before the pointer write leaves behind.
    orphan = f"{saved.prefix}/objects/step-000000040-deadbeef0000.pt"
    saved.s3.put(saved.bucket, orphan, body(40))
    assert saved.load() == 30
    assert not saved.events("checkpoint_rejected")


def test_a_body_that_hashes_right_but_does_not_decode_is_rejected(s3: S3) -> None:
    st = Store(s3)
    st.store.save(10, body(10))
    st.store.save(20, b"garbage that was hashed and uploaded intact")
    assert st.load() == 10
    assert "does not decode" in st.events("checkpoint_rejected")[0]["reason"]


def test_an_unreadable_pointer_means_a_fresh_start_with_the_reason(saved: Store) -> None:
    saved.s3.put(saved.bucket, saved.store.pointer_key, b'{"schema": 1, "checkpoints": [{"key"')
    assert saved.load() is None
    assert "pointer unreadable" in saved.events("checkpoint_rejected")[0]["reason"]
    assert saved.events("fresh_start")[0]["reason"] == "pointer unreadable"


def test_when_every_checkpoint_is_bad_the_run_starts_from_zero(saved: Store) -> None:
    for entry in saved.pointer()["checkpoints"]:
        saved.s3.put(saved.bucket, entry["key"], b"x")
    assert saved.load() is None
    assert len(saved.events("checkpoint_rejected")) == KEEP
    assert saved.events("fresh_start")[0]["reason"] == "no checkpoint in the pointer verified"


def test_no_pointer_means_a_fresh_start(s3: S3) -> None:
    st = Store(s3)
    assert st.load() is None
    assert st.events("fresh_start")[0]["reason"] == "no checkpoint yet"


def test_only_the_last_few_bodies_are_kept(s3: S3) -> None:
    st = Store(s3)
    for step in range(10, 60, 10):
        st.store.save(step, body(step))
    assert [e["step"] for e in st.pointer()["checkpoints"]] == [50, 40, 30]
    assert len(s3.keys(st.bucket, f"{st.prefix}/objects/")) == KEEP


class _Truncating:
    """An S3 client whose body uploads arrive short (a proxy cut the stream)."""

    def __init__(self, real) -> None:
        self._real = real
        self.exceptions = real.exceptions

    def put_object(self, **kw):
        if kw["Key"].endswith(".pt"):
            kw = {**kw, "Body": kw["Body"][:10]}
            kw.pop("ChecksumAlgorithm", None)
        return self._real.put_object(**kw)

    def __getattr__(self, name):
        return getattr(self._real, name)


class _PointerWriteFails(_Truncating):
    def put_object(self, **kw):
        if kw["Key"].endswith("latest.json"):
            raise ConnectionError("network gone before the pointer write")
        return self._real.put_object(**kw)


def test_a_save_whose_upload_does_not_verify_leaves_the_pointer_alone(s3: S3) -> None:
    st = Store(s3)
    st.store.save(10, body(10))
    broken = CheckpointStore(_Truncating(s3.client), st.bucket, st.prefix, JsonLog(io.StringIO()))
    with pytest.raises(IOError, match="S3 holds 10 bytes"):
        broken.save(20, body(20))
    assert [e["step"] for e in st.pointer()["checkpoints"]] == [10]
    assert st.load() == 10


def test_a_save_cut_off_before_the_pointer_write_is_never_loaded(s3: S3) -> None:
    st = Store(s3)
    st.store.save(10, body(10))
    broken = CheckpointStore(_PointerWriteFails(s3.client), st.bucket, st.prefix, JsonLog(io.StringIO()))
    with pytest.raises(ConnectionError):
        broken.save(20, body(20))
    assert len(s3.keys(st.bucket, f"{st.prefix}/objects/")) == 2   # the body is there ...
    assert st.load() == 10                                          # ... but never loaded
