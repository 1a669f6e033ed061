"""A paused database on the first call (Aurora Serverless v2 at 0 ACU), simulated the way AWS documents it:
the connection is accepted and held until the instance has resumed (tests/paused_db.py), in front of the
real PGlite. Every caller handles it: a connect waits within its bound, then DatabaseResuming; the
pipeline's steps raise it by that name (the state machine retries it); the query API waits within its
deadline, else answers 503 database_resuming with Retry-After, never a raw error."""
import json
import ssl
import time

import pytest
from moto import mock_aws

import pipeline_handlers
import query_handler
import retrieve_handler
from docai_shared import db
from gateway_env import env_vars
from local_models import LocalModels
from paused_db import paused_database
from query_env import DB_HOST, DIM, RETRIEVE_FUNCTION, api_event, corpus_database, create_aws_state, query_environment, reset_handlers

REAL_CONNECT = db.connect_with_password


@pytest.fixture(scope="module")
def database():
    with corpus_database() as conn:
        yield conn


@pytest.fixture(scope="module")
def pglite_port(database):
    return database._usock.getpeername()[1]


@pytest.fixture
def proxy(pglite_port):
    with paused_database(pglite_port) as p:
        yield p


def through(proxy, **kw):
    return REAL_CONNECT("127.0.0.1", proxy.port, "postgres", "unused", "postgres", tls="disable", **kw)


# --- the connect helpers ---------------------------------------------------------------------------

def test_a_connect_that_waits_long_enough_is_served_once_the_database_resumed(proxy):
    proxy.pause(resume_s=1.5)
    conn = db.connect_waiting(lambda t: through(proxy, connect_timeout=t), wait_s=6)
    assert conn.run("SELECT extversion FROM pg_extension WHERE extname = 'vector'")  # PGlite itself answers
    assert (proxy.held, proxy.abandoned, proxy.forwarded) == (1, 0, 1)
    conn.close()


def test_a_connect_shorter_than_the_resume_is_database_resuming_with_a_retry_after_and_the_next_one_works(proxy):
    proxy.pause(resume_s=4)
    with pytest.raises(db.DatabaseResuming, match="did not accept a connection") as e:
        db.connect_waiting(lambda t: through(proxy, connect_timeout=t), wait_s=1.5)
    assert 5 <= e.value.retry_after_s <= 15
    assert proxy.held >= 1 and proxy.forwarded == 0  # held, nothing answered: the driver timed out, as AWS says a short client timeout does
    time.sleep(4)
    conn = db.connect_waiting(lambda t: through(proxy, connect_timeout=t), wait_s=3)  # the attempt woke it
    assert conn.run("SELECT 1") == [[1]]
    conn.close()


def test_a_tls_connect_held_by_a_paused_database_is_database_resuming_not_a_raw_timeout(proxy):
    # With TLS (as deployed) pg8000 asks for SSL first and waits for the answer with the bare socket:
    # the timeout comes out as TimeoutError, not pg8000's InterfaceError.
    proxy.pause(resume_s=30)
    with pytest.raises(db.DatabaseResuming) as e:
        through(proxy, connect_timeout=1, ssl_context=ssl.create_default_context())
    assert isinstance(e.value.__cause__, TimeoutError)


def test_too_many_connections_right_after_the_resume_is_retried_within_the_wait(pglite_port):
    # "An error that happens immediately after resuming might be a timeout, or some error related to database limits"
    # KNOWN HARNESS FLAKE (root cause not found): now and then pg8000 reads a 0x00 message type through the
    # proxy (KeyError b'\x00', not a product error). The whole scenario, with all its assertions, runs on a
    # fresh proxy up to 3 times; without the product's 53300 retry every run fails, so the promise is still tested.
    for attempt in range(3):
        with paused_database(pglite_port) as proxy:
            proxy.pause(resume_s=0.5, refuse_after_resume=2)
            try:
                conn = db.connect_waiting(lambda t: through(proxy, connect_timeout=t), wait_s=8)
            except KeyError:
                if attempt == 2:
                    raise
                continue
            assert conn.run("SELECT 1") == [[1]]
            assert (proxy.refused, proxy.forwarded) == (2, 1)
            conn.close()
            return


def test_wrong_credentials_are_not_mistaken_for_a_resume():
    import pg8000.exceptions

    err = pg8000.exceptions.DatabaseError({"S": "FATAL", "C": "28P01", "M": "password authentication failed for user \"x\""})
    assert not db.is_transient(err)
    assert not db.is_transient(ssl.SSLCertVerificationError("certificate verify failed"))
    assert db.is_transient(TimeoutError("timed out")) and db.is_transient(ConnectionRefusedError())


def test_the_data_api_resuming_error_is_recognised_by_its_code():
    from botocore.exceptions import ClientError

    resuming = ClientError({"Error": {"Code": "DatabaseResumingException", "Message": "The Aurora DB instance db-X is resuming after being auto-paused."}}, "ExecuteStatement")
    assert db.data_api_resuming(resuming)
    assert not db.data_api_resuming(ClientError({"Error": {"Code": "BadRequestException", "Message": "x"}}, "ExecuteStatement"))


# --- connections must not keep a pausable database awake ------------------------------------------

def test_every_session_asks_the_server_to_close_it_when_idle(proxy):
    # A frozen Lambda environment's cached connection would keep Aurora from pausing: the session carries
    # idle_session_timeout as a startup parameter (PGlite ignores it; PostgreSQL applies it).
    conn = through(proxy)
    conn.close()
    [startup] = proxy.startups
    assert b"idle_session_timeout\x00" + str(db.IDLE_SESSION_TIMEOUT_S * 1000).encode() + b"\x00" in startup
    assert db.REUSE_IDLE_S < db.IDLE_SESSION_TIMEOUT_S


