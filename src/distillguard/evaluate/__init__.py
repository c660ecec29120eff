"""Evaluation: a scan's results against ground truth, with baselines users run today."""

from __future__ import annotations

from typing import Any

from distillguard.evaluate.results import EvaluationError

__all__ = ["EvaluationError", "evaluate"]


def __getattr__(name: str) -> Any:
    # scikit-learn takes seconds to import: load the evaluation only when it is used.
    if name == "evaluate":
        from distillguard.evaluate.run import evaluate

        return evaluate
    raise AttributeError(name)
