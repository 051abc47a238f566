"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

import difflib


class BenchError(Exception):
    """A problem the user can fix: the message names the bad value and the fix."""


class UnknownNameError(BenchError):
    """A plugin name (method, model, reward, suite) that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean: {close[0]}?" if close else f" Known: {', '.join(sorted(known))}."
        super().__init__(f"unknown {kind} '{name}'.{hint}")
        self.kind, self.name = kind, name


class ConfigError(BenchError):
    """A malformed or inconsistent setting (bench.toml, CLI flag, --set)."""


class SuiteError(BenchError):
    """A prompt suite that cannot be read, downloaded or verified."""


class WeightsError(BenchError):
    """Model weights that cannot be loaded (not cached offline, wrong revision, ...)."""


class ResultsError(BenchError):
    """A results folder that cannot be written or does not match the run."""
