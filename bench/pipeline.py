"""Document pipeline benchmark on a generated corpus (PDF with a text layer, DOCX, HTML, plain text).

1. extract + chunk: the real extraction.extract and chunking.chunk_sections on in-memory bytes;
   prints MB/s of input and chunks/s, overall and per document type.
2. end to end, per document: the real handlers in the order the state machine runs them
   (Validate -> Extract -> Chunk -> Embed per batch -> Store), with S3 in moto, a local embedding
   endpoint that returns deterministic vectors (no model time), and PostgreSQL + pgvector in PGlite
   with the migrations applied, storing as the docai_writer role. Prints p50/p95/mean per document.

Numbers are for this machine and this local setup (moto and PGlite instead of S3 and RDS, no model,
no Step Functions transitions); they compare changes, they are not production latencies.

    npm run bench:pipeline -- --docs 40 --pages 8 --dim 768
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "scripts")] + [os.path.join(HERE, "..", "lambda", sub) for sub in ("shared", "pipeline", "migrations", "tests")]

from cli_args import StrictParser  # noqa: E402

WORDS = ("contract invoice payment supplier delivery warranty liability clause term notice period renewal price "
         "volume discount service level penalty audit record retention policy employee travel expense approval "
         "manager budget quarter report revenue forecast risk mitigation compliance regulation data privacy").split()


def paragraph(rnd: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(8, 18))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def make_corpus(n: int, pages: int, seed: int) -> list[tuple[str, str, bytes]]:
    """(key, type label, bytes): a quarter each of PDF, DOCX, HTML and TXT of about `pages` pages."""
    from corpus import docx_bytes, pdf_with_text

    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        kind = ("pdf", "docx", "html", "txt")[i % 4]
        page_texts = [paragraph(rnd, 14) + "\n\n" + paragraph(rnd, 10) for _ in range(pages)]
        if kind == "pdf":
            data = pdf_with_text(page_texts)
        elif kind == "docx":
            data = docx_bytes(f"Document {i}", [(f"Section {p + 1}", t) for p, t in enumerate(page_texts)])
        elif kind == "html":
            body = "".join(f"<h2>Section {p + 1}</h2><p>{t}</p>" for p, t in enumerate(page_texts))
            data = f"<!DOCTYPE html><html><head><title>Doc {i}</title><script>track()</script></head><body><h1>Doc {i}</h1>{body}</body></html>".encode()
        else:
            data = "\n\n".join(page_texts).encode()
        docs.append((f"bench/doc-{i:04d}.{kind}", kind, data))
    return docs


class LocalEndpoint:
    """TEI-shaped answers without a model: one vector per input, derived from the text's hash."""

    def __init__(self, dim: int):
        self.dim = dim

    def invoke_endpoint(self, **kw):
        texts = json.loads(kw["Body"])["inputs"]
        vectors = []
        for t in texts:
            h = hashlib.sha256(t.encode()).digest()
            vectors.append([(h[i % len(h)] - 127.5) / 127.5 for i in range(self.dim)])
        return {"Body": io.BytesIO(json.dumps(vectors).encode()), "ContentType": "application/json"}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def bench_extract_chunk(docs, chunk_tokens: int, overlap: int, rounds: int) -> None:
    from chunking import chunk_sections
    from extraction import extract, validate

    by_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # bytes, seconds, chunks
    for _ in range(rounds):
        for key, kind, data in docs:
            t = time.perf_counter()
            doc_type = validate(key, len(data), data[:8192], 50 * 1024 * 1024)
            chunks = chunk_sections(extract(doc_type, data, key).sections, chunk_tokens, overlap)
            s = by_type[kind]
            s[0] += len(data)
            s[1] += time.perf_counter() - t
            s[2] += len(chunks)
    total = [sum(v[i] for v in by_type.values()) for i in range(3)]
    print(f"extract + chunk ({len(docs)} documents x {rounds} rounds, {chunk_tokens}-token chunks with {overlap} overlap)")
    print(f"  all:  {total[0] / 1e6 / total[1]:6.2f} MB/s  {total[2] / total[1]:8,.0f} chunks/s  ({total[0] / 1e6:.1f} MB, {int(total[2])} chunks in {total[1]:.2f} s)")
    for kind, (b, sec, c) in sorted(by_type.items()):
        print(f"  {kind:5} {b / 1e6 / sec:6.2f} MB/s  {c / sec:8,.0f} chunks/s  (avg {b / 1e3 / (len(docs) // 4 * rounds or 1):,.0f} KB/doc)")


