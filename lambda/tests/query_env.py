"""The query path wired for tests: the real handlers, PGlite as the database, moto for S3/DynamoDB/SSM,
the local model service for the endpoints, and the retrieve function invoked through boto3's Lambda
client (served in-process by tests/local_models.py)."""
from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from datetime import date
from typing import Iterator

import boto3

import query_handler
import retrieve_handler
from query_service import QueryService
from docai_shared import db
from docai_shared.db import ChunkRecord, DocumentVersion, upsert_document
from gateway_env import REGION, clients_for, create_state, environment, gateway_config
from local_models import embed
from migrations_runner import apply_migrations
from pglite import connect, pglite_server

DIM = 64
MODEL = "BAAI/bge-base-en-v1.5"
AUDIT_BUCKET = "docai-test-audit"
# The pilot's shape: questions on their own serverless endpoint (no inference component); the
# documents' GPU endpoint is docai-test-embed (pipeline_worker.py).
QUESTION_ENDPOINT = "docai-test-question-embed"
DOCUMENT_ENDPOINT = "docai-test-embed"
RETRIEVE_FUNCTION = "docai-test-retrieve"
DB_HOST = "docai-test-db.cluster.local"
TIER_GROUPS = {"docai-tier-public": "public", "docai-tier-internal": "internal", "docai-tier-confidential": "confidential", "docai-tier-restricted": "restricted"}

CORPUS = [
    ("handbook/opening-hours.pdf", "public", "Opening hours", "The office opens at 9 am and closes at 6 pm on weekdays."),
    ("finance/payment-policy.pdf", "internal", "Payment terms", "Invoices are paid within 30 days of receipt by the finance team."),
    ("hr/executive-salaries.xlsx", "confidential", "Executive salaries", "Executive salaries for 2026: the chief executive earns 400000 EUR a year."),
    ("board/merger-plan.docx", "restricted", "Merger plan", "The board plans a merger with Example Corp in the second quarter."),
]


def load_corpus(conn) -> None:
    for i, (key, tier, heading, text) in enumerate(CORPUS):
        body = f"{heading}\n{text}"
        upsert_document(conn, DocumentVersion("docai-intake", key, f"v{i}", f"0{i}", tier, document_type=key.split("/")[0], document_date=date(2026, 1 + i, 1)),
                        [ChunkRecord(0, body, len(body.split()), embed(body, DIM), {"page": 1, "heading": heading})], role="docai_writer", embedding_model=MODEL)



@contextmanager
def corpus_database() -> Iterator:
    """A real PostgreSQL + pgvector (PGlite) with every migration and CORPUS stored: one per test module."""
    with pglite_server() as port:
        conn = connect(port)
        apply_migrations(conn, {"EMBEDDING_DIMENSION": DIM, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64})
        load_corpus(conn)
        try:
            yield conn
        finally:
            conn.close()

def query_environment(config: dict | None = None) -> dict:
    return {
        # The chain of the presets (Bedrock): the stages deploy no generation endpoint.
        **environment(config or gateway_config(models=["bedrock-nova-lite"])),
        "EMBEDDING_ENDPOINT": QUESTION_ENDPOINT, "EMBEDDING_INFERENCE_COMPONENT": "", "EMBEDDING_DIMENSION": str(DIM), "RETRIEVE_FUNCTION": RETRIEVE_FUNCTION,
        "AUDIT_BUCKET": AUDIT_BUCKET, "TIER_GROUPS": json.dumps(TIER_GROUPS), "DEFAULT_TOP_K": "4", "MAX_TOP_K": "20",
        "WORKFLOW": "query", "EMBEDDING_MODEL": MODEL, "DB_HOST": DB_HOST, "DB_PORT": "5432", "DB_NAME": "docai",
        # The retrieve function's own view of the caller (QueryApi sets these on it, not on the query function).
        "TIER_SOURCE": "cognito", "JWKS": pool_jwks(), "TOKEN_ISSUER": TOKEN_ISSUER, "TOKEN_AUDIENCES": json.dumps([TOKEN_CLIENT]),
    }


