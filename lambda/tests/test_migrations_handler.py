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
    monkeypatch.setattr(migrations_handler, "master_connection", connect_fn or (lambda: connect(port)))
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


def test_create_reads_the_master_secret_and_connects_with_it(port, monkeypatch):
    """The real master_connection: the secret is read through Secrets Manager (moto), only the network leg is PGlite."""
    import boto3
    from moto import mock_aws

    from docai_shared import db

    seen = {}

    pglite_port = port

    def pglite_instead_of_rds(host, port, user, password, database, tls="verify-full"):
        seen.update(host=host, port=port, user=user, password=password, database=database, tls=tls)
        return connect(pglite_port)

    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        secret = {"host": "docai-test-db.cluster.local", "port": 5433, "username": "docai_master", "password": "s3cret", "dbname": "docai"}
        arn = sm.create_secret(Name="docai-test-db-master", SecretString=json.dumps(secret))["ARN"]
        monkeypatch.setenv("DB_SECRET_ARN", arn)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setattr(db, "connect_with_password", pglite_instead_of_rds)
        rec = Recorder()
        monkeypatch.setattr(migrations_handler, "opener", rec)
        migrations_handler.handler({**EVENT, "RequestType": "Update", "PhysicalResourceId": "docai-schema-migrations"}, None)
    [(_, _, body)] = rec.requests
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert seen == {"host": "docai-test-db.cluster.local", "port": 5433, "user": "docai_master", "password": "s3cret", "database": "docai", "tls": "verify-full"}


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
