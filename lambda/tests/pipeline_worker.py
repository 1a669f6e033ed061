"""Serves the real pipeline handlers to the end-to-end test (test/document-pipeline/pipeline-e2e.test.ts),
one JSON request per line on stdin, one JSON answer per line on the original stdout.

Around the handlers: S3 is moto (in this process), the database is PGlite + pgvector over the wire
protocol (port in PGLITE_PORT) with the migrations applied, and the SageMaker endpoint is a local fake
that returns deterministic vectors of the configured dimension and can be told to fail transiently.
Handler logs go to stderr so they do not mix with answers.

Every AWS call the handlers make goes through botocore and is recorded for the permission contract
(lambda/tests/call_recorder.py, file in DOCAI_CALL_LOG): the fake endpoint answers inside a real
`sagemaker-runtime` client (a `before-send` hook), and database connections go through the real
`connect_iam` (an IAM token is signed), with only the network leg replaced by the PGlite connection.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import sys
import traceback

ANSWERS = sys.stdout
sys.stdout = sys.stderr  # handler logs (JSON lines) -> stderr

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("shared", "pipeline", "migrations", "tests"):
    sys.path.insert(0, os.path.join(HERE, "..", sub) if sub != "tests" else HERE)

DIM = int(os.environ.get("EMBEDDING_DIMENSION", "8"))
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
    "WORK_BUCKET": "docai-work", "INTAKE_BUCKET": "docai-intake", "MAX_DOCUMENT_BYTES": str(5 * 1024 * 1024),
    "CHUNK_TOKENS": "60", "CHUNK_OVERLAP_TOKENS": "10", "EMBED_BATCH_SIZE": "4", "DEFAULT_ACCESS_TIER": "internal",
    "ENDPOINT_NAME": "docai-test-embed", "INFERENCE_COMPONENT": "docai-test-embed-ic", "EMBEDDING_DIMENSION": str(DIM), "WORKFLOW": "ingest",
})

import call_recorder  # noqa: E402

call_recorder.install(os.environ.get("DOCAI_CALL_LOG") or os.path.join(call_recorder.default_path(), "e2e.jsonl"), "e2e")

from moto import mock_aws  # noqa: E402

mock = mock_aws()
mock.start()

import boto3  # noqa: E402

import pipeline_handlers  # noqa: E402
from docai_shared import db  # noqa: E402
from migrations_runner import apply_migrations  # noqa: E402
from pglite import connect  # noqa: E402

s3 = boto3.client("s3")
s3.create_bucket(Bucket="docai-intake")
s3.put_bucket_versioning(Bucket="docai-intake", VersioningConfiguration={"Status": "Enabled"})
s3.create_bucket(Bucket="docai-work")


class FakeEndpoint:
    """TEI-shaped answers inside a real botocore client: one unit vector per input, derived from the text's hash."""

    def __init__(self):
        self.fail_next = 0
        self.calls = 0
        self.client = boto3.client("sagemaker-runtime")
        self.client.meta.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", self.answer)

    def answer(self, request, **_):
        from botocore.awsrequest import AWSResponse

        self.calls += 1
        assert request.headers["Content-Type"] in (b"application/json", "application/json"), request.headers
        assert f"/endpoints/{os.environ['ENDPOINT_NAME']}/invocations" in request.url, request.url
        if self.fail_next > 0:
            self.fail_next -= 1
            body = json.dumps({"ErrorCode": "ValidationError", "Message": "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress"})
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ValidationError", "Content-Type": "application/json"}, _Raw(body.encode()))
        texts = json.loads(request.body)["inputs"]
        vectors = []
        for t in texts:
            h = hashlib.sha256(t.encode()).digest()
            vectors.append([(h[i % len(h)] - 127.5) / 127.5 for i in range(DIM)])
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(json.dumps(vectors).encode()))


class _Raw(io.BytesIO):
    def stream(self, **_):
        yield self.getvalue()


endpoint = FakeEndpoint()
pipeline_handlers._clients["s3"] = s3
pipeline_handlers._clients["sagemaker-runtime"] = endpoint.client

