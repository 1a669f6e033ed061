"""The query API, locally, for the load test (npm run load): the real query and retrieve handlers
behind an HTTP adapter that plays API Gateway and the Cognito authorizer, against PGlite + pgvector
holding N chunks, moto (S3 audit bucket, DynamoDB gateway table, SSM prompts) and the local model
service (embedding endpoint, Bedrock, guardrail) with a configurable latency and failure rate.

    .venv/bin/python bench/query_server.py --port 8787 --chunks 10000 --model-latency-ms 300 --failure-rate 0.01

Seeding shows progress on stderr and keeps the seeded database in --db-dir (default
build/load-db/<chunks>x<dim>, a PGlite data directory): the next run with the same --chunks and --dim
reuses it in seconds (--reseed builds it again). Chunks are written without the HNSW index, which is
built once at the end (incremental HNSW inserts in PGlite's WASM are what made seeding take minutes).

Prints "ready <url>" when it serves. GET /_stats: per-step latencies (from the handler's own EMF
Latency.* metrics) and status counts since the last POST /_reset.

Concurrency model: handler invocations run on threads (as concurrent Lambda instances would); the
retrieve function's database calls are serialized, because PGlite is one PostgreSQL backend, and so
are the calls moto answers (its in-memory backends are not thread-safe). Numbers
therefore compare changes on this machine; they are not Lambda + RDS numbers.
"""
from __future__ import annotations

import io
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
LAMBDA = os.path.join(HERE, "..", "lambda")
sys.path[:0] = [os.path.join(HERE, "..", "scripts"), os.path.join(LAMBDA, "shared"), os.path.join(LAMBDA, "migrations"), os.path.join(LAMBDA, "query"), os.path.join(LAMBDA, "tests")]

from cli_args import StrictParser  # noqa: E402

STEPS = ("embed", "retrieve", "generate", "audit", "total")


