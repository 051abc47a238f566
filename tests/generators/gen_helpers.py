"""Constants and helpers for the model-adapter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY = ["sd-turbo-tiny", "sdxl-turbo-tiny", "sana-sprint-tiny", "flux-schnell-tiny"]
REAL = ["sd-turbo", "sdxl-turbo", "sana-sprint", "flux-schnell"]


def save_snapshot(cache: Path, repo_id: str, revision: str, parts: dict[str, tuple[Any, str | None]]) -> None:
    """Write components into ``cache`` the way the hub cache lays out ``repo_id`` at ``revision``.

    ``parts`` maps a subfolder ("" for the repo root) to (object with save_pretrained, variant).
    """
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    for subfolder, (obj, variant) in parts.items():
        kwargs = {"variant": variant} if variant else {}
        obj.save_pretrained(snapshot / subfolder, **kwargs)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
