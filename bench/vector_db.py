"""Vector store benchmark: inserts N chunks of dimension D through the real write path
(docai_shared.db.upsert_document), then runs M filtered top-k searches as a tier-restricted reader.
Prints rows/s and p50/p95 query latency. Runs against PGlite + pgvector (WASM, one backend), so the
numbers compare changes on this machine; they are not RDS numbers.

    npm run bench:vector -- --n 10000 --dim 768 --queries 200 --k 10
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "scripts"), os.path.join(HERE, "..", "lambda", "shared"), os.path.join(HERE, "..", "lambda", "migrations"), os.path.join(HERE, "..", "lambda", "tests")]

from cli_args import StrictParser  # noqa: E402
from docai_shared.db import ACCESS_TIERS, ChunkRecord, DocumentVersion, search, upsert_document  # noqa: E402
from migrations_runner import apply_migrations  # noqa: E402
from pglite import connect, pglite_server  # noqa: E402


def main() -> None:
    ap = StrictParser(prog="npm run bench:vector --", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="chunks to insert")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--chunks-per-doc", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    vec = lambda: [rnd.gauss(0, 1) for _ in range(a.dim)]

    with pglite_server() as port:
        conn = connect(port)
        apply_migrations(conn, {"EMBEDDING_DIMENSION": a.dim, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
        docs = (a.n + a.chunks_per_doc - 1) // a.chunks_per_doc
        t0 = time.perf_counter()
        inserted = 0
        for d in range(docs):
            n = min(a.chunks_per_doc, a.n - inserted)
            doc = DocumentVersion("bench", f"doc-{d}.pdf", "v1", "01", ACCESS_TIERS[d % 4], document_type=("contract", "invoice", "memo")[d % 3], business_unit=("legal", "finance")[d % 2])
            upsert_document(conn, doc, [ChunkRecord(i, f"chunk {i} of doc {d}", 300, vec()) for i in range(n)], role="docai_writer")
            inserted += n
        insert_s = time.perf_counter() - t0
        conn.run("ANALYZE chunks")

        latencies, returned = [], []
        for q in range(a.queries):
            filters = {"document_type": ("contract", "invoice", "memo")[q % 3]}
            t = time.perf_counter()
            hits = search(conn, vec(), k=a.k, role="docai_reader_confidential", **filters)
            latencies.append((time.perf_counter() - t) * 1000)
            returned.append(len(hits))
        conn.close()

    lat = sorted(latencies)
    p = lambda x: lat[min(len(lat) - 1, int(round(x / 100 * (len(lat) - 1))))]
    print(f"vector-db benchmark (PGlite {a.n} chunks x dim {a.dim}, HNSW m=16 ef_construction=64; estimate for this machine only)")
    print(f"  insert: {inserted} chunks in {insert_s:.1f} s = {inserted / insert_s:,.0f} rows/s (one transaction per document of {a.chunks_per_doc} chunks, index maintained on insert)")
    print(f"  search: {a.queries} filtered top-{a.k} queries as docai_reader_confidential: p50 {p(50):.1f} ms, p95 {p(95):.1f} ms, mean {statistics.mean(lat):.1f} ms")
    print(f"  rows returned per query: min {min(returned)}, max {max(returned)} (k = {a.k})")


if __name__ == "__main__":
    main()
