"""The bootstrap custom resource: the statements it sends through the Data API really create a login role
the migrations can use, on a real PostgreSQL (PGlite), again and again without harm.

The Data API is a real botocore ``rds-data`` client whose requests a ``before-send`` hook runs on the
PGlite connection (one statement per request, as the Data API requires) and answers in the Data API's
shape; it can answer DatabaseResumingException first, as a paused cluster does. The calls go through
botocore, so they are recorded for the permission contract (with the secret read the Data API makes
as the caller: tests/call_recorder.py).

PGlite is not Aurora: ``rds_iam`` and ``rds_superuser`` are RDS's own roles, created here as plain roles,
and the master user is PGlite's superuser. What this proves is that the SQL is valid, idempotent and
gives the role exactly LOGIN and those two memberships; that the RDS master user may grant them is AWS's
documented behaviour (cited in bootstrap_handler.py), not something PGlite can show.
"""
import io
import json

import boto3
import pytest

import bootstrap_handler
import migrations_handler
from pglite import connect, pglite_server
from test_migrations_handler import Recorder

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:docai-test-db"
# The RDS-managed master secret is named rds!cluster-<id>.
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-docai-test-db-AbC123"
EVENT = {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/docai-pilot-data/x",
    "RequestId": "req-1",
    "LogicalResourceId": "VectorDbMigratorRole",
    "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/resp?sig=2",
    "ResourceType": "Custom::DocaiDatabaseBootstrap",
    "ResourceProperties": {"ServiceToken": "arn"},
}
ENV = {"DB_CLUSTER_ARN": CLUSTER_ARN, "DB_SECRET_ARN": SECRET_ARN, "DB_NAME": "docai", "DB_USER": "docai_migrator", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class _Raw(io.BytesIO):
    def stream(self, **_):
        yield self.getvalue()


class DataApiOnPglite:
    """ExecuteStatement on a real PostgreSQL, through a real rds-data client."""

    def __init__(self, conn, database="docai", as_role=None):
        self.conn, self.database, self.as_role, self.resuming, self.sent = conn, database, as_role, 0, []
        self.client = boto3.client("rds-data", region_name="us-east-1")
        self.client.meta.events.register_first("before-send.rds-data.ExecuteStatement", self.answer)

    def answer(self, request, **_):
        from botocore.awsrequest import AWSResponse

        body = json.loads(request.body)
        assert (body["resourceArn"], body["secretArn"], body["database"]) == (CLUSTER_ARN, SECRET_ARN, self.database), body
        if self.resuming > 0:
            self.resuming -= 1
            err = {"message": "The Aurora DB instance db-TEST is resuming after being auto-paused. Please wait a few seconds and try again."}
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "DatabaseResumingException", "Content-Type": "application/json"}, _Raw(json.dumps(err).encode()))
        self.sent.append(body["sql"])
        try:
            if self.as_role:  # the secret's user
                self.conn.run(f"SET ROLE {self.as_role}")
            try:
                self.conn.run(body["sql"])
            finally:
                if self.as_role:
                    self.conn.run("RESET ROLE")
        except Exception as e:  # what the Data API answers for an SQL error
            err = {"message": f"ERROR: {e}"}
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "DatabaseErrorException", "Content-Type": "application/json"}, _Raw(json.dumps(err).encode()))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(json.dumps({"numberOfRecordsUpdated": 0, "generatedFields": []}).encode()))


@pytest.fixture(scope="module")
def database():
    with pglite_server() as port:
        conn = connect(port)
        # RDS's own roles, as plain roles: PGlite has no RDS.
        conn.run("CREATE ROLE rds_iam")
        conn.run("CREATE ROLE rds_superuser")
        yield conn
        conn.close()


