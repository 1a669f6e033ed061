"""Vector store size benchmark: stores N chunks at the stage's embedding dimension and chunk size through
the real write path (the migrations, docai_shared.db.upsert_document), then prints what they take on
disk, measured the way the collector measures it (docai_shared.vector_metrics): the chunk table
(heap + TOAST + every index), its HNSW index, and the document rows, per chunk. PGlite is PostgreSQL
18 with pgvector 0.8: the page and tuple layout is PostgreSQL's own, so bytes per chunk carry over to
Aurora PostgreSQL's storage (an estimate: Aurora bills the volume's pages, autovacuum and bloat vary).

    npm run bench:vector-size -- [--stage pilot] [--n 4000] [--chunks-per-doc 30] [--dim <stage's>] [--chunk-tokens <stage's>]
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
sys.path[:0] = [os.path.join(REPO, "scripts"), os.path.join(REPO, "lambda", "shared"), os.path.join(REPO, "lambda", "migrations"), os.path.join(REPO, "lambda", "tests")]

from cli_args import StrictParser  # noqa: E402
from docai_shared.db import ACCESS_TIERS, ChunkRecord, DocumentVersion, upsert_document  # noqa: E402
from docai_shared.vector_metrics import measure  # noqa: E402
from migrations_runner import apply_migrations  # noqa: E402
from pglite import connect, pglite_server  # noqa: E402

# What the construct creates when the stage gives no HNSW options (lib/vector-database: m 16, efConstruction 64).
HNSW = {"HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64}
# Characters per token of English text for the chunker's tokenizer (a BERT WordPiece model): ~4.
CHARS_PER_TOKEN = 4
WORDS = ("the agreement party shall notice payment term invoice contract period service provider customer amount "
         "date section clause liability obligation termination confidential information written consent law "
         "governing delivery price total tax rate schedule annex report meeting board decision policy employee").split()


def stage_config(stage: str) -> dict:
    """The stage's embedding dimension and chunk size, from lib/config (the presets the app deploys)."""
    script = ("import { resolveStageConfig } from './lib/config';"
              f"const c = resolveStageConfig((k: string) => (k === 'stage' ? {json.dumps(stage)} : undefined));"
              "console.log(JSON.stringify({ dim: c.embedding.dimension, model: c.embedding.modelId, chunkTokens: c.pipeline.chunkTokens }));")
    out = subprocess.run([os.path.join(REPO, "node_modules", ".bin", "tsx"), "-e", script], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"npm run bench:vector-size: --stage {stage}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'config did not resolve'}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def text(rnd: random.Random, chars: int) -> str:
    # Zipf-like word frequencies: compresses about as well as prose (TOAST compresses long values).
    words, n = [], 0
    while n < chars:
        w = WORDS[min(len(WORDS) - 1, int(rnd.paretovariate(1.2)) - 1)] if rnd.random() < 0.8 else f"{rnd.choice(WORDS)}{rnd.randint(1, 9999)}"
        words.append(w)
        n += len(w) + 1
    return " ".join(words)[:chars]


def main() -> None:
    ap = StrictParser(prog="npm run bench:vector-size --", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--stage", default="pilot", help="stage preset whose embedding dimension and chunk size are used")
    ap.add_argument("--n", type=int, default=4000, help="chunks to store")
    ap.add_argument("--chunks-per-doc", type=int, default=30, help="chunks per document (npm run cost's default)")
    ap.add_argument("--dim", type=int, help="embedding dimension (default: the stage's)")
    ap.add_argument("--chunk-tokens", type=int, help="tokens per chunk (default: the stage's pipeline.chunkTokens)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    for name in ("n", "chunks_per_doc", "dim", "chunk_tokens"):
        v = getattr(a, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1, received {v}")
    cfg = stage_config(a.stage)
    dim, tokens = a.dim or cfg["dim"], a.chunk_tokens or cfg["chunkTokens"]
    rnd = random.Random(a.seed)

    with pglite_server() as port:
        conn = connect(port)
        apply_migrations(conn, {"EMBEDDING_DIMENSION": dim, **HNSW})
        empty = measure(conn)
        docs_empty = conn.run("SELECT pg_total_relation_size('documents') + pg_total_relation_size('document_versions')")[0][0]
        t0 = time.perf_counter()
        stored, text_bytes, d = 0, 0, 0
        while stored < a.n:
            n = min(a.chunks_per_doc, a.n - stored)
            doc = DocumentVersion("bench", f"dept/{d:06d}/report.pdf", f"v{d}", f"{d:016X}", ACCESS_TIERS[d % 4], content_hash=f"{d:064x}",
                                  document_type=("contract", "invoice", "memo")[d % 3], business_unit=("legal", "finance")[d % 2])
            records = []
            for i in range(n):
                body = text(rnd, tokens * CHARS_PER_TOKEN)
                text_bytes += len(body.encode())
                records.append(ChunkRecord(i, body, tokens, [rnd.gauss(0, 1) for _ in range(dim)], {"page": i // 3 + 1, "heading": f"Section {i // 5 + 1}"}))
            upsert_document(conn, doc, records, role="docai_writer")
            stored += n
            d += 1
        insert_s = time.perf_counter() - t0
        conn.run("VACUUM ANALYZE chunks")  # what autovacuum leaves: the visibility map and statistics, no dead tuples
        full = measure(conn)
        heap, toast = conn.run("SELECT pg_relation_size(c.oid), COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) FROM pg_class c WHERE c.oid = 'chunks'::regclass")[0]
        docs_full = conn.run("SELECT pg_total_relation_size('documents') + pg_total_relation_size('document_versions')")[0][0]
        conn.close()

    per = lambda total, base: (total - base) / stored  # noqa: E731
    table_pc, index_pc = per(full.table_bytes, empty.table_bytes), per(full.index_bytes, empty.index_bytes)
    other_pc = table_pc - index_pc - heap / stored - toast / stored
    docs_pc = per(docs_full, docs_empty)
    print(f"vector store size (PGlite: PostgreSQL 18 + pgvector; stage {a.stage}: {cfg['model']}, dim {dim}, {tokens}-token chunks, HNSW m=16 ef_construction=64; "
          f"{stored} chunks in {d} documents, stored in {insert_s:.0f} s; estimate: Aurora storage is billed per GB-month of the volume)")
    print(f"  vector bytes per chunk (raw): {4 * dim + 8}; chunk text bytes per chunk: {text_bytes / stored:,.0f}")
    print(f"  heap {heap / stored:,.0f} + TOAST {toast / stored:,.0f} + HNSW index {index_pc:,.0f} + other indexes {other_pc:,.0f} bytes per chunk")
    print(f"  chunk table (heap + TOAST + indexes, VectorTableBytes): {table_pc:,.0f} bytes per chunk, of which HNSW (VectorIndexBytes): {index_pc:,.0f}")
    print(f"  document rows: {docs_pc:,.0f} bytes per chunk at {a.chunks_per_doc} chunks per document")
    print(f"  bytes per chunk (table + HNSW + documents): {table_pc + docs_pc:,.0f}")
    print(f"  = {(table_pc + docs_pc) * 1_000_000 / 2**30:,.2f} GiB per million chunks")


if __name__ == "__main__":
    main()
