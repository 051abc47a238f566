"""Prompt suites: prompts with per-prompt metadata."""

from bench.suites.base import Prompt, Suite, load_suite, suite, suites

__all__ = ["Prompt", "Suite", "load_suite", "suite", "suites"]
