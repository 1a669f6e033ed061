"""Retrieval as the caller's tier: the only query-path function inside the VPC.

Invoked (never through the API) by the query function with the tier it took from the caller's
verified identity. It logs in to the database as that tier's reader role with an IAM token
(``docai_reader_<tier>``; its role may connect only as reader users), so row-level security in the
database decides which chunks are visible: a ``public`` caller cannot see a ``confidential`` chunk
whatever the request says.

Event: {"tier": "internal", "embedding": [...], "k": 8, "filters": {"document_type": ..., "date_from": ..., "date_to": ...}}
Result: {"hits": [{"chunkId", "key", "versionId", "page", "heading", "score", "text", "tier"}]}
"""
from __future__ import annotations

import os
from datetime import date
from typing import Any

from docai_shared import db
from docai_shared.errors import PermanentError
from docai_shared.observability import Logger, Metrics

_connections: dict[str, Any] = {}
log = Logger("retrieve")


def _connection(tier: str) -> Any:
    if tier not in _connections:
        _connections[tier] = db.connect_from_env_as(f"docai_reader_{tier}")
    return _connections[tier]


def handler(event: dict, context: Any = None) -> dict:
    tier = event.get("tier")
    if tier not in db.ACCESS_TIERS:
        raise PermanentError(f"tier must be one of {', '.join(db.ACCESS_TIERS)}, received {tier!r}")
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
        hits = db.search(_connection(tier), event["embedding"], k=k, role=f"docai_reader_{tier}", embedding_model=os.environ.get("EMBEDDING_MODEL") or None, **filters)
    except Exception:
        _connections.pop(tier, None)  # a broken connection is not reused
        raise
    metrics.add("RetrievedChunks", len(hits))
    metrics.flush()
    return {
        "hits": [
            {"chunkId": f"{h.document_id}:{h.chunk_index}", "key": h.key, "versionId": h.version_id, "page": h.metadata.get("page"),
             "heading": h.metadata.get("heading"), "score": round(1.0 - h.distance, 6), "text": h.text, "tier": h.access_tier}
            for h in hits
        ]
    }
