"""A lost database connection in a pipeline step: retried as DatabaseUnavailable (the state machine's
Retry), the dead connection dropped so the next invocation of the container opens a new one. Real
PGlite connections whose socket is closed under them: pg8000 raises exactly what it raises on RDS."""
import socket
import time

import pytest

import pipeline_handlers
from docai_shared import db
from docai_shared.errors import DatabaseUnavailable
from migrations_runner import apply_migrations
from pglite import connect, pglite_server


@pytest.fixture(scope="module")
def port():
    with pglite_server() as p:
        c = connect(p)
        apply_migrations(c, {"EMBEDDING_DIMENSION": 4, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
        c.close()
        yield p


def dead(port):
    c = connect(port)
    c._usock.shutdown(socket.SHUT_RDWR)  # the server closed it (failover, restart, idle timeout)
    return c


EVENT = {"action": "upsert", "bucket": "intake", "key": "blip.pdf", "versionId": "v1", "sequencer": "0100",
         "error": {"Error": "UnsupportedDocument", "Cause": "encrypted"}}


def test_a_dead_cached_connection_is_retried_as_database_unavailable_and_replaced(port, monkeypatch):
    healthy = connect(port)
    opened = []
    monkeypatch.setattr(db, "connect_from_env", lambda *a, **k: opened.append(1) or healthy)
    monkeypatch.setattr(pipeline_handlers, "_db_conn", dead(port))  # a warm container's connection after a failover
    monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic())  # used a moment ago
    with pytest.raises(DatabaseUnavailable, match="InterfaceError: network error"):
        pipeline_handlers.record_failure_handler(EVENT)
    assert pipeline_handlers._db_conn is None  # was: the dead connection stayed, failing every later invocation
    assert pipeline_handlers.record_failure_handler(EVENT)["outcome"] == "recorded"  # the state machine's retry
    assert opened == [1]
    assert db.document_status(healthy, "intake", "blip.pdf")["status"] == "failed"
    healthy.close()


def test_a_failed_connect_is_database_unavailable_too(port, monkeypatch):
    import pg8000.native

    def refused(*a, **k):  # nothing listens there: pg8000 raises its InterfaceError
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        return pg8000.native.Connection(user="postgres", host="127.0.0.1", port=free, database="postgres", password="x", timeout=5)

    monkeypatch.setattr(db, "connect_from_env", refused)
    monkeypatch.setattr(pipeline_handlers, "_db_conn", None)
    with pytest.raises(DatabaseUnavailable, match="connecting"):
        pipeline_handlers.record_failure_handler(EVENT)
    assert pipeline_handlers._db_conn is None


def test_a_permanent_database_error_is_not_retried(port, monkeypatch):
    import pg8000.exceptions

    c = connect(port)
    c.run('SET ROLE "docai_reader_public"')  # a role that may not write: permission denied (42501), every time
    monkeypatch.setattr(pipeline_handlers, "_db_conn", c)
    monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic())
    with pytest.raises(pg8000.exceptions.DatabaseError, match="permission denied"):
        pipeline_handlers.record_failure_handler({**EVENT, "key": "denied.pdf"})
    assert pipeline_handlers._db_conn is c  # a working connection is kept
    c.run("RESET ROLE")
    c.close()


def test_a_rerun_after_a_corrected_tag_names_the_failed_versions_sequencer_even_when_a_newer_version_lands_meanwhile(port, monkeypatch):
    # v1 failed by an invalid tier; its tag is corrected while v2's run is at Store. Was: Retier
    # committed "rerun", then read the sequencer again outside its transaction: when v2's Store
    # committed in between, the rerun of v1 carried v2's sequencer, and its Store replaced the newer v2
    # (same sequencer, other version) with v1's old text.
    import boto3
    from moto import mock_aws

    c = connect(port)
    c.run('SET ROLE "docai_writer"')
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="docai-intake")  # the name the permission contract binds to the intake bucket
        s3.put_bucket_versioning(Bucket="docai-intake", VersioningConfiguration={"Status": "Enabled"})
        v1 = s3.put_object(Bucket="docai-intake", Key="rr.pdf", Body=b"v1", Tagging="access-tier=secret")["VersionId"]
        monkeypatch.setitem(pipeline_handlers._clients, "s3", s3)
        monkeypatch.setattr(pipeline_handlers, "_db_conn", c)
        monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic())
        monkeypatch.setenv("DEFAULT_ACCESS_TIER", "internal")
        assert db.record_failure(c, "docai-intake", "rr.pdf", v1, "0100", "InvalidMetadata: access-tier 'secret'") == "recorded"
        s3.put_object_tagging(Bucket="docai-intake", Key="rr.pdf", VersionId=v1, Tagging={"TagSet": [{"Key": "access-tier", "Value": "public"}]})
        real = db.retier_document

        def then_v2_stores(*a, **k):  # the concurrent execution of v2 commits right after the Retier's transaction
            outcome = real(*a, **k)
            db.upsert_document(c, db.DocumentVersion("docai-intake", "rr.pdf", "v2", "0200", "internal", content_hash="h2"),
                               [db.ChunkRecord(0, "v2 text", 2, [1.0, 0, 0, 0])])
            return outcome

        monkeypatch.setattr(db, "retier_document", then_v2_stores)
        out = pipeline_handlers.retier_handler({"action": "retag", "bucket": "docai-intake", "key": "rr.pdf", "versionId": v1, "sequencer": "0150"})
    assert out["outcome"] == "rerun" and out["rerun"] == {"versionId": v1, "sequencer": "0100"}
    # ... so the rerun's Store is older than v2 and changes nothing
    with pytest.raises(db.StaleVersion):
        db.upsert_document(c, db.DocumentVersion("docai-intake", "rr.pdf", v1, out["rerun"]["sequencer"], "public", content_hash="h1"),
                           [db.ChunkRecord(0, "v1 text", 2, [0, 1.0, 0, 0])])
    assert db.document_status(c, "docai-intake", "rr.pdf")["version_id"] == "v2"
    c.close()


def test_a_delete_whose_run_found_the_database_down_still_stops_serving_the_document(port, monkeypatch):
    # A run that failed only because something stayed unavailable keeps the stored version: right for
    # an upload (the replacement never arrived), wrong for a delete. Was: a delete marker whose Delete
    # step found the database down through every retry ended in RecordFailure "kept", and the document
    # the owner deleted stayed searchable until someone replayed the event.
    c = connect(port)
    c.run('SET ROLE "docai_writer"')
    db.upsert_document(c, db.DocumentVersion("intake", "gone.pdf", "v1", "0100", "internal", content_hash="h1"), [db.ChunkRecord(0, "secret plan", 2, [1.0, 0, 0, 0])])
    monkeypatch.setattr(pipeline_handlers, "_db_conn", c)
    monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic())
    out = pipeline_handlers.record_failure_handler({"action": "delete", "bucket": "intake", "key": "gone.pdf", "versionId": "m1", "sequencer": "0200",
                                                     "eventName": "ObjectRemoved:DeleteMarkerCreated", "error": {"Error": "DatabaseUnavailable", "Cause": "network error"}})
    assert out["outcome"] == "recorded"
    assert c.run("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 'gone.pdf'")[0][0] == 0
    c.close()
