"""Size of the vector store: the chunk table's bytes (heap, TOAST and every index), its HNSW index's
bytes, live rows and dead tuples, read from PostgreSQL's catalog and statistics and emitted as EMF
(VectorTableBytes, VectorIndexBytes, VectorRows, VectorDeadTuples; only the deployment dimensions,
so each is one custom metric per deployment).

Nothing here reads a chunk: the size functions and pg_stat_user_tables need no privilege on the table
(https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-DBSIZE,
https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ALL-TABLES-VIEW), so
the scheduled collector logs in as ``docai_metrics``, a role with no grant on any table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from docai_shared import contract
from docai_shared.observability import Metrics, emf_line

METRICS_USER = "docai_metrics"
CHUNK_TABLE = "chunks"

# pg_relation_size of every HNSW index on the table (a re-embedding may build a second one beside
# the first); n_live_tup / n_dead_tup are the statistics system's counts, which autovacuum acts on.
_SQL = """
SELECT pg_total_relation_size(c.oid),
       COALESCE((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
                 WHERE i.indrelid = c.oid AND am.amname = 'hnsw'), 0),
       COALESCE(s.n_live_tup, 0), COALESCE(s.n_dead_tup, 0)
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass(:table)
"""


class VectorStoreMissing(Exception):
    """The chunk table does not exist (the schema migrations have not run)."""


@dataclass(frozen=True)
class VectorStoreSize:
    table_bytes: int
    index_bytes: int
    rows: int
    dead_tuples: int

    @property
    def dead_tuple_percent(self) -> float:
        total = self.rows + self.dead_tuples
        return 100.0 * self.dead_tuples / total if total else 0.0

    def emf(self, properties: dict[str, Any] | None = None) -> str:
        metrics = {"VectorTableBytes": (float(self.table_bytes), "Bytes"), "VectorIndexBytes": (float(self.index_bytes), "Bytes"),
                   "VectorRows": (float(self.rows), "Count"), "VectorDeadTuples": (float(self.dead_tuples), "Count")}
        return emf_line(metrics, {}, properties)


def measure(conn: Any, table: str = CHUNK_TABLE) -> VectorStoreSize:
    """The sizes now. This backend's own pending statistics (a Store's inserts on this connection) are
    flushed first, so they count; other backends flush theirs within a second of going idle."""
    conn.run("SELECT pg_stat_force_next_flush()")
    rows = conn.run(_SQL, table=table)
    if not rows:
        raise VectorStoreMissing(f"table {table!r} does not exist: apply the schema migrations first")
    total, index, live, dead = (int(v) for v in rows[0])
    return VectorStoreSize(total, index, live, dead)


def emit(conn: Any, stream: TextIO, properties: dict[str, Any] | None = None) -> VectorStoreSize:
    size = measure(conn)
    stream.write(size.emf(properties) + "\n")
    return size


def count_search(tier: str, workflow: object, stream: TextIO | None = None) -> str | None:
    """One VectorSearches line for a search as ``tier`` in ``workflow``. The dimension values are a
    closed set (the tiers, the contract's SEARCH_WORKFLOWS, else ``unknown``): no caller can mint a metric."""
    if tier not in contract.ACCESS_TIERS:
        raise ValueError(f"tier {tier!r} is not an access tier")
    search_metrics = Metrics(workflow if workflow in contract.SEARCH_WORKFLOWS else "unknown", stream)
    search_metrics.add("VectorSearches", 1)
    return search_metrics.flush(Tier=tier)


class Throttle:
    """At most one collection per ``min_interval_s`` per function instance: the after-Store collection
    rides on the Store's open connection, and a burst of Stores must not turn into a burst of catalog
    queries (the scheduled collection covers the gaps)."""

    def __init__(self, min_interval_s: float, clock: Callable[[], float] = time.monotonic):
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, received {min_interval_s}")
        self.min_interval_s, self.clock = min_interval_s, clock
        self.last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.last is not None and now - self.last < self.min_interval_s:
            return False
        self.last = now
        return True