@pytest.fixture
def data_api(database, monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    api = DataApiOnPglite(database)
    monkeypatch.setattr(bootstrap_handler, "_client", lambda: api.client)
    monkeypatch.setattr(bootstrap_handler, "RESUME_POLL_S", 0.01)
    return api


def run(event):
    rec = Recorder()
    original = migrations_handler.opener
    migrations_handler.opener = rec
    try:
        bootstrap_handler.handler(event, None)
    finally:
        migrations_handler.opener = original
    [(url, method, body)] = rec.requests
    assert (url, method) == (event["ResponseURL"], "PUT")
    return body


def no_migrator(conn):
    if conn.run("SELECT 1 FROM pg_roles WHERE rolname = 'docai_migrator'"):
        conn.run("DROP OWNED BY docai_migrator")  # its grant on schema public
        conn.run("DROP ROLE docai_migrator")


def role(conn):
    rows = conn.run("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'docai_migrator'")
    members = conn.run("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
                       " WHERE u.rolname = 'docai_migrator' ORDER BY 1")
    return (tuple(rows[0]) if rows else None), [r[0] for r in members]


def test_create_makes_a_login_role_with_rds_iam_and_rds_superuser_and_again_changes_nothing(data_api, database):
    no_migrator(database)
    body = run({**EVENT, "RequestType": "Create"})
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == "docai-db-role-docai_migrator" and body["Data"] == {"Role": "docai_migrator"}
    assert role(database) == ((True, False), ["rds_iam", "rds_superuser"])  # a login, not a PostgreSQL superuser
    assert database.run("SELECT rolcreaterole FROM pg_roles WHERE rolname = 'docai_migrator'") == [[True]]
    assert data_api.sent == list(bootstrap_handler.STATEMENTS)  # one statement per call
    for request in ("Update", "Create"):  # a re-run (update, or a create CloudFormation repeats) is harmless
        body = run({**EVENT, "RequestType": request, "PhysicalResourceId": "docai-db-role-docai_migrator"})
        assert body["Status"] == "SUCCESS", body["Reason"]
    assert role(database) == ((True, False), ["rds_iam", "rds_superuser"])


def test_a_role_that_exists_without_login_gets_login(data_api, database):
    no_migrator(database)
    database.run("CREATE ROLE docai_migrator NOLOGIN")
    assert run({**EVENT, "RequestType": "Create"})["Status"] == "SUCCESS"
    assert role(database) == ((True, False), ["rds_iam", "rds_superuser"])


def test_as_the_rds_master_sends_them_the_migrator_can_apply_every_migration_as_itself(monkeypatch):
    """The point of the role, on a PGlite shaped like RDS: a master user that is no superuser (LOGIN
    CREATEROLE CREATEDB, member of rds_superuser, owner of the database), rds_superuser with ADMIN on
    rds_iam, pgvector installed (what rds_superuser may do on RDS; PGlite lets only its superuser).
    The Data API runs the statements as that master; then, as docai_migrator, every migration applies
    and the functions' roles get rds_iam. Without CREATEROLE (0004 creates roles) or CREATE on public
    (PostgreSQL 15+), it fails: both are needed, neither comes with rds_superuser."""
    from migrations_runner import apply_migrations

    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("DB_NAME", "postgres")
    with pglite_server() as port:
        conn = connect(port)
        conn.run("CREATE EXTENSION IF NOT EXISTS vector")
        conn.run("CREATE ROLE rds_iam")
        conn.run("CREATE ROLE rds_superuser")
        conn.run("CREATE ROLE docai_master LOGIN CREATEROLE CREATEDB")
        conn.run("GRANT rds_iam TO rds_superuser WITH ADMIN OPTION")
        conn.run("GRANT rds_superuser TO docai_master WITH ADMIN OPTION")
        conn.run("ALTER DATABASE postgres OWNER TO docai_master")
        conn.run("ALTER SCHEMA public OWNER TO pg_database_owner")
        conn.run("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        api = DataApiOnPglite(conn, database="postgres", as_role="docai_master")
        monkeypatch.setattr(bootstrap_handler, "_client", lambda: api.client)
        body = run({**EVENT, "RequestType": "Create"})
        assert body["Status"] == "SUCCESS", body["Reason"]
        conn.run("SET ROLE docai_migrator")
        try:
            applied = apply_migrations(conn, {"EMBEDDING_DIMENSION": 4, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
            assert applied[0] == "0001_extension_and_tiers" and len(applied) >= 7
        finally:
            conn.run("RESET ROLE")
        writer_iam = conn.run("SELECT pg_has_role('docai_writer', 'rds_iam', 'MEMBER')")[0][0]
        assert writer_iam and conn.run("SELECT tableowner FROM pg_tables WHERE tablename = 'chunks'") == [["docai_migrator"]]
        conn.close()


def test_a_paused_cluster_is_waited_for_then_the_role_is_created(data_api, database):
    no_migrator(database)
    data_api.resuming = 3  # DatabaseResumingException, then the resumed cluster answers
    body = run({**EVENT, "RequestType": "Create"})
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert role(database)[0] == (True, False)


def test_a_cluster_that_does_not_resume_in_time_fails_the_resource_naming_the_resume(data_api, database, monkeypatch):
    monkeypatch.setattr(bootstrap_handler, "RESUME_WAIT_S", 0.05)
    data_api.resuming = 10_000
    body = run({**EVENT, "RequestType": "Create"})
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("DatabaseResuming: the database was still resuming") and "deploy again" in body["Reason"]


def test_delete_sends_nothing_and_leaves_the_role(data_api, database):
    no_migrator(database)
    assert run({**EVENT, "RequestType": "Create"})["Status"] == "SUCCESS"
    data_api.sent.clear()
    body = run({**EVENT, "RequestType": "Delete", "PhysicalResourceId": "docai-db-role-docai_migrator"})
    assert body["Status"] == "SUCCESS" and data_api.sent == []
    assert role(database)[0] == (True, False)


@pytest.mark.parametrize("name, value", [
    ("DB_CLUSTER_ARN", "arn:aws:rds:us-east-1:123456789012:db:docai-test-db"),  # an instance, not the cluster
    ("DB_CLUSTER_ARN", ""),
    ("DB_SECRET_ARN", "docai-test-db-master"),
    ("DB_NAME", "docai; DROP ROLE postgres"),
    ("DB_USER", "docai_writer"),  # this function creates docai_migrator and nothing else
])
def test_bad_configuration_fails_at_once_naming_the_variable_and_the_fix(data_api, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    body = run({**EVENT, "RequestType": "Create"})
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"BadConfiguration: {name} is {value!r}; expected ")
    assert data_api.sent == []  # nothing reached the database


def test_an_sql_error_fails_the_resource_with_the_databases_words(data_api, database, monkeypatch):
    monkeypatch.setattr(bootstrap_handler, "STATEMENTS", ("GRANT rds_nonexistent TO docai_migrator",))
    body = run({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-db-role-docai_migrator"})
    assert body["Status"] == "FAILED" and "DatabaseErrorException" in body["Reason"] and "rds_nonexistent" in body["Reason"]
