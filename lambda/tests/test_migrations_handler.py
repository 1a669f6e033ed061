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
    with pglite_server() as p:
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


def test_create_applies_the_migrations_and_answers_success(port, monkeypatch):
    [(url, method, body)] = run({**EVENT, "RequestType": "Create"}, port, monkeypatch)
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
