"""Errors the gateway raises to its callers. Everything else is handled inside (retried, degraded)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BudgetExceeded(Exception):
    """A token or spend budget has no room for this request. Answered 429 with these fields."""

    workflow: str
    scope: str  # e.g. "workflow/day", "caller/day"
    unit: str  # "tokens" or "usd"
    limit: float
    used: float
    resets_at: str  # ISO 8601, UTC
    # What the caller's audit record needs (verdicts, attempts), attached by the gateway as it raises.
    result: Any = field(default=None, init=False, repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.workflow} {self.scope} budget of {self.limit:g} {self.unit} is used up ({self.used:g} used); it resets at {self.resets_at}"

    def as_dict(self) -> dict:
        return {"workflow": self.workflow, "scope": self.scope, "unit": self.unit, "limit": self.limit, "used": self.used, "resetsAt": self.resets_at}


class GuardrailUnavailable(Exception):
    """The guardrail could not be applied (after retries): the request is refused rather than unscreened."""

    # What the caller's audit record needs (verdicts, attempts), attached by the gateway as it raises.
    result: Any = None


class GatewayConfigError(ValueError):
    """The gateway's configuration (environment) is inconsistent: names the field and the fix."""
