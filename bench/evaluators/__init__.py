"""Evaluators: non-differentiable quality judgements of finished images."""

from bench.evaluators.base import Evaluator, evaluator, evaluators, load_evaluator

__all__ = ["Evaluator", "evaluator", "evaluators", "load_evaluator"]
