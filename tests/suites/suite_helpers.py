"""Helpers shared by the suite tests (a uniquely named module: tests/ may hold other conftests)."""

from __future__ import annotations

from pathlib import Path

# Reference copies of the upstream prompt files, beside the repository (never inside it).
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "suites"


def one_line_error(excinfo, *fragments: str) -> str:
    """The error text, checked to be one line holding every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message
