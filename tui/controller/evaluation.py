"""The evaluator interface the controller calls each poll, and the point-check evaluator."""

from __future__ import annotations

from typing import Protocol

from tui.analysis.criteria import point_checks
from tui.config import Criteria
from tui.model import MetricsSnapshot, Verdict


class Evaluator(Protocol):
    def observe(self, snap: MetricsSnapshot, canary_weight: int | None) -> Verdict:
        """Take one poll's snapshot and return the verdict now."""

    def reset(self) -> None:
        """Forget the evidence (the canary weight changed: old counts no longer describe it)."""


class PointEvaluator:
    """Every criterion on the latest sample alone."""

    def __init__(self, criteria: Criteria) -> None:
        self.criteria = criteria

    def observe(self, snap: MetricsSnapshot, canary_weight: int | None) -> Verdict:
        return Verdict.combine(tuple(point_checks(self.criteria, snap)), at=snap.at)

    def reset(self) -> None:
        pass