class EmfCollector(io.TextIOBase):
    """Stands in for stdout: keeps the handler's Latency.<step> metrics and passes nothing through."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.latency: dict[str, list[float]] = {s: [] for s in STEPS}
            self.workflows: dict[str, int] = {}

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("level") == "ERROR":  # the handlers' error logs: shown, they explain 5xx in the run
                sys.__stderr__.write(line + "\n")
            if "Latency.total" in doc:
                with self.lock:
                    self.workflows[doc.get("Workflow", "?")] = self.workflows.get(doc.get("Workflow", "?"), 0) + 1
                    for s in STEPS:
                        if f"Latency.{s}" in doc:
                            self.latency[s].append(float(doc[f"Latency.{s}"]))
        return len(text)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))], 1)


def show_question_at_gpu_zero(models, ask) -> list[str]:
    """The pilot's promise, shown before the run: the documents' GPU endpoint is at zero (a call to it
    gets SageMaker's no-capacity error, as the pipeline's Embed step would outside a window) and a
    question is still answered, its vector from the question endpoint."""
    import boto3
    from botocore.exceptions import ClientError
    from query_env import DOCUMENT_ENDPOINT, QUESTION_ENDPOINT

    runtime = boto3.client("sagemaker-runtime", endpoint_url=models.url, region_name="us-east-1")
    try:
        runtime.invoke_endpoint(EndpointName=DOCUMENT_ENDPOINT, InferenceComponentName=f"{DOCUMENT_ENDPOINT}-ic", ContentType="application/json", Body=b'{"inputs": ["probe"]}')
        gpu = "answered (not at zero!)"
    except ClientError as e:
        gpu = f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"
    before = sum(1 for r, p in models.calls if p.startswith(f"/endpoints/{QUESTION_ENDPOINT}/"))
    status, body = ask("What are the payment terms for invoices?")
    embedded = sum(1 for r, p in models.calls if p.startswith(f"/endpoints/{QUESTION_ENDPOINT}/")) - before
    answer = (body.get("answer") or body.get("message") or "")[:70].replace("\n", " ")
    return [f"document endpoint {DOCUMENT_ENDPOINT} (GPU, scale to zero): {gpu}",
            f"question endpoint {QUESTION_ENDPOINT} (serverless CPU): {embedded} call(s); POST /query -> {status}, {len(body.get('citations') or [])} citation(s): {answer!r}"]


def _exit_on_sigterm(signum, frame):  # npm run load stops the server with SIGTERM: unwind, so PGlite stops too
    raise SystemExit(0)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ap = StrictParser(prog="bench/query_server.py", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8787)
    ap.add_argument("--chunks", type=int, default=10_000, help="chunks in the vector store")
    ap.add_argument("--dim", type=int, default=384, help="embedding dimension")
    ap.add_argument("--model-latency-ms", type=float, default=300, help="latency of each answer from the model")
    ap.add_argument("--embed-latency-ms", type=float, default=15, help="latency of each embedding call")
    ap.add_argument("--failure-rate", type=float, default=0.0, help="share of model calls that fail with a 5xx (retried, then fallback)")
    ap.add_argument("--db-dir", default=None, help="where the seeded database is kept and reused (default build/load-db/<chunks>x<dim>)")
    ap.add_argument("--reseed", action="store_true", help="seed the database again even if --db-dir holds one")
    a = ap.parse_args()
    db_dir = os.path.abspath(a.db_dir or os.path.join(HERE, "..", "build", "load-db", f"{a.chunks}x{a.dim}"))
    seed_marker = os.path.join(os.path.dirname(db_dir), os.path.basename(db_dir) + ".seeded.json")
    seed_spec = {"chunks": a.chunks, "dim": a.dim, "seed": 7, "format": 1}

    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    # moto's in-memory backends are not thread-safe (a transaction deep-copies a table another thread
    # is writing): one AWS call at a time. Each takes well under a millisecond, as DynamoDB and S3 do not.
    moto_lock = threading.Lock()
    moto_call = BotocoreStubber.__call__

    def serialized(self, event_name, request, **kwargs):
        with moto_lock:
            return moto_call(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = serialized

    import shutil

    import query_handler
    import retrieve_handler
    from docai_shared import db
    from docai_shared.db import ChunkRecord, DocumentVersion, upsert_document
    from gateway_env import create_state, gateway_config
    from local_models import LocalModels, embed
    from migrations_runner import apply_migrations
    from pglite import connect, pglite_server
    from query_env import AUDIT_BUCKET, MODEL, RETRIEVE_FUNCTION, api_event, query_environment, reset_handlers

    def progress(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    try:
        reuse = not a.reseed and json.load(open(seed_marker)) == seed_spec and os.path.isdir(db_dir)
    except (OSError, ValueError):
        reuse = False
    if not reuse:
        shutil.rmtree(db_dir, ignore_errors=True)
        if os.path.exists(seed_marker):
            os.remove(seed_marker)
        os.makedirs(os.path.dirname(db_dir), exist_ok=True)

    db_lock = threading.Lock()

    def retrieve(event, context):
        with db_lock:  # one PGlite backend
            return retrieve_handler.handler(event, context)

    rnd = random.Random(7)
    words = ("invoice payment contract supplier renewal audit policy salary merger office hours travel expense approval security "
             "incident backup retention privacy customer onboarding training laptop vacation benefit budget forecast").split()
    tiers = ("public", "internal", "confidential", "restricted")
    started = time.time()
    with pglite_server(data_dir=db_dir) as port, mock_aws(), LocalModels(dimension=a.dim, functions={RETRIEVE_FUNCTION: retrieve}) as models:
        conn = connect(port)
        apply_migrations(conn, {"EMBEDDING_DIMENSION": a.dim, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
        if reuse:
            stored = conn.run("SELECT count(*) FROM chunks")[0][0]
            progress(f"reusing the seeded database in {db_dir} ({stored} chunks; --reseed builds it again)")
        else:
            progress(f"seeding {a.chunks} chunks (dim {a.dim}) into {db_dir} ...")
            index = conn.run("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw'")[0][0]
            conn.run("DROP INDEX chunks_embedding_hnsw")  # built once below: far faster than per-row inserts into it
            per_doc, written, last = 50, 0, time.time()
            for d in range((a.chunks + per_doc - 1) // per_doc):
                chunks = []
                for i in range(min(per_doc, a.chunks - d * per_doc)):
                    text = " ".join(rnd.choice(words) for _ in range(60))
                    chunks.append(ChunkRecord(i, text, 60, embed(text, a.dim), {"page": i // 5 + 1, "heading": f"Section {i // 5 + 1}"}))
                upsert_document(conn, DocumentVersion("docai-intake", f"corpus/doc-{d}.pdf", "v1", "01", tiers[d % 4], document_type=rnd.choice(["contract", "invoice", "policy"])), chunks, role="docai_writer", embedding_model=MODEL)
                written += len(chunks)
                if time.time() - last >= 2 or written == a.chunks:
                    last = time.time()
                    progress(f"  {written}/{a.chunks} chunks written ({time.time() - started:.1f} s)")
            progress(f"  building the HNSW index over {a.chunks} chunks ...")
            conn.run(index)
            conn.run("ANALYZE chunks")
            progress(f"  seeded in {time.time() - started:.1f} s")
        load_s = time.time() - started

        def connect_reader(host, port_, user, password, database, tls="verify-full"):
            return conn

        db.connect_with_password = connect_reader
        import boto3

        create_state()
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=AUDIT_BUCKET, ObjectLockEnabledForBucket=True)
        models.behaviour["converse"].latency_s = a.model_latency_ms / 1000
        models.behaviour["converse"].failure_rate = a.failure_rate
        models.behaviour["converse"].failure = "unavailable"
        models.behaviour["sagemaker"].latency_s = a.embed_latency_ms / 1000
        from query_env import DOCUMENT_ENDPOINT
        models.scaled_to_zero.add(DOCUMENT_ENDPOINT)  # the pilot outside an embedding window
        collector = EmfCollector()

        class Context:
            def get_remaining_time_in_millis(self) -> int:
                return 28_000

        class Api(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: str, headers: dict | None = None) -> None:
                raw = body.encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(raw)), **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the load generator closed the connection at the end of a run
                    pass

            def do_GET(self):
                if self.path != "/_stats":
                    return self._send(404, "{}")
                with collector.lock:
                    stats = {s: {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95), "p99": percentile(v, 99)} for s, v in collector.latency.items()}
                    self._send(200, json.dumps({"steps": stats, "workflows": collector.workflows}))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path == "/_reset":
                    collector.reset()
                    return self._send(200, "{}")
                path = self.path.split("?")[0].replace("/v1", "")
                if path not in ("/query", "/search"):
                    return self._send(404, json.dumps({"message": "Missing Authentication Token"}))
                # The Cognito authorizer's part: verified claims and the token it verified (here from test headers).
                event = api_event(path, body, groups=self.headers.get("X-Test-Groups", "docai-tier-internal"), sub=self.headers.get("X-Test-Sub", "load-user"),
                                  request_id=f"load-{time.monotonic_ns()}", content_type=self.headers.get("Content-Type"))
                event["requestContext"]["identity"]["sourceIp"] = "127.0.0.1"
                out = query_handler.handler(event, Context())
                self._send(out["statusCode"], out["body"], {k: v for k, v in out["headers"].items() if k != "Content-Type"})

        config = gateway_config(models=["bedrock-nova-lite"], cacheTtlSeconds=3600, budget={"dailyTokens": 0, "monthlyTokens": 0, "callerDailyTokens": 0})
        # For the process's whole life: handler threads still finishing a request while the server
        # stops must not find the environment already restored (that was the KeyError: 'AUDIT_BUCKET').
        os.environ.update({**query_environment(config), "EMBEDDING_DIMENSION": str(a.dim)})
        if not reuse:
            json.dump(seed_spec, open(seed_marker, "w"))
        reset_handlers(models.url)
        server = ThreadingHTTPServer(("127.0.0.1", a.port), Api)
        server.daemon_threads = True
        server.request_queue_size = 1024
        real_stdout = sys.stdout
        sys.stdout = collector  # the handlers' EMF and logs go to the collector

        def ask(question: str):
            event = api_event("/query", {"question": question}, groups="docai-tier-internal", sub="load-user", request_id="load-probe")
            event["requestContext"]["identity"]["sourceIp"] = "127.0.0.1"
            out = query_handler.handler(event, Context())
            return out["statusCode"], json.loads(out["body"])

        for line in show_question_at_gpu_zero(models, ask):
            real_stdout.write(line + "\n")
        collector.reset()
        real_stdout.write(f"ready http://127.0.0.1:{server.server_address[1]} chunks={a.chunks} dim={a.dim} load_seconds={load_s:.1f}\n")
        real_stdout.flush()
        try:
            server.serve_forever(poll_interval=0.1)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            server.server_close()


if __name__ == "__main__":
    main()
