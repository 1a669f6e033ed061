"""Vector store instrumentation (issue 26, item 4): the size metrics are PostgreSQL's own numbers
(PGlite with every migration: insert chunks and the rows and bytes move, update them and dead tuples
appear), the collector's role can measure but cannot read a chunk, the Store step measures on its own
connection at most once per interval and never fails for it, and every search is counted per tier and
query workflow with a closed set of dimension values."""
import json
import time

import boto3
import pytest
from moto import mock_aws

import pipeline_handlers
import query_handler
import retrieve_handler
import vector_metrics_handler
from docai_shared import db, vector_metrics
from docai_shared.db import ChunkRecord, DocumentVersion, upsert_document
from gateway_env import env_vars
from local_models import LocalModels
from migrations_runner import apply_migrations
from pglite import connect, pglite_server
from query_env import DB_HOST, DIM, RETRIEVE_FUNCTION, api_event, corpus_database, create_aws_state, query_environment, reset_handlers, use_pglite_for_readers

VDIM = 16
PARAMS = {"EMBEDDING_DIMENSION": VDIM, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64}


def emf(out: str, metric: str) -> list[dict]:
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [d for d in docs if any(m["Name"] == metric for cw in d["_aws"]["CloudWatchMetrics"] for m in cw["Metrics"])]


def dims(doc: dict) -> list[list[str]]:
    return [cw["Dimensions"] for cw in doc["_aws"]["CloudWatchMetrics"]][0]


@pytest.fixture(scope="module")
def store():
    with pglite_server() as port:
        c = connect(port)
        apply_migrations(c, PARAMS)
        yield port, c
        c.close()


def chunks(n: int, seed: int = 0) -> list[ChunkRecord]:
    import random
    rnd = random.Random(seed)
    return [ChunkRecord(i, f"chunk {i} " + "words " * 60, 70, [rnd.uniform(-1, 1) for _ in range(VDIM)]) for i in range(n)]


def put(conn, key: str, n: int, version: str = "v1", seq: str = "01", seed: int = 0) -> None:
    upsert_document(conn, DocumentVersion("intake", key, version, seq, "internal", content_hash=f"h-{key}-{version}"), chunks(n, seed), role="docai_writer")


# --- the numbers are real -----------------------------------------------------------------------

def test_rows_and_bytes_move_with_the_chunks_stored_and_dead_tuples_with_the_replaced(store):
    _, conn = store
    before = vector_metrics.measure(conn)
    put(conn, "size/a.pdf", 120)
    put(conn, "size/b.pdf", 80)
    grown = vector_metrics.measure(conn)
    assert grown.rows - before.rows == 200  # exactly the chunks stored (this backend's stats flushed first)
    assert grown.index_bytes > before.index_bytes and grown.table_bytes > before.table_bytes
    # the table's bytes include its HNSW index (pg_total_relation_size: heap, TOAST and indexes)
    assert grown.table_bytes >= grown.index_bytes + conn.run("SELECT pg_relation_size('chunks')")[0][0]
    assert grown.index_bytes == conn.run("SELECT pg_relation_size('chunks_embedding_hnsw')")[0][0]

    put(conn, "size/a.pdf", 30, version="v2", seq="02", seed=1)  # a new version replaces the 120 chunks
    replaced = vector_metrics.measure(conn)
    assert replaced.rows == grown.rows - 120 + 30
    assert replaced.dead_tuples >= 120  # what autovacuum has to reclaim; the ratio alarm watches it
    assert 0 < replaced.dead_tuple_percent < 100


def test_the_metrics_role_measures_but_cannot_read_a_chunk(store):
    _, conn = store
    put(conn, "role/c.pdf", 5)
    as_owner = vector_metrics.measure(conn)
    conn.run("BEGIN")
    try:
        conn.run(f"SET LOCAL ROLE {vector_metrics.METRICS_USER}")
        assert vector_metrics.measure(conn) == as_owner
        with pytest.raises(Exception, match="permission denied for table chunks"):
            conn.run("SELECT text FROM chunks LIMIT 1")
    finally:
        conn.run("ROLLBACK")


