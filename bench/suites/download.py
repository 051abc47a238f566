"""Pinned prompt files: downloaded once, cached, and sha256-checked on every load.

A registered suite names its files as :class:`RemoteFile` (repository, commit, path,
sha256). ``load_file`` returns a file's bytes from one of two places:

- a local copy the user passed (``--suite NAME:PATH``): a file, or a directory holding
  the file (by its name, or by its path inside the repository);
- the cache, ``$BENCH_CACHE`` or ``~/.cache/bench``, at
  ``suites/<family>/<commit>/<filename>``; on a miss the file is downloaded from
  ``https://raw.githubusercontent.com/<repo>/<commit>/<path>`` and written atomically.

Whatever the source, the bytes must match the pinned sha256, or a one-line SuiteError says
which file, both hashes and the fix. With ``HF_HUB_OFFLINE=1`` or ``BENCH_OFFLINE=1`` the
network is never tried. ``http_get`` is the only network call (tests replace it).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bench.errors import SuiteError
from bench.files import atomic_write_bytes
from bench.suites.plain import one_line, read_bytes

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class RemoteFile:
    family: str  # cache folder shared by the suites built from this repository
    repo: str  # owner/name on GitHub
    commit: str
    path: str  # inside the repository
    sha256: str

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"

    @property
    def filename(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class Loaded:
    data: bytes
    source: str  # the URL, or the local file it was read from


def http_get(url: str, timeout: float = TIMEOUT_S) -> bytes:
    """The body of ``url``; raises OSError / HTTPException on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": "bench (prompt suites)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed https URL
        return response.read()


def offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in _TRUE for k in ("HF_HUB_OFFLINE", "BENCH_OFFLINE"))


def cache_root() -> Path:
    return Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "bench")


def cache_path(remote: RemoteFile) -> Path:
    return cache_root() / "suites" / remote.family / remote.commit / remote.filename


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(data: bytes, remote: RemoteFile, what: str, fix: str) -> None:
    actual = sha256(data)
    if actual != remote.sha256:
        raise SuiteError(f"{what} has sha256 {actual[:12]}..., expected {remote.sha256[:12]}... "
                         f"(the pinned {remote.filename}); {fix}")


def locate(path: Path, remote: RemoteFile) -> Path:
    """The local copy of ``remote`` at ``path``: the file itself, or inside a directory."""
    if not path.is_dir():
        return path  # a file (or a missing path: reading it gives the error)
    for candidate in (path / remote.filename, path / remote.path):
        if candidate.is_file():
            return candidate
    raise SuiteError(f"{path} holds no {remote.filename} (nor {remote.path}); "
                     f"pass the directory that holds it, or download it from {remote.url}")


def load_local(path: Path, remote: RemoteFile) -> Loaded:
    file = locate(Path(path), remote)
    data = read_bytes(file)
    _check(data, remote, str(file), f"pass the canonical file from {remote.url}")
    return Loaded(data, str(file.resolve()))


def fetch(remote: RemoteFile, suite: str, hint: str | None = None) -> Loaded:
    """``remote`` from the cache, downloading it on a miss; ``suite`` names it in messages, ``hint``
    says where else the user can get it (default: a local copy passed as --suite SUITE:PATH)."""
    target = cache_path(remote)
    if target.exists():
        data = read_bytes(target)
        _check(data, remote, f"cached file {target}", f"delete {target} to download it again")
        return Loaded(data, remote.url)
    hint = hint or f"pass a local copy as --suite {suite}:PATH"
    if offline():
        raise SuiteError(f"{remote.filename} for suite '{suite}' is not cached at {target} and "
                         f"downloads are off (HF_HUB_OFFLINE/BENCH_OFFLINE); {hint} "
                         f"(the file is {remote.url})")
    log.info("downloading %s", remote.url)
    try:
        data = http_get(remote.url)
    except (OSError, http.client.HTTPException) as e:
        raise SuiteError(f"could not download {remote.url} ({one_line(e) or type(e).__name__}); "
                         f"check the network or {hint}") from None
    _check(data, remote, f"download {remote.url}", f"nothing was cached; retry, or {hint} "
           "with the canonical file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    except OSError as e:
        log.warning("could not cache %s at %s (%s); set BENCH_CACHE to a writable folder",
                    remote.filename, target, one_line(e))
    return Loaded(data, remote.url)


def load_file(remote: RemoteFile, suite: str, path: Path | None = None) -> Loaded:
    """The verified bytes of ``remote``: from the local copy at ``path``, else cache/download."""
    return load_local(path, remote) if path is not None else fetch(remote, suite)
