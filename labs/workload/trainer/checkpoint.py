"""Checkpoints in S3 that are atomic and verified (boto3 only; the bytes are opaque here).

Layout under the team's prefix::

    <prefix>/objects/step-<step>-<random>.pt   checkpoint bodies; each key is written once
    <prefix>/latest.json                       the pointer: newest-first list of good ones

Saving uploads the body to a fresh unique key, verifies what S3 stored (size, and SHA-256 from
S3's own checksum, or by reading it back where the endpoint keeps none), and only then
rewrites the pointer, in one PUT, which S3 applies whole. A body whose upload was cut off is
therefore never named by the pointer, and a body is trusted only if its SHA-256 matches the
pointer's. Loading walks the pointer's entries newest first and takes the first whose bytes
verify and decode; anything rejected is logged with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Callable, TypeVar

from trainer.log import JsonLog

T = TypeVar("T")

POINTER_SCHEMA = 1
KEEP = 3  # entries kept in the pointer: a fallback when the newest body is damaged


@dataclass(frozen=True)
class Entry:
    key: str
    sha256: str
    size: int
    step: int
    written_at: float


class CheckpointStore:
    def __init__(self, s3: Any, bucket: str, prefix: str, log: JsonLog) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._log = log

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def pointer_key(self) -> str:
        return self._key("latest.json")

    # -- reading -------------------------------------------------------------------------

    def read_pointer(self) -> list[Entry] | None:
        """The pointer's entries (newest first); [] when there is none; None when unreadable."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self.pointer_key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return []
        try:
            doc = json.loads(body)
            if doc.get("schema") != POINTER_SCHEMA:
                raise ValueError(f"schema {doc.get('schema')!r}, expected {POINTER_SCHEMA}")
            return [Entry(**e) for e in doc["checkpoints"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._log.event("checkpoint_rejected", key=self.pointer_key,
                            reason=f"pointer unreadable: {type(exc).__name__}: {exc}")
            return None

    def load_latest(self, decode: Callable[[bytes], T]) -> tuple[T, Entry] | None:
        """Newest checkpoint that verifies and decodes, with its entry; None: start from zero."""
        entries = self.read_pointer()
        if not entries:
            reason = "no checkpoint yet" if entries == [] else "pointer unreadable"
            self._log.event("fresh_start", reason=reason, pointer=self.pointer_key)
            return None
        for entry in entries:
            problem = None
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=entry.key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                problem = "object missing"
            else:
                digest = hashlib.sha256(body).hexdigest()
                if len(body) != entry.size:
                    problem = f"size {len(body)} != {entry.size} recorded in the pointer"
                elif digest != entry.sha256:
                    problem = f"sha256 {digest[:16]}... != {entry.sha256[:16]}... recorded in the pointer"
            if problem is None:
                try:
                    return decode(body), entry
                except Exception as exc:  # noqa: BLE001 - any undecodable body is rejected
                    problem = f"does not decode: {type(exc).__name__}: {exc}"
            self._log.event("checkpoint_rejected", key=entry.key, step=entry.step, reason=problem)
        self._log.event("fresh_start", reason="no checkpoint in the pointer verified",
                        pointer=self.pointer_key, rejected=len(entries))
        return None

    # -- writing -------------------------------------------------------------------------

    def save(self, step: int, body: bytes) -> Entry:
        digest = hashlib.sha256(body)
        key = self._key(f"objects/step-{step:09d}-{uuid.uuid4().hex[:12]}.pt")
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                            ContentType="application/octet-stream")
        self._verify(key, body, digest)
        entry = Entry(key=key, sha256=digest.hexdigest(), size=len(body), step=step,
                      written_at=round(time.time(), 3))

        previous = self.read_pointer() or []
        kept = [entry] + [e for e in previous if e.key != key][: KEEP - 1]
        pointer = {"schema": POINTER_SCHEMA, "checkpoints": [asdict(e) for e in kept]}
        self._s3.put_object(Bucket=self.bucket, Key=self.pointer_key,
                            Body=json.dumps(pointer, indent=1).encode(),
                            ContentType="application/json")
        # Bodies that fell off the pointer are no longer a fallback; remove them (best effort).
        kept_keys = {e.key for e in kept}
        for old in previous:
            if old.key not in kept_keys:
                try:
                    self._s3.delete_object(Bucket=self.bucket, Key=old.key)
                except Exception:  # noqa: BLE001 - a leftover body costs storage, not safety
                    pass
        return entry

    def _verify(self, key: str, body: bytes, digest: "hashlib._Hash") -> None:
        head = self._s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        if head["ContentLength"] != len(body):
            raise IOError(f"uploaded {key}: S3 holds {head['ContentLength']} bytes, sent {len(body)}")
        stored = head.get("ChecksumSHA256")
        if stored and "-" not in stored:
            if stored != base64.b64encode(digest.digest()).decode():
                raise IOError(f"uploaded {key}: S3's SHA-256 differs from the checkpoint's")
            return
        # The endpoint keeps no full-object SHA-256: read the object back.
        again = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        if hashlib.sha256(again).digest() != digest.digest():
            raise IOError(f"uploaded {key}: the bytes read back differ from the checkpoint's")
