"""Scheduled collection of the vector store's size (EventBridge rule, lib/vector-database/vector-store-metrics.ts).

Logs in with IAM authentication as DB_USER (``docai_metrics``: no grant on any table), reads the chunk
table's bytes, HNSW index bytes, live rows and dead tuples, and emits them as one EMF line. The
connection is closed before returning: an Aurora Serverless v2 instance with minimum 0 ACU pauses
only when no user connection is open
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html),
so a warm container must not hold one between runs.

Event: anything (the schedule's). Result: {"tableBytes", "indexBytes", "rows", "deadTuples"}.
"""
from __future__ import annotations

import sys
from typing import Any

from docai_shared import db, vector_metrics
from docai_shared.observability import Logger

log = Logger("vector-metrics")


def handler(event: Any = None, context: Any = None) -> dict:
    conn = db.connect_from_env()
    try:
        size = vector_metrics.emit(conn, sys.stdout, {"source": "schedule"})
    finally:
        conn.close()
    log.info("vector store measured", rows=size.rows, tableBytes=size.table_bytes, indexBytes=size.index_bytes, deadTuples=size.dead_tuples)
    return {"tableBytes": size.table_bytes, "indexBytes": size.index_bytes, "rows": size.rows, "deadTuples": size.dead_tuples}
