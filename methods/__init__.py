"""Pluggable test-time methods: base, best-of-n, reno, and what installed packages add."""

from methods.base import Job, Method, MethodInfo, Prepared, Sample, load_method, method, method_info, methods

__all__ = ["Job", "Method", "MethodInfo", "Prepared", "Sample", "load_method", "method", "method_info", "methods"]
