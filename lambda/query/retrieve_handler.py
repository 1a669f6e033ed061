"""Retrieval as the caller's tier: the only query-path function inside the VPC.

Invoked (never through the API) by the query function. The tier is not the query function's word:
with Cognito authorization (TIER_SOURCE=cognito) the event carries the caller's ID token and this
function verifies its signature against the user pool's keys (JWKS, in its environment), its issuer,
audience and expiry, and maps the token's groups to a tier with its own TIER_GROUPS; with IAM
authorization (TIER_SOURCE=iam) the tier is IAM_CALLER_TIER, the only reader user its role may
connect as. A ``tier`` in the event must equal the derived one (else the call is refused), so a
query function that is buggy or compromised cannot raise a caller's tier. It logs in to the
database as that tier's reader role with an IAM token (``docai_reader_<tier>``), so row-level
security decides which chunks are visible.

Event: {"token": "<ID token>", "tier": "internal", "workflow": "answer", "embedding": [...], "k": 8, "filters": {"document_type": ..., "date_from": ..., "date_to": ...},
        "connectWaitSeconds": 12}
Result: {"hits": [{"chunkId", "key", "versionId", "page", "heading", "score", "text", "tier"}]}, or, when the database did
not accept a connection within the wait (an auto-paused database resuming), {"databaseResuming": {"retryAfterSeconds": n}}:
an answer, not a function error (a resume is expected, not a fault of this function).

``connectWaitSeconds``: how long the caller can wait for the connection (its own deadline); bounded here
by this invocation's remaining time, so the function answers before Lambda would time it out.
``workflow`` only labels the VectorSearches metric.
"""
from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from caller_token import TokenRejected, TokenVerifier, parse_jwks, tier_from_groups
from docai_shared import contract, db, vector_metrics
from docai_shared.errors import PermanentError
from docai_shared.observability import Logger, Metrics

_connections: dict[str, db.CachedConnection] = {}
log = Logger("retrieve")


class TierRefused(PermanentError):
    """The call carries no tier this function can derive, or a tier other than the derived one."""


def derived_tier(event: dict, env: Any = None) -> str:
    """The tier from the verified token (cognito) or the configured IAM tier (iam); fails closed."""
    env = os.environ if env is None else env
    source = env.get("TIER_SOURCE")
    if source == "cognito":
        verifier = TokenVerifier(parse_jwks(env.get("JWKS") or '{"keys": []}'), env.get("TOKEN_ISSUER", ""), tuple(json.loads(env.get("TOKEN_AUDIENCES") or "[]")))
        try:
            payload = verifier.verify(event.get("token"))
        except TokenRejected as e:
            raise TierRefused(f"caller token refused: {e}") from None
        tier = tier_from_groups(payload.get("cognito:groups", []), json.loads(env.get("TIER_GROUPS") or "{}"))
    elif source == "iam":
        tier = env.get("IAM_CALLER_TIER")
    else:
        raise TierRefused(f"TIER_SOURCE is {source!r}; the QueryApi construct sets cognito or iam")
    if tier not in db.ACCESS_TIERS:
        raise TierRefused("the caller's verified identity maps to no access tier")
    if event.get("tier") is not None and event.get("tier") != tier:
        raise TierRefused(f"the call names tier {str(event.get('tier'))[:20]!r}, the caller's verified identity maps to {tier!r}")
    return tier


# Kept for the answer after the wait: the function must return before Lambda stops it.
ANSWER_RESERVE_S = 1.5


def connect_wait_s(event: dict, context: Any) -> float:
    """The caller's wait (``connectWaitSeconds``, default one connect attempt) within this invocation's time."""
    try:
        wait = float(event.get("connectWaitSeconds", db.CONNECT_TIMEOUT_S))
    except (TypeError, ValueError):
        wait = db.CONNECT_TIMEOUT_S
    wait = min(max(wait, 1.0), db.CONNECT_TIMEOUT_S * 2)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        wait = min(wait, context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S)
    return max(1.0, wait)


def _connection(tier: str, wait_s: float | None = None) -> Any:
    """The tier's connection of this execution environment (replaced when idle too long: docai_shared.db.CachedConnection)."""
    return _connections.setdefault(tier, db.CachedConnection()).get(lambda: db.connect_from_env_as(f"docai_reader_{tier}", wait_s=wait_s))


def handler(event: dict, context: Any = None) -> dict:
    try:
        tier = derived_tier(event)
    except TierRefused as e:
        log.error("tier refused", reason=str(e))  # only a broken or compromised caller gets here
        raise
    filters = dict(event.get("filters") or {})
    for name in ("date_from", "date_to"):
        if filters.get(name):
            filters[name] = date.fromisoformat(filters[name])
    k = int(event.get("k", 8))
    metrics = Metrics(os.environ.get("WORKFLOW", "query"))
    try:
        # Logged in as the tier's role; SET LOCAL ROLE to the same role is a second, independent
        # guard (it cannot widen anything: the role is chosen from the fixed list in db.py).
        # Only chunks the question's model embedded: vectors of two models are not comparable.
        conn = _connection(tier, connect_wait_s(event, context))
        hits = db.search(conn, event["embedding"], k=k, role=f"docai_reader_{tier}", embedding_model=os.environ.get("EMBEDDING_MODEL") or None, **filters)
    except db.DatabaseResuming as e:
        log.warning("database resuming", tier=tier, error=str(e), retryAfterSeconds=e.retry_after_s)
        return {"databaseResuming": {"retryAfterSeconds": e.retry_after_s}}
    except Exception:
        _connections.pop(tier, None)  # a broken connection is not reused
        raise
    metrics.add("RetrievedChunks", len(hits))
    metrics.flush()
    # Query volume per tier and query workflow (VectorSearches; values from a closed set).
    if event.get("workflow") not in contract.SEARCH_WORKFLOWS:
        log.warning("search without a known workflow", workflow=str(event.get("workflow"))[:20])
    vector_metrics.count_search(tier, event.get("workflow"))
    return {
        "hits": [
            {"chunkId": f"{h.document_id}:{h.chunk_index}", "key": h.key, "versionId": h.version_id, "page": h.metadata.get("page"),
             "heading": h.metadata.get("heading"), "score": round(1.0 - h.distance, 6), "text": h.text, "tier": h.access_tier}
            for h in hits
        ]
    }
