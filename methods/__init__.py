"""Pluggable test-time methods: base, best-of-n, reno, and what installed packages add."""

from methods.api import Job, Method, Sample, load_method, method, methods

__all__ = ["Job", "Method", "Sample", "load_method", "method", "methods"]
