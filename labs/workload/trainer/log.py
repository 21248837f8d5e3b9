"""Structured progress: one JSON object per line on stdout, each with ``ts`` and ``event``."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any


class JsonLog:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout

    def event(self, event: str, **fields: Any) -> None:
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        self._stream.write(json.dumps(record, default=str, sort_keys=False) + "\n")
        self._stream.flush()
