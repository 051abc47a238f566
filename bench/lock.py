"""One process writes a folder at a time: an advisory lock on ``<folder>/.lock``.

``bench run`` (rank 0 under torchrun), ``bench evaluate`` and ``bench train`` hold it while they
write; a second process that asks for it is refused in one line. The lock is the kernel's
(``flock``), so a killed process releases it: it never needs cleaning up. Where ``fcntl`` does
not exist (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from bench.errors import ResultsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def hold(folder: Path, what: str = "--out") -> Iterator[None]:
    """Hold ``folder``'s lock for the block, or raise a one-line error if another process has it."""
    if fcntl is None:
        yield
        return
    fd = os.open(Path(folder) / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsError(f"another bench process is writing {what} '{folder}'; wait for it to finish "
                               "(a killed one lets go at once), or choose another folder") from None
        yield
    finally:
        os.close(fd)