def create_aws_state() -> None:
    create_state()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=AUDIT_BUCKET, ObjectLockEnabledForBucket=True)


def reset_handlers(models_url: str | None = None) -> None:
    """Fresh handler state, as a cold start: a new query service built from the environment now. With
    ``models_url``: its clients for the model services and Lambda point at the local stand-in (as
    pipeline_worker injects its clients); without: the handler builds one on its next request."""
    retrieve_handler._connections.clear()
    query_handler.use(QueryService.from_env(clients=clients_for(models_url)) if models_url else None)


def use_pglite_for_readers(conn, logins: list) -> None:
    """As deployed, the retrieve function logs in with an IAM token for docai_reader_<tier>; only the
    TLS connection to RDS is replaced by the PGlite connection."""

    def connect(host, port, user, password, database, tls="verify-full", connect_timeout=None, ssl_context=None):
        assert host == DB_HOST and password.startswith(f"{host}:{port}/?Action=connect&DBUser={user}"), (user, password[:80])
        logins.append(user)
        return conn

    db.connect_with_password = connect


TOKEN_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"
TOKEN_CLIENT = "test-app-client"
_KEYS: dict = {}


def _pool_key(kid: str = "pool-key-1"):
    """The test user pool's RSA key pair (one per process): the retrieve function verifies with its public half."""
    if kid not in _KEYS:
        from cryptography.hazmat.primitives.asymmetric import rsa

        _KEYS[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[kid]


def pool_jwks() -> str:
    """The JWKS document of the test pool, as jwks_handler.py hands it to the retrieve function."""
    def b64int(i: int) -> str:
        return base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).decode().rstrip("=")
    nums = _pool_key().public_key().public_numbers()
    return json.dumps({"keys": [{"kid": "pool-key-1", "alg": "RS256", "kty": "RSA", "use": "sig", "n": b64int(nums.n), "e": b64int(nums.e)}]})


def signed_token(payload: dict, key=None, header: dict | None = None) -> str:
    """A JWT signed RS256 as Cognito signs ID tokens (with the test pool's key unless ``key``). The query
    handler does not check the signature (API Gateway's authorizer did); the retrieve function does."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    signing_input = f"{b64(header or {'kid': 'pool-key-1', 'alg': 'RS256'})}.{b64(payload)}"
    signature = (key or _pool_key()).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def unsigned_token(payload: dict) -> str:
    """A JWT's shape with this payload and a signature that verifies under no key."""
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{b64({'kid': 'pool-key-1', 'alg': 'RS256'})}.{b64(payload)}.c2lnbmF0dXJl"


def api_event(path: str, body, groups: str | list | None = "docai-tier-internal", sub: str = "user-alice", request_id: str = "req-1",
              content_type: str | None = "application/json") -> dict:
    """A REST API proxy event as the Cognito authorizer passes it (tests/fixtures/apigw-rest-cognito-event.json):
    every claim a string, cognito:groups flattened with commas, the verified ID token in Authorization
    with the groups as a JSON array, signed with the test pool's key. ``groups``: a comma-separated string or a list of names."""
    names = groups if isinstance(groups, list) else [g for g in (groups or "").split(",") if g]
    claims = {"sub": sub, "cognito:username": sub.replace("user-", ""), "token_use": "id", "exp": "Wed Dec 02 01:30:11 UTC 2026"}
    payload = {"sub": sub, "cognito:username": sub.replace("user-", ""), "token_use": "id", "exp": 4102444800, "iss": TOKEN_ISSUER, "aud": TOKEN_CLIENT}
    if groups is not None:
        claims["cognito:groups"] = ",".join(names)
        payload["cognito:groups"] = names
    headers = {"Authorization": signed_token(payload)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return {
        "resource": path, "path": path, "httpMethod": "POST", "headers": headers,
        "body": body if isinstance(body, str) else json.dumps(body),
        "requestContext": {"requestId": request_id, "authorizer": {"claims": claims}, "identity": {"sourceIp": "198.51.100.7"}},
    }