def bench_end_to_end(docs, dim: int, chunk_tokens: int, overlap: int, batch: int) -> None:
    os.environ.update({
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "WORK_BUCKET": "bench-work", "INTAKE_BUCKET": "bench-intake", "MAX_DOCUMENT_BYTES": str(50 * 1024 * 1024),
        "CHUNK_TOKENS": str(chunk_tokens), "CHUNK_OVERLAP_TOKENS": str(overlap), "EMBED_BATCH_SIZE": str(batch),
        "DEFAULT_ACCESS_TIER": "internal", "ENDPOINT_NAME": "bench-embed", "INFERENCE_COMPONENT": "", "EMBEDDING_DIMENSION": str(dim), "WORKFLOW": "bench",
    })
    from moto import mock_aws

    with mock_aws():
        import boto3

        import pipeline_handlers as h
        from migrations_runner import apply_migrations
        from pglite import connect, pglite_server

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench-intake")
        s3.put_bucket_versioning(Bucket="bench-intake", VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="bench-work")
        h._clients.update({"s3": s3, "sagemaker-runtime": LocalEndpoint(dim)})
        with pglite_server() as port:
            conn = connect(port)
            apply_migrations(conn, {"EMBEDDING_DIMENSION": dim, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
            conn.run('SET ROLE "docai_writer"')
            h._db_conn = conn

            per_doc, steps, stored = [], defaultdict(list), 0
            for i, (key, _kind, data) in enumerate(docs):
                version = s3.put_object(Bucket="bench-intake", Key=key, Body=data)["VersionId"]
                event = {"action": "upsert", "bucket": "bench-intake", "key": key, "versionId": version, "sequencer": f"{i:016X}", "runId": f"run-{i}"}

                def step(name, fn, ev):
                    t = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):  # handler logs and EMF metrics
                        out = fn(ev, None)
                    steps[name].append((time.perf_counter() - t) * 1000)
                    return out

                t0 = time.perf_counter()
                event["validation"] = step("Validate", h.validate_handler, event)
                event["extracted"] = step("Extract", h.extract_handler, event)
                event["chunked"] = step("Chunk", h.chunk_handler, event)
                for batch_key in event["chunked"]["batches"]:
                    step("Embed", h.embed_handler, {**event, "batchKey": batch_key})
                result = step("Store", h.store_handler, event)
                per_doc.append((time.perf_counter() - t0) * 1000)
                stored += result["chunks"]
            rows = conn.run("SELECT count(*) FROM chunks")[0][0]
            conn.close()

    print(f"end to end per document (handlers in state-machine order; moto S3, local endpoint dim {dim}, PGlite + pgvector; {len(docs)} documents)")
    print(f"  per document: p50 {pct(per_doc, 50):.0f} ms, p95 {pct(per_doc, 95):.0f} ms, mean {statistics.mean(per_doc):.0f} ms; {stored} chunks stored ({rows} rows in the table)")
    print("  per step (p50 ms, per call): " + ", ".join(f"{k} {pct(v, 50):.1f}" for k, v in steps.items()))
    if rows != stored:
        raise SystemExit(f"stored {stored} chunks but the table holds {rows}")


def main() -> None:
    ap = StrictParser(prog="npm run bench:pipeline --", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=40, help="documents in the corpus (a quarter each of pdf, docx, html, txt)")
    ap.add_argument("--pages", type=int, default=8, help="pages (sections) per document")
    ap.add_argument("--rounds", type=int, default=3, help="extract+chunk passes over the corpus")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--chunk-tokens", type=int, default=400)
    ap.add_argument("--overlap", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32, help="chunks per embedding request")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    t = time.perf_counter()
    docs = make_corpus(a.docs, a.pages, a.seed)
    print(f"corpus: {len(docs)} documents, {sum(len(d) for _, _, d in docs) / 1e6:.1f} MB, generated in {time.perf_counter() - t:.1f} s (estimate for this machine only)")
    bench_extract_chunk(docs, a.chunk_tokens, a.overlap, a.rounds)
    if not a.skip_e2e:
        bench_end_to_end(docs, a.dim, a.chunk_tokens, a.overlap, a.batch)


if __name__ == "__main__":
    main()