def test_the_emf_line_has_the_four_metrics_and_only_the_deployment_dimensions(store, monkeypatch):
    _, conn = store
    monkeypatch.setenv("DOCAI_METRIC_DIMENSIONS", json.dumps({"Project": "docai", "Stage": "pilot"}))
    doc = json.loads(vector_metrics.measure(conn).emf({"source": "schedule"}))
    cw = doc["_aws"]["CloudWatchMetrics"]
    assert len(cw) == 1 and cw[0]["Dimensions"] == [["Project", "Stage"]]  # one metric each per deployment
    assert {(m["Name"], m["Unit"]) for m in cw[0]["Metrics"]} == {
        ("VectorTableBytes", "Bytes"), ("VectorIndexBytes", "Bytes"), ("VectorRows", "Count"), ("VectorDeadTuples", "Count")}
    assert doc["VectorRows"] == vector_metrics.measure(conn).rows and doc["source"] == "schedule"


def test_without_the_schema_the_collector_says_so():
    with pglite_server() as port:
        c = connect(port)
        with pytest.raises(vector_metrics.VectorStoreMissing, match="apply the schema migrations"):
            vector_metrics.measure(c)
        c.close()


def test_the_scheduled_handler_logs_in_as_docai_metrics_with_an_iam_token_emits_and_closes_its_connection(store, monkeypatch, capsys):
    port, conn = store
    opened, users = [], []

    def login(host, port_, user, password, database, tls="verify-full", **_):  # only the TLS connection to the database is PGlite's
        assert password.startswith(f"{host}:{port_}/?Action=connect&DBUser={user}"), password[:80]
        users.append(user)
        opened.append(connect(port))
        return opened[-1]

    monkeypatch.setattr(db, "connect_with_password", login)
    with mock_aws(), env_vars({"DB_HOST": DB_HOST, "DB_PORT": "5432", "DB_NAME": "docai", "DB_USER": vector_metrics.METRICS_USER, "AWS_REGION": "us-east-1"}):
        result = vector_metrics_handler.handler({"source": "aws.events"})
    assert users == ["docai_metrics"]
    assert result["rows"] == vector_metrics.measure(conn).rows > 0
    [line] = emf(capsys.readouterr().out, "VectorRows")
    assert line["VectorTableBytes"] == result["tableBytes"] and line["source"] == "schedule"
    # closed: a connection a warm container kept open would keep a pausable database awake
    import pg8000.exceptions
    with pytest.raises(pg8000.exceptions.InterfaceError):
        opened[0].run("SELECT 1")


def test_the_throttle_lets_one_collection_through_per_interval():
    now = [1000.0]
    t = vector_metrics.Throttle(300, clock=lambda: now[0])
    assert t.due() and not t.due()
    now[0] += 299
    assert not t.due()
    now[0] += 1
    assert t.due()
    with pytest.raises(ValueError, match="min_interval_s"):
        vector_metrics.Throttle(-1)


# --- after each Store, on the Store's connection -------------------------------------------------

def store_event(key: str, n: int, s3) -> dict:
    batch = f"runs/r/{key}/chunks/0.json"
    s3.put_object(Bucket="docai-work", Key=batch, Body=json.dumps([{"index": i, "text": f"t{i}", "tokens": 3, "metadata": {}} for i in range(n)]))
    s3.put_object(Bucket="docai-work", Key=batch.replace("/chunks/", "/embeddings/"), Body=json.dumps([c.embedding for c in chunks(n)]))
    return {"bucket": "intake", "key": key, "versionId": "v1", "sequencer": "01", "runId": "r",
            "extracted": {"metadata": {"accessTier": "internal"}, "contentHash": f"h-{key}"}, "chunked": {"batches": [batch]}}


