"""The model gateway (issue "Model gateway"): providers, retries and breaker, fallback, token
budgets, response cache, prompt versions and guardrails for every model call. See gateway.py."""
from docai_shared.gateway.errors import BudgetExceeded, GatewayConfigError, GuardrailUnavailable
from docai_shared.gateway.gateway import AnswerRequest, AnswerResult, GatewayConfig, ModelGateway, WorkflowConfig
from docai_shared.gateway.resilience import CircuitBreaker, Deadline, RetryPolicy

__all__ = [
    "AnswerRequest", "AnswerResult", "BudgetExceeded", "CircuitBreaker", "Deadline", "GatewayConfig", "GatewayConfigError",
    "GuardrailUnavailable", "ModelGateway", "RetryPolicy", "WorkflowConfig",
]