def closed_by_the_server(proxy):
    """A connection the server closed (as PostgreSQL does at idle_session_timeout)."""
    import socket

    conn = through(proxy)
    conn._usock.shutdown(socket.SHUT_RDWR)
    return conn


def test_a_cached_connection_idle_too_long_is_replaced_before_use_not_found_closed(proxy):
    now = [1000.0]
    cache = db.CachedConnection(clock=lambda: now[0])
    first = cache.get(lambda: through(proxy))
    now[0] += db.REUSE_IDLE_S - 1
    assert cache.get(lambda: through(proxy)) is first  # fresh: reused
    first._usock.shutdown(__import__("socket").SHUT_RDWR)  # the server closed it meanwhile
    now[0] += db.REUSE_IDLE_S + 1
    second = cache.get(lambda: through(proxy))
    assert second is not first and second.run("SELECT 1") == [[1]]


def test_a_pipeline_step_in_a_container_whose_connection_idled_out_opens_a_new_one(proxy, monkeypatch):
    with env_vars({"DB_HOST": "127.0.0.1", "DB_PORT": str(proxy.port), "DB_NAME": "postgres", "DB_USER": "postgres", "DB_PASSWORD": "unused",
                   "DB_TLS": "disable", "AWS_REGION": "us-east-1"}):
        monkeypatch.setattr(pipeline_handlers, "_db_conn", closed_by_the_server(proxy))
        monkeypatch.setattr(pipeline_handlers, "_db_conn_used", time.monotonic() - db.REUSE_IDLE_S - 5)  # the last invocation, a while ago
        # was: the closed socket failed the step (DatabaseUnavailable, a retry and its state transitions)
        assert pipeline_handlers.record_failure_handler({**EVENT, "key": "resume/idle.pdf"})["outcome"] == "recorded"
    pipeline_handlers.drop_db_connection()


# --- the pipeline's database steps -----------------------------------------------------------------

EVENT = {"action": "upsert", "bucket": "docai-intake", "key": "resume/first.pdf", "versionId": "v1", "sequencer": "0100",
         "error": {"Error": "UnsupportedDocument", "Cause": "encrypted"}}


def test_a_pipeline_step_on_a_paused_database_raises_database_resuming_by_name_then_succeeds(proxy, monkeypatch):
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1.0)  # the deployed 20 s, shortened
    with env_vars({"DB_HOST": "127.0.0.1", "DB_PORT": str(proxy.port), "DB_NAME": "postgres", "DB_USER": "postgres", "DB_PASSWORD": "unused",
                   "DB_TLS": "disable", "AWS_REGION": "us-east-1"}):
        monkeypatch.setattr(pipeline_handlers, "_db_conn", None)
        proxy.pause(resume_s=3)
        with pytest.raises(db.DatabaseResuming) as e:
            pipeline_handlers.record_failure_handler(EVENT)
        # Step Functions routes on the class name: the state machine's DatabaseResuming retrier takes it
        # (lib/document-pipeline: PIPELINE_ERRORS.databaseResuming); RecordFailure keeps what is stored.
        assert type(e.value).__name__ == "DatabaseResuming"
        assert "DatabaseResuming" in pipeline_handlers.TRANSIENT_ERROR_NAMES
        assert pipeline_handlers._db_conn is None
        time.sleep(3)
        assert pipeline_handlers.record_failure_handler(EVENT)["outcome"] == "recorded"  # the state machine's retry
    pipeline_handlers.drop_db_connection()


# --- the query API's first call --------------------------------------------------------------------

class LambdaContext:
    """What the Lambda runtime hands a handler: the time left before it is stopped."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


@pytest.fixture
def api(proxy, monkeypatch):
    logins = []

    def through_proxy(host, port, user, password, database, tls="verify-full", connect_timeout=None, ssl_context=None):
        # As deployed: an IAM token for the tier's reader role; only the network leg goes to the proxy.
        assert host == DB_HOST and password.startswith(f"{host}:{port}/?Action=connect&DBUser={user}"), (user, password[:80])
        logins.append(user)
        return REAL_CONNECT("127.0.0.1", proxy.port, user, "unused", "postgres", tls="disable", connect_timeout=connect_timeout)

    with LocalModels(dimension=DIM, functions={RETRIEVE_FUNCTION: retrieve_handler.handler}) as models, mock_aws():
        create_aws_state()
        monkeypatch.setattr(db, "connect_with_password", through_proxy)
        with env_vars(query_environment()):
            reset_handlers(models.url)
            yield models, logins
        reset_handlers()


def search(seconds: float):
    r = query_handler.handler(api_event("/search", {"question": "When does the office open?"}, groups="docai-tier-public"), LambdaContext(seconds))
    return r["statusCode"], json.loads(r["body"]), r["headers"]


def test_the_first_search_after_a_pause_waits_within_its_deadline_and_is_answered(api, proxy):
    proxy.pause(resume_s=2)
    status, body, _ = search(28)  # the query function's timeout: time enough for a short resume
    assert status == 200, body
    assert {r["key"] for r in body["results"]} == {"handbook/opening-hours.pdf"}
    assert proxy.held == 1 and proxy.forwarded >= 1


def test_the_first_search_after_a_pause_longer_than_its_deadline_is_a_503_database_resuming_with_retry_after(api, proxy):
    proxy.pause(resume_s=6)
    status, body, headers = search(2.0 + 2.5)  # 2.5 s for retrieval after the audit reserve
    assert status == 503, body
    assert body["error"] == "database_resuming" and 5 <= int(headers["Retry-After"]) <= 15
    assert body["retryAfterSeconds"] == int(headers["Retry-After"])
    time.sleep(6)
    status, body, _ = search(28)  # the client's retry after Retry-After
    assert status == 200, body
