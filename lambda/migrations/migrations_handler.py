"""CloudFormation custom resource: applies schema migrations on every deploy.

Create and Update apply what is missing (the resource's properties carry a hash of the SQL files, so
any new migration triggers an Update). Delete does nothing to the data: dropping tables on stack
deletion would lose documents; the database's own removal policy decides their fate.

The function logs in with an IAM authentication token as ``docai_migrator`` (created by the bootstrap
custom resource, bootstrap_handler.py): the token is signed locally, so it needs no endpoint and never
reads the master secret. A database that is resuming from auto-pause is waited for (CONNECT_WAIT_S).

The function answers CloudFormation through the pre-signed S3 URL it is given (reached through the
VPC's S3 gateway endpoint), and always answers, also on failure, so a deploy never hangs for an hour.

Environment: DB_HOST, DB_PORT, DB_NAME, DB_USER (docai_migrator), AWS_REGION.
"""
from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from docai_shared.observability import Logger
from docai_shared.db import label_unrecorded_models
from migrations_runner import apply_migrations

log = Logger("migrations")


# How responses are sent; tests replace it to record them.
opener = urllib.request.urlopen


def send_response(event: dict, status: str, reason: str, physical_id: str, data: dict | None = None) -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason[:3000],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }).encode("utf-8")
    req = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))})
    opener(req, timeout=30).read()


# A resume takes ~15 s, 30 s or more after a day paused (docai_shared.db): the function's 5 minutes cover the wait.
CONNECT_WAIT_S = 120.0


def migrator_connection() -> Any:
    from docai_shared.db import MIGRATOR_ROLE, connect_from_env_as

    user = os.environ.get("DB_USER", MIGRATOR_ROLE)
    if user != MIGRATOR_ROLE:
        raise ValueError(f"DB_USER is {user!r}; the migrations log in as {MIGRATOR_ROLE} (the bootstrap custom resource creates it)")
    return connect_from_env_as(user, wait_s=CONNECT_WAIT_S)


def handle(event: dict) -> tuple[str, dict]:
    """Returns (reason, data). Raises on failure."""
    request = event["RequestType"]
    if request == "Delete":
        return "Delete: schema and data left in place", {}
    props = event.get("ResourceProperties", {})
    params = {k: props.get(k) for k in ("EMBEDDING_DIMENSION", "HNSW_M", "HNSW_EF_CONSTRUCTION")}
    conn = migrator_connection()
    labelled = 0
    try:
        applied = apply_migrations(conn, params)
        # Chunks stored before the model was recorded were embedded by the model the stage has now
        # (upgrade to this version before changing the model: README).
        if "0006_embedding_model" in applied and props.get("EMBEDDING_MODEL"):
            conn.run("BEGIN")
            labelled = label_unrecorded_models(conn, props["EMBEDDING_MODEL"])
            conn.run("COMMIT")
    finally:
        conn.close()
    return f"{request}: applied {len(applied)} migration(s), labelled {labelled} chunk(s) with their model", {"Applied": ",".join(applied) or "none"}


def handler(event: dict, context: Any) -> None:
    physical_id = event.get("PhysicalResourceId") or "docai-schema-migrations"
    try:
        reason, data = handle(event)
        log.info("migrations done", request=event.get("RequestType"), reason=reason)
        send_response(event, "SUCCESS", reason, physical_id, data)
    except Exception as e:  # always answer CloudFormation
        log.error("migrations failed", request=event.get("RequestType"), error=repr(e))
        send_response(event, "FAILED", f"{type(e).__name__}: {e}", physical_id)
