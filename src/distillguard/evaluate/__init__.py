"""Evaluation: a scan's results against ground truth, with baselines users run today."""

from distillguard.evaluate.results import EvaluationError
from distillguard.evaluate.run import evaluate

__all__ = ["EvaluationError", "evaluate"]
