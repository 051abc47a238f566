"""Evaluators: non-differentiable quality judgements of finished images."""

from bench.evaluators.base import Evaluator, Quality, evaluator, evaluators, load_evaluator, qualities

__all__ = ["Evaluator", "Quality", "evaluator", "evaluators", "load_evaluator", "qualities"]
