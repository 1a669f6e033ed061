import json

import pytest

import migrations_handler
from pglite import connect, pglite_server

EVENT = {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/docai-pilot-data/x",
    "RequestId": "req-1",
    "LogicalResourceId": "VectorDbMigrations",
    "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/resp?sig=1",
    "ResourceType": "Custom::DocaiSchemaMigrations",
    "ResourceProperties": {"ServiceToken": "arn", "EMBEDDING_DIMENSION": "4", "HNSW_M": "16", "HNSW_EF_CONSTRUCTION": "64", "SqlHash": "abc"},
}


@pytest.fixture(scope="module")
def port():
    """A database the first deploy migrated (its Create ran), whatever order the tests run in."""
    with pglite_server() as p:
        with pytest.MonkeyPatch.context() as mp:
            [(_, _, body)] = run({**EVENT, "RequestType": "Create"}, p, mp)
        assert body["Status"] == "SUCCESS", body
        yield p


class Recorder:
    def __init__(self):
        self.requests = []

    def __call__(self, req, timeout):
        self.requests.append((req.full_url, req.get_method(), json.loads(req.data)))

        class R:
            def read(self):
                return b""

        return R()


def run(event, port, monkeypatch, connect_fn=None):
    rec = Recorder()
    monkeypatch.setattr(migrations_handler, "opener", rec)
    monkeypatch.setattr(migrations_handler, "migrator_connection", connect_fn or (lambda: connect(port)))
    migrations_handler.handler(event, None)
    return rec.requests


def test_create_applies_the_migrations_and_answers_success(monkeypatch):
    with pglite_server() as fresh:
        [(url, method, body)] = run({**EVENT, "RequestType": "Create"}, fresh, monkeypatch)
    assert (url, method) == (EVENT["ResponseURL"], "PUT")
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "docai-schema-migrations"
    assert body["Data"]["Applied"].startswith("0001_extension_and_tiers,")
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (EVENT["StackId"], "req-1", "VectorDbMigrations")


def test_update_is_a_no_op_when_nothing_is_new(port, monkeypatch):
    [(_, _, body)] = run({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}, port, monkeypatch)
    assert body["Status"] == "SUCCESS" and body["Data"]["Applied"] == "none"


def test_delete_leaves_schema_and_data_in_place(port, monkeypatch):
    c = connect(port)
    before = c.run("SELECT count(*) FROM schema_migrations")[0][0]
    [(_, _, body)] = run({**EVENT, "RequestType": "Delete", "PhysicalResourceId": "docai-schema-migrations"}, port, monkeypatch)
    assert body["Status"] == "SUCCESS"
    assert c.run("SELECT count(*) FROM schema_migrations")[0][0] == before
    assert c.run("SELECT to_regclass('chunks')")[0][0] == "chunks"


def test_a_failure_still_answers_cloudformation_with_the_reason(port, monkeypatch):
    def broken():
        raise ConnectionError("could not reach the database")

    [(_, _, body)] = run({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}, port, monkeypatch, broken)
    assert body["Status"] == "FAILED"
    assert "could not reach the database" in body["Reason"]


