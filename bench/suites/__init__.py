"""Prompt suites: prompts with per-prompt metadata."""

from bench.suites.base import Prompt, Suite, suite, suites
from bench.suites.resolve import load_suite

__all__ = ["Prompt", "Suite", "load_suite", "suite", "suites"]
