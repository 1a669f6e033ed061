"""A lost database connection in a pipeline step: retried as DatabaseUnavailable (the state machine's
Retry), the dead connection dropped so the next invocation of the container opens a new one. Real
PGlite connections whose socket is closed under them: pg8000 raises exactly what it raises on RDS."""
import socket

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
    with pytest.raises(pg8000.exceptions.DatabaseError, match="permission denied"):
        pipeline_handlers.record_failure_handler({**EVENT, "key": "denied.pdf"})
    assert pipeline_handlers._db_conn is c  # a working connection is kept
    c.run("RESET ROLE")
    c.close()
