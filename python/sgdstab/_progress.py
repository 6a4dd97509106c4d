"""Progress display: the library's phases and steps, shown by tqdm when it is installed, else as
lines on stderr.

A progress object has three methods, called from the calling thread between computation steps
(the computation itself runs with the GIL released):

- ``begin(label: str, total: int)``: a phase with ``total`` steps begins;
- ``advance(steps: int, message: str)``: ``steps`` more steps are done;
- ``end()``: the phase is over.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional, TextIO


class StderrProgress:
    """One line per phase and at most one line a second per phase on a text stream."""

    def __init__(self, stream: Optional[TextIO] = None, interval: float = 1.0):
        self._stream = stream
        self._interval = interval
        self._label = ""
        self._total = 0
        self._done = 0
        self._last = 0.0

    def _write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"sgdstab: {text}", file=stream, flush=True)

    def begin(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        self._last = time.monotonic()
        self._write(f"{label}: 0/{total}")

    def advance(self, steps: int, message: str) -> None:
        self._done += steps
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            tail = f" {message}" if message else ""
            self._write(f"{self._label}: {self._done}/{self._total}{tail}")

    def end(self) -> None:
        self._write(f"{self._label}: done ({self._done}/{self._total})")


class TqdmProgress:
    """A tqdm bar per phase."""

    def __init__(self) -> None:
        import tqdm.auto  # type: ignore[import-untyped]

        self._tqdm = tqdm.auto.tqdm
        self._bar: Any = None

    def begin(self, label: str, total: int) -> None:
        self.end()
        self._bar = self._tqdm(total=total, desc=label, leave=False)

    def advance(self, steps: int, message: str) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            if message:
                self._bar.set_postfix_str(message, refresh=False)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make(progress: Any) -> Any:
    """The progress object for the ``progress=`` argument: ``False``/``None`` → none, ``True`` →
    tqdm if installed, else stderr lines; any object with ``begin``, ``advance`` and ``end`` is
    used as it is."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            return TqdmProgress()
        except ImportError:
            return StderrProgress()
    if all(callable(getattr(progress, m, None)) for m in ("begin", "advance", "end")):
        return progress
    raise TypeError(
        "progress: expected a bool or an object with begin(label, total), advance(steps, message) "
        f"and end() methods, got {type(progress).__name__}"
    )
