"""Durable files: whole or not at all, and one writer per folder.

- ``atomic_write_bytes`` / ``atomic_write_text``: a temporary file beside the target, fsync'd,
  then ``os.replace``; a kill leaves the old file or the new one, never half of one. Every such
  write passes ``bench.faults.write_point`` (the tests' kill and full-disk switches).
- ``remove_temporaries``: what killed writes left behind, removed by the next writer.
- ``hold``: an advisory lock on ``<folder>/.lock``; ``bench run`` (rank 0 under torchrun),
  ``bench evaluate`` and ``bench train`` hold it while they write, and a second process asking
  for it is refused in one line. The shards of a run (``bench run --shard I/N``) write one folder
  together: each holds ``.lock`` shared and its own ``.lock-shard-<i>-of-<n>``, so shards run side
  by side while the same shard twice, or a shard beside an unsharded writer, is refused. The lock
  is the kernel's (``flock``; over NFS, the server's lock), so a killed process releases it; where
  ``fcntl`` does not exist (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from bench.errors import ResultsError
from bench.faults import write_point

UMASK = os.umask(0)
os.umask(UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and os.replace: never half a file. The
    file gets the permissions a plain open() would give (mkstemp's are owner-only)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as f:
            write_point(torn=lambda: (f.write(data[: len(data) // 2]), f.flush()))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path) -> None:
    """Delete the temporary files that writes killed in ``folder`` left (``atomic_write_bytes``
    names them ``.<name>.<random>.tmp``); call it holding the folder's lock."""
    for stale in folder.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def hold(folder: Path, what: str = "--out", shard: str | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the block, or raise a one-line error if another process has it.
    With ``shard`` (a ``Shard.name``): the folder's lock shared with the other shards, and the
    shard's own lock alone."""
    if fcntl is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        fd = os.open(Path(folder) / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        stack.callback(os.close, fd)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shard else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsError(f"another bench process is writing {what} '{folder}'; wait for it to finish "
                               "(a killed one lets go at once), or choose another folder") from None
        if shard:
            own = os.open(Path(folder) / f".lock-{shard}", os.O_RDWR | os.O_CREAT, 0o666)
            stack.callback(os.close, own)
            try:
                fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ResultsError(f"another bench process is making {shard.replace('-', ' ')} of {what} "
                                   f"'{folder}'; wait for it to finish (a killed one lets go at once)") from None
        yield