def test_the_store_step_measures_on_its_own_connection_once_per_interval_and_never_fails_for_it(store, monkeypatch, capsys):
    port, conn = store
    store_conn = connect(port)
    store_conn.run("SET ROLE docai_writer")
    now = [0.0]
    monkeypatch.setattr(pipeline_handlers, "_db_conn", store_conn)
    monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic())  # a warm container's fresh connection
    monkeypatch.setattr(pipeline_handlers, "_vector_metrics_throttle", vector_metrics.Throttle(300, clock=lambda: now[0]))
    monkeypatch.setattr(db, "connect_from_env", lambda *a, **k: pytest.fail("the Store opened a connection to measure"))
    with mock_aws(), env_vars({"WORK_BUCKET": "docai-work", "AWS_DEFAULT_REGION": "us-east-1"}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="docai-work")
        pipeline_handlers._clients.clear()
        rows = vector_metrics.measure(conn).rows
        assert pipeline_handlers.store_handler(store_event("store/one.pdf", 7, s3))["outcome"] == "stored"
        [first] = emf(capsys.readouterr().out, "VectorRows")
        assert first["VectorRows"] == rows + 7 and first["source"] == "store"  # its own inserts counted

        now[0] += 10  # a burst of Stores: the next ones within the interval do not measure
        pipeline_handlers.store_handler(store_event("store/two.pdf", 3, s3))
        assert emf(capsys.readouterr().out, "VectorRows") == []

        now[0] += 300
        monkeypatch.setattr(vector_metrics, "measure", lambda c: (_ for _ in ()).throw(RuntimeError("catalog unreadable")))
        assert pipeline_handlers.store_handler(store_event("store/three.pdf", 2, s3))["outcome"] == "stored"
        out = capsys.readouterr().out
        assert emf(out, "VectorRows") == [] and "vector store not measured" in out and "catalog unreadable" in out
        pipeline_handlers._clients.clear()
    store_conn.close()


# --- VectorSearches: per tier and query workflow -------------------------------------------------

@pytest.fixture(scope="module")
def corpus():
    with corpus_database() as c:
        yield c


@pytest.fixture
def api(corpus):
    logins = []
    with LocalModels(dimension=DIM, functions={RETRIEVE_FUNCTION: retrieve_handler.handler}) as models, mock_aws():
        create_aws_state()
        original = db.connect_with_password
        use_pglite_for_readers(corpus, logins)
        with env_vars(query_environment()):
            reset_handlers(models.url)
            yield models
        db.connect_with_password = original
        reset_handlers()


def searches(out: str) -> list[tuple[str, str, float]]:
    return [(d["Tier"], d["Workflow"], d["VectorSearches"]) for d in emf(out, "VectorSearches")]


def test_each_search_counts_once_under_the_callers_tier_and_the_query_workflow(api, capsys):
    for path, groups in (("/search", "docai-tier-public"), ("/query", "docai-tier-confidential"), ("/search", "docai-tier-confidential")):
        r = query_handler.handler(api_event(path, {"question": "What are the opening hours?"}, groups=groups))
        assert r["statusCode"] == 200, r["body"]
    out = capsys.readouterr().out
    assert searches(out) == [("public", "search", 1), ("confidential", "answer", 1), ("confidential", "search", 1)]
    assert all(sorted(dims(d)[0]) == ["Tier", "Workflow"] for d in emf(out, "VectorSearches"))


def test_a_refused_caller_is_no_search_and_an_unknown_workflow_mints_no_metric(api, capsys, monkeypatch):
    r = query_handler.handler(api_event("/search", {"question": "hours?"}, groups="docai-tier-nothing"))
    assert r["statusCode"] == 403
    assert searches(capsys.readouterr().out) == []
    # a caller that names any workflow it likes (a buggy or compromised query function) adds no dimension value
    from local_models import embed
    monkeypatch.setenv("TIER_SOURCE", "iam")
    monkeypatch.setenv("IAM_CALLER_TIER", "public")
    for workflow in ("x" * 500, None, 7):
        retrieve_handler.handler({"embedding": embed("hours", DIM), "k": 2, "filters": {}, "workflow": workflow})
    assert searches(capsys.readouterr().out) == [("public", "unknown", 1)] * 3