def iam_environment(monkeypatch, port=5432):
    for k, v in {"DB_HOST": "docai-test-db.cluster.local", "DB_PORT": str(port), "DB_NAME": "docai", "DB_USER": "docai_migrator",
                 "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    monkeypatch.delenv("DB_TLS", raising=False)


def test_create_logs_in_with_iam_as_docai_migrator_and_reads_no_secret(port, monkeypatch):
    """The real migrator_connection: an IAM token signed for docai_migrator (recorded for the permission
    contract: rds-db:connect), TLS verified; only the network leg is PGlite. No Secrets Manager call."""
    from moto import mock_aws

    from docai_shared import db

    seen = {}
    pglite_port = port

    def pglite_instead_of_rds(host, port, user, password, database, tls="verify-full", connect_timeout=None, ssl_context=None):
        seen.update(host=host, port=port, user=user, token=password.startswith(f"{host}:{port}/?Action=connect&DBUser={user}"), database=database, tls=tls)
        return connect(pglite_port)

    with mock_aws():
        iam_environment(monkeypatch)
        monkeypatch.setattr(db, "connect_with_password", pglite_instead_of_rds)
        rec = Recorder()
        monkeypatch.setattr(migrations_handler, "opener", rec)
        migrations_handler.handler({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}, None)
    [(_, _, body)] = rec.requests
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert seen == {"host": "docai-test-db.cluster.local", "port": 5432, "user": "docai_migrator", "token": True, "database": "docai", "tls": "verify-full"}


def test_another_login_than_docai_migrator_is_refused_by_name(port, monkeypatch):
    iam_environment(monkeypatch)
    monkeypatch.setenv("DB_USER", "docai_master")
    rec = Recorder()
    monkeypatch.setattr(migrations_handler, "opener", rec)
    migrations_handler.handler({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}, None)
    [(_, _, body)] = rec.requests
    assert body["Status"] == "FAILED" and "DB_USER is 'docai_master'" in body["Reason"]


def test_a_paused_database_is_waited_for_and_one_that_stays_paused_fails_the_deploy_by_name(port, monkeypatch):
    """Behind tests/paused_db.py (connections held until the resume, as AWS documents it)."""
    from moto import mock_aws

    from docai_shared import db
    from paused_db import paused_database

    real = db.connect_with_password
    with paused_database(port) as proxy, mock_aws():
        iam_environment(monkeypatch)
        monkeypatch.setattr(db, "connect_with_password", lambda host, port, user, password, database, tls="verify-full", connect_timeout=None, ssl_context=None:
                            real("127.0.0.1", proxy.port, user, "unused", "postgres", tls="disable", connect_timeout=connect_timeout))
        monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1.0)
        event = {**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}
        proxy.pause(resume_s=2)
        monkeypatch.setattr(migrations_handler, "CONNECT_WAIT_S", 6.0)
        rec = Recorder()
        monkeypatch.setattr(migrations_handler, "opener", rec)
        migrations_handler.handler(event, None)
        assert rec.requests[-1][2]["Status"] == "SUCCESS", rec.requests[-1][2]["Reason"]
        proxy.pause(resume_s=30)
        monkeypatch.setattr(migrations_handler, "CONNECT_WAIT_S", 1.5)
        migrations_handler.handler(event, None)
    body = rec.requests[-1][2]
    assert body["Status"] == "FAILED" and body["Reason"].startswith("DatabaseResuming: ")


def test_upgrading_to_recorded_models_labels_the_chunks_already_stored_with_the_stages_model(monkeypatch, tmp_path):
    import shutil

    import migrations_runner

    with pglite_server() as fresh:
        conn = connect(fresh)
        before = tmp_path / "sql"
        shutil.copytree(migrations_runner.SQL_DIR, before)
        (before / "0006_embedding_model.sql").unlink()  # the schema as deployed before this version
        migrations_runner.apply_migrations(conn, {"EMBEDDING_DIMENSION": 4, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64}, str(before))
        conn.run("INSERT INTO documents (bucket, key, version_id, sequencer, access_tier, status, chunk_count) VALUES ('b', 'old.pdf', 'v1', '01', 'internal', 'stored', 1)")
        conn.run("INSERT INTO chunks (document_id, chunk_index, text, token_count, embedding, access_tier) SELECT id, 0, 'old', 1, '[1,0,0,0]', 'internal' FROM documents WHERE key = 'old.pdf'")
        event = {**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations",
                 "ResourceProperties": {**EVENT["ResourceProperties"], "EMBEDDING_MODEL": "BAAI/bge-base-en-v1.5"}}
        [(_, _, body)] = run(event, fresh, monkeypatch, connect_fn=lambda: connect(fresh))
        assert body["Status"] == "SUCCESS" and body["Data"]["Applied"] == "0006_embedding_model"
        assert "labelled 1 chunk(s)" in body["Reason"]
        assert conn.run("SELECT embedding_model FROM chunks") == [["BAAI/bge-base-en-v1.5"]]
        # the next deploy (a model change, say) labels nothing: new chunks carry their model
        [(_, _, body)] = run(event, fresh, monkeypatch, connect_fn=lambda: connect(fresh))
        assert body["Data"]["Applied"] == "none" and "labelled 0" in body["Reason"]
        conn.close()
