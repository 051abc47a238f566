"""Fault injection at write boundaries, for the tests that prove what survives a kill or a full disk.

Every durable write of a run, an evaluation or a training goes through ``write_point`` (the
atomic file writes of ``bench.running.records`` and the journal appends). Environment switches, read at
each write, make the N-th write of the process fail, deterministically rather than by timing:

- ``BENCH_DIE_AT_WRITE=N``: die there as a SIGKILL would (``os._exit(137)``, no cleanup);
  with ``BENCH_DIE_TORN=1`` half of that write reaches the disk first (a torn append, or half
  of an atomic write's temporary file).
- ``BENCH_FULL_AT_WRITE=N``: that write and every later one raise ``ENOSPC`` (a full disk).

Unset (always, outside tests), ``write_point`` only counts.
"""

from __future__ import annotations

import errno
import os
from typing import Callable

_count = 0


def write_point(torn: Callable[[], None] | None = None) -> None:
    """Called just before a durable write; ``torn`` writes half of it (for BENCH_DIE_TORN)."""
    global _count
    _count += 1
    die = os.environ.get("BENCH_DIE_AT_WRITE")
    if die and _count == int(die):
        if torn is not None and os.environ.get("BENCH_DIE_TORN") == "1":
            torn()
        os._exit(137)
    full = os.environ.get("BENCH_FULL_AT_WRITE")
    if full and _count >= int(full):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
