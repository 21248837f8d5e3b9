"""Ctrl-C and SIGTERM stop `up` and `down` promptly, and say how to carry on.

While a command runs inside :func:`interruptible`, SIGTERM is taken like Ctrl-C (SIGINT): the main
thread gets KeyboardInterrupt, the command sets its cancel event, each running terraform gets
SIGINT in its own process group (it stops, writes its state; see labctl.tf.runner.STOP_GRACE_S),
the worker threads return, the cohort lock is released on the way out, and :class:`Interrupted`
carries the one line the CLI prints with exit 130. Whatever an interrupted terraform had not saved
is found by the next `up` (labctl.ops.reconcile) or `down` (its sweep before destroying).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from labctl.errors import Interrupted


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interruptible(cancel: threading.Event, resume: str) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`Interrupted` (after ``cancel`` is set and the block's own
    cleanup has run); ``resume`` is the command that carries on, named in the message."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        yield
    except KeyboardInterrupt as exc:
        cancel.set()
        how = str(exc) or "SIGINT"
        raise Interrupted(f"interrupted ({how}): terraform was told to stop and saved its state; "
                          f"the cohort lock is released; run `{resume}` to carry on") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
