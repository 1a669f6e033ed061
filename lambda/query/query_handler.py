"""The query API's handler (API Gateway REST, Lambda proxy integration): a thin adapter over
``query_service.QueryService`` (what it does, step by step, is documented there).

One service per Lambda execution environment, built from the environment on the first request:
EMBEDDING_ENDPOINT, EMBEDDING_INFERENCE_COMPONENT, EMBEDDING_DIMENSION, RETRIEVE_FUNCTION,
AUDIT_BUCKET, TIER_GROUPS (JSON group -> tier), IAM_CALLER_TIER, DEFAULT_TOP_K, MAX_TOP_K,
MODEL_TIMEOUT_SECONDS, EMBEDDING_USD_PER_MILLION_TOKENS, GATEWAY_* (ModelGateway). Tests and the
load server build their own service with injected clients instead (``use``).
"""
from __future__ import annotations

from typing import Any

from query_service import QueryService

_service: QueryService | None = None


def use(service: QueryService | None) -> None:
    """Installs the service the handler serves with (None: built from the environment on next use)."""
    global _service
    _service = service


def handler(event: dict, context: Any = None) -> dict:
    global _service
    if _service is None:
        _service = QueryService.from_env()
    return _service.handle(event, context)
