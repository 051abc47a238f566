"""Load model components from the Hugging Face hub at a pinned revision, failing in one line.

Every real adapter loads its parts (UNet/transformer, VAE, text encoders, tokenizers, scheduler)
through :func:`load`, so a missing download, an offline machine or an unknown revision always ends
in one :class:`~bench.errors.WeightsError` that names the model id, the revision and the fix.

``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_HOME`` are read when a model is loaded (not when
``huggingface_hub`` is imported), so a command or a test may set them at any time.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import torch
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, HFValidationError, RevisionNotFoundError

from bench.errors import WeightsError

try:  # network errors that huggingface_hub may let through when the hub is unreachable
    import httpx

    _NETWORK_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError,)
except ImportError:  # pragma: no cover - httpx is a huggingface_hub dependency
    _NETWORK_ERRORS = ()

_LOAD_ERRORS = (OSError, EntryNotFoundError, HFValidationError, *_NETWORK_ERRORS)
_TRUE = {"1", "on", "yes", "true"}


def offline() -> bool:
    """Whether the user asked for no network access (``HF_HUB_OFFLINE=1``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def cache_dir() -> str | None:
    """The hub cache the environment names now (``HF_HUB_CACHE``, else ``$HF_HOME/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None  # the library default


def download_hint(repo_id: str, revision: str, filename: str | None = None) -> str:
    return f"hf download {repo_id}{' ' + filename if filename else ''} --revision {revision}"


def weights_error(repo_id: str, revision: str, error: BaseException, filename: str | None = None) -> WeightsError:
    """One line: which weights, why, and the command that fixes it."""
    what = f"weights for {repo_id}{'/' + filename if filename else ''} (revision {revision})"
    fix = f"`{download_hint(repo_id, revision, filename)}`"
    if isinstance(error, GatedRepoError):
        return WeightsError(f"{what} are gated: accept the license on https://huggingface.co/{repo_id}, "
                            f"log in with `hf auth login`, then run {fix}")
    if isinstance(error, RevisionNotFoundError):
        return WeightsError(f"{what}: the revision does not exist on the hub; pass a valid `revision` option")
    if offline():
        return WeightsError(f"{what} are not in the local cache and HF_HUB_OFFLINE=1; "
                            f"with the hub reachable, run {fix}")
    return WeightsError(f"{what} could not be loaded (not cached and the hub unreachable, "
                        f"or an incomplete download); run {fix}")


def _dtype_kwarg(cls: Any) -> str:
    """diffusers takes ``torch_dtype``; transformers renamed it ``dtype`` in 4.56."""
    if cls.__module__.startswith("transformers"):
        import transformers
        from packaging.version import Version

        if Version(transformers.__version__).release >= (4, 56):
            return "dtype"
    return "torch_dtype"


def load(cls: Any, repo_id: str, revision: str, subfolder: str | None = None, *,
         dtype: torch.dtype | None = None, **kwargs: Any) -> Any:
    """``cls.from_pretrained(repo_id, subfolder=..., revision=...)`` with one-line errors.

    Works for diffusers models and schedulers and for transformers models and tokenizers;
    ``dtype`` is passed under the name the library expects. ``trust_remote_code`` is never set.
    Inside ``builds.weights("random", device)`` the published architecture is built from its
    shipped config instead, with random weights (see :mod:`bench.loading.builds`).
    Load tokenizers with their concrete class (as the repo's model_index.json names it):
    transformers 5's ``AutoTokenizer`` also looks for a ``config.json`` that tokenizer subfolders
    lack, which fails offline even with the whole repo downloaded.
    """
    from bench.loading import builds

    if builds.random_weights():
        return builds.build(cls, repo_id, subfolder, dtype=dtype)
    if subfolder is not None:
        kwargs["subfolder"] = subfolder
    if dtype is not None:
        kwargs[_dtype_kwarg(cls)] = dtype
    try:
        with warnings.catch_warnings():  # diffusers still passes an argument huggingface_hub deprecated
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            return cls.from_pretrained(
                repo_id, revision=revision, cache_dir=cache_dir(), local_files_only=offline(), **kwargs
            )
    except _LOAD_ERRORS as e:
        raise weights_error(repo_id, revision, e) from None


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes. Hashing a multi-GB checkpoint takes seconds, so the digest is
    remembered in ``$BENCH_CACHE/sha256.json`` under the file's real path, size and modification
    time, and recomputed whenever one of them changes (never read off a file's name)."""
    import hashlib
    import json
    from pathlib import Path

    from bench.files import atomic_write_text
    from bench.suites.download import cache_root

    real = Path(path).resolve()
    stat = real.stat()
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = cache_root() / "sha256.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return known[key]
    h = hashlib.sha256()
    with open(real, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    digest = h.hexdigest()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, json.dumps({**(known if isinstance(known, dict) else {}), key: digest}))
    except OSError:
        pass  # a read-only cache only costs the hashing next time
    return digest


def verify_blob(path: str | os.PathLike, repo_id: str, filename: str) -> None:
    """A hub-cache file stored as an LFS blob is named by the SHA-256 the hub declared for it:
    its bytes must hash to that name, or it was damaged or replaced after the download."""
    import re
    from pathlib import Path

    real = Path(path).resolve()
    if re.fullmatch(r"[0-9a-f]{64}", real.name) and file_sha256(real) != real.name:
        raise WeightsError(f"{filename} of {repo_id} in the hub cache does not hash to the SHA-256 the hub declared "
                           f"({real.name[:12]}…); delete {real} and download it again")


def download(repo_id: str, filename: str, revision: str) -> str:
    """The local path of one file of a hub repo at a pinned revision (downloaded unless cached
    or offline), with the same one-line errors as :func:`load`."""
    from huggingface_hub import hf_hub_download

    from bench.loading import builds

    if builds.random_weights():  # a loader that maps a checkpoint file must skip it in a random build
        raise WeightsError(f"{repo_id}/{filename} is a weights file: a build with --weights random reads none")
    try:
        path = hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir(),
                               local_files_only=offline())
    except _LOAD_ERRORS as e:
        raise weights_error(repo_id, revision, e, filename) from None
    verify_blob(path, repo_id, filename)
    return path