conn = connect(int(os.environ["PGLITE_PORT"]))
apply_migrations(conn, {"EMBEDDING_DIMENSION": DIM, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
conn.run('SET ROLE "docai_writer"')  # as deployed: the pipeline logs in as the writer role, not the master user
# As deployed, handlers connect with db.connect_from_env -> connect_iam (a signed IAM token for DB_USER);
# only the TLS connection to RDS is replaced by the PGlite connection.
os.environ.update({"DB_HOST": "docai-test-db.cluster.local", "DB_PORT": "5433", "DB_NAME": "docai", "DB_USER": "docai_writer", "AWS_REGION": "us-east-1",
                   "EMBEDDING_MODEL": "BAAI/bge-base-en-v1.5"})


# op_break_db: connections handed to this handler are dead (the server side closed them, as an RDS
# failover or restart does): the real driver raises its InterfaceError on the first statement.
_broken = {"handler": None, "current": None, "handed": 0, "count": None}


def _dead_connection():
    dead = connect(int(os.environ["PGLITE_PORT"]))
    dead._usock.shutdown(socket.SHUT_RDWR)
    _broken["handed"] += 1
    return dead


# op_pause_db: the database is paused (Aurora Serverless v2 at 0 ACU). Connections go, with the real
# driver and the handler's own connect timeout, through tests/paused_db.py, which holds them until the
# resume as AWS documents; the resume ends once ``attempts`` connections were held.
_paused: dict = {"proxy": None, "on": False, "opened": [], "resuming_errors": 0}
_real_connect = db.connect_with_password


def _pglite_instead_of_rds(host, port, user, password, database, tls="verify-full", connect_timeout=None, ssl_context=None):
    assert user == "docai_writer" and password.startswith(f"{host}:{port}/?Action=connect&DBUser={user}"), (user, password[:80])
    if _broken["handler"] is not None and _broken["handler"] == _broken["current"] and (_broken["count"] is None or _broken["handed"] < _broken["count"]):
        return _dead_connection()
    if _paused["on"]:
        c = _real_connect("127.0.0.1", _paused["proxy"].port, user, "unused", "postgres", tls="disable", connect_timeout=connect_timeout)
        _paused["opened"].append(c)
        return c
    return conn


db.connect_with_password = _pglite_instead_of_rds


def op_put(req):
    r = s3.put_object(Bucket="docai-intake", Key=req["key"], Body=base64.b64decode(req["body"]), Metadata=req.get("metadata", {}),
                      Tagging="&".join(f"{k}={v}" for k, v in req.get("tags", {}).items()), ContentType=req.get("contentType", "binary/octet-stream"))
    return {"versionId": r.get("VersionId")}


def op_put_tags(req):
    s3.put_object_tagging(Bucket="docai-intake", Key=req["key"], VersionId=req["versionId"], Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in req["tags"].items()]})
    return {}


def op_delete_marker(req):
    return {"versionId": s3.delete_object(Bucket="docai-intake", Key=req["key"]).get("VersionId")}


def op_delete_version(req):
    s3.delete_object(Bucket="docai-intake", Key=req["key"], VersionId=req["versionId"])
    return {}


def op_call(req):
    fn = getattr(pipeline_handlers, req["handler"])
    _broken["current"] = req["handler"]
    pipeline_handlers._db_conn = None  # every invocation connects as a cold start would, so each one's IAM login is recorded
    try:
        return {"result": fn(req["event"], None)}
    except Exception as e:
        if type(e).__name__ == "DatabaseResuming":
            _paused["resuming_errors"] += 1
        return {"error": {"errorType": type(e).__name__, "errorMessage": str(e), "trace": traceback.format_exc()[-2000:]}}


def op_status(req):
    st = db.document_status(conn, "docai-intake", req["key"])
    rows = conn.run("SELECT c.chunk_index, c.text, c.access_tier FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.bucket = 'docai-intake' AND d.key = :k ORDER BY c.chunk_index", k=req["key"])
    return {"status": st, "chunks": [r[1] for r in rows], "tiers": sorted({r[2] for r in rows})}


def op_break_db(req):
    """{"handler": name, "count": n}: the next n (default: all) connections of that handler are dead; {}: healed.
    Answers how many dead ones were handed out since the last call."""
    handed = _broken["handed"]
    _broken.update(handler=req.get("handler"), handed=0, count=req.get("count"))
    return {"handed": handed}


def op_pause_db(req):
    """{"attempts": n, "connectTimeout": s}: paused until n connections were held (each one the handler
    gives up on after its connect timeout: the deployed 20 s, shortened to s); {}: awake. Answers what
    the proxy saw and how many handler runs raised DatabaseResuming since the last call."""
    from paused_db import PausedDatabase

    proxy = _paused["proxy"]
    seen = {"held": proxy.held, "forwarded": proxy.forwarded, "resumingErrors": _paused["resuming_errors"]} if proxy else {}
    for c in _paused["opened"]:
        try:
            c.close()
        except Exception:
            pass
    _paused.update(opened=[], resuming_errors=0, on=bool(req.get("attempts")))
    if _paused["on"]:
        if proxy is None:
            proxy = _paused["proxy"] = PausedDatabase(int(os.environ["PGLITE_PORT"]))
        proxy.pause(resume_s=600, resume_after_attempts=int(req["attempts"]))
        db.CONNECT_TIMEOUT_S = float(req.get("connectTimeout", 0.5))
    else:
        db.CONNECT_TIMEOUT_S = _CONNECT_TIMEOUT_S
    return seen


_CONNECT_TIMEOUT_S = db.CONNECT_TIMEOUT_S


def op_endpoint(req):
    endpoint.fail_next = int(req.get("failNext", 0))
    return {"calls": endpoint.calls}


def op_put_work(req):
    s3.put_object(Bucket="docai-work", Key=req["key"], Body=json.dumps(req["json"]).encode())
    return {}


OPS = {"put": op_put, "call": op_call, "status": op_status, "endpoint": op_endpoint, "put_work": op_put_work, "delete_version": op_delete_version, "delete_marker": op_delete_marker, "put_tags": op_put_tags, "break_db": op_break_db, "pause_db": op_pause_db}

ANSWERS.write(json.dumps({"ready": True}) + "\n")
ANSWERS.flush()
for line in sys.stdin:
    req = json.loads(line)
    try:
        out = OPS[req["op"]](req)
    except Exception as e:  # a harness error, not a handler error
        out = {"harnessError": repr(e), "trace": traceback.format_exc()[-2000:]}
    ANSWERS.write(json.dumps({"id": req["id"], **out}, default=str) + "\n")
    ANSWERS.flush()
