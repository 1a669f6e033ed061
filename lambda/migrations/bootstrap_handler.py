"""CloudFormation custom resource: creates the database role the schema migrations log in as
(``docai_migrator``, IAM authentication, rds_superuser), through the RDS Data API as the master user.

Why the Data API: this function runs outside the VPC and needs no interface endpoint; the master
password stays in the RDS-managed secret, which only the Data API reads (with this function's
credentials: "Data API transparently calls Secrets Manager, which allows (or denies) the user's request
for the secret", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html).
The migrations function then logs in as ``docai_migrator`` with an IAM token and never reads the secret.

Create and Update run the statements below, each idempotent, one per ExecuteStatement (the Data API
runs no multi-statement SQL: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.troubleshooting.html).
- the role with LOGIN and CREATEROLE, created only when absent (a role that exists without them gets
  them): the migrations create the functions' roles, and CREATEROLE is an attribute, which membership in
  rds_superuser does not pass on ("never inherited", https://www.postgresql.org/docs/current/role-membership.html);
- ``GRANT rds_iam``: logins with IAM tokens (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html);
- ``GRANT rds_superuser``: extensions, roles and grants the migrations create; the master user may grant
  it (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html).
  Granting a membership again is a notice in PostgreSQL, not an error.
- ``GRANT CREATE ON SCHEMA public``: since PostgreSQL 15 only the database owner (the master user) may
  create in ``public`` (https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-PUBLIC),
  where the migrations create the tables.
Delete does nothing: the role owns the schema the data lives in; the database's removal policy decides.

A paused database (0 ACU) answers DatabaseResumingException and resumes: the call is repeated every few
seconds for a bounded time, then the resource fails with DatabaseResuming, naming it. Bad configuration
(a malformed ARN or database name) fails at once with the variable, the value and the fix. The function
always answers CloudFormation, also on failure.

Environment: DB_CLUSTER_ARN (the Aurora cluster), DB_SECRET_ARN (its RDS-managed master secret), DB_NAME,
DB_USER (the login to create: docai_migrator, the only one this function creates).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from docai_shared.db import MIGRATOR_ROLE, DatabaseResuming, data_api_resuming
from docai_shared.observability import Logger
from migrations_handler import send_response

log = Logger("bootstrap")

ROLE = MIGRATOR_ROLE
if not re.fullmatch(r"[a-z_][a-z0-9_]*", ROLE):  # pasted into SQL below: a fixed name, never input
    raise RuntimeError(f"role name {ROLE!r} is not a plain identifier")
STATEMENTS = (
    f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} LOGIN CREATEROLE; END IF; END $$",
    f"ALTER ROLE {ROLE} LOGIN CREATEROLE",
    f"GRANT rds_iam TO {ROLE}",
    f"GRANT rds_superuser TO {ROLE}",
    f"GRANT USAGE, CREATE ON SCHEMA public TO {ROLE}",
)

# A resume takes ~15 s, 30 s or more after a day paused (docai_shared.db, "connections"): keep trying for
# five times the longer one, within the function's time.
RESUME_WAIT_S = 150.0
RESUME_POLL_S = 5.0
# Kept for answering CloudFormation after the last attempt.
ANSWER_RESERVE_S = 10.0

_CLUSTER_ARN = re.compile(r"arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[a-z][a-z0-9-]{0,62}")
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+")
_DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class BadConfiguration(ValueError):
    """A variable the construct sets is missing or malformed: retrying cannot help."""


@dataclass(frozen=True)
class Target:
    cluster_arn: str
    secret_arn: str
    database: str

    @classmethod
    def from_env(cls, env: Any = None) -> "Target":
        env = os.environ if env is None else env

        def need(name: str, pattern: re.Pattern, fix: str) -> str:
            value = env.get(name)
            if not value or not pattern.fullmatch(value):
                raise BadConfiguration(f"{name} is {str(value)[:200]!r}; expected {fix}")
            return value

        user = env.get("DB_USER", ROLE)
        if user != ROLE:
            raise BadConfiguration(f"DB_USER is {str(user)[:200]!r}; expected {ROLE} (the login the migrations use; no other is created here)")
        return cls(
            need("DB_CLUSTER_ARN", _CLUSTER_ARN, "the ARN of the Aurora DB cluster (arn:aws:rds:<region>:<account>:cluster:<name>)"),
            need("DB_SECRET_ARN", _SECRET_ARN, "the ARN of the cluster's master user secret (MasterUserSecret.SecretArn)"),
            need("DB_NAME", _DATABASE, "the database name the cluster was created with (letters, digits, _; at most 63)"),
        )


def _client() -> Any:
    import boto3

    return boto3.client("rds-data")


def execute(target: Target, sql: str, client: Any, deadline: float, clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> dict:
    """One statement; a paused database is waited for until ``deadline`` (clock time), then DatabaseResuming."""
    started, attempts = clock(), 0
    while True:
        attempts += 1
        try:
            return client.execute_statement(resourceArn=target.cluster_arn, secretArn=target.secret_arn, database=target.database, sql=sql)
        except Exception as e:
            if not data_api_resuming(e):
                raise
            if clock() + RESUME_POLL_S > deadline:
                raise DatabaseResuming(f"the database was still resuming after {clock() - started:.0f} s ({attempts} Data API attempts): "
                                       "deploy again in a minute (the attempts woke it)") from e
            log.info("database resuming", attempts=attempts)
            sleep(RESUME_POLL_S)


def handle(event: dict, context: Any = None, client: Any = None, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> tuple[str, dict]:
    """Returns (reason, data). Raises on failure."""
    request = event["RequestType"]
    if request == "Delete":
        return f"Delete: role {ROLE} left in place", {}
    target = Target.from_env()
    budget = RESUME_WAIT_S
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        budget = min(budget, context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S)
    deadline = clock() + budget
    client = client or _client()
    for sql in STATEMENTS:
        execute(target, sql, client, deadline, clock, sleep)
    return f"{request}: role {ROLE} can log in with IAM authentication (rds_iam, rds_superuser)", {"Role": ROLE}


def handler(event: dict, context: Any) -> None:
    physical_id = event.get("PhysicalResourceId") or f"docai-db-role-{ROLE}"
    try:
        reason, data = handle(event, context)
        log.info("bootstrap done", request=event.get("RequestType"), reason=reason)
        send_response(event, "SUCCESS", reason, physical_id, data)
    except Exception as e:  # always answer CloudFormation
        log.error("bootstrap failed", request=event.get("RequestType"), error=repr(e))
        send_response(event, "FAILED", f"{type(e).__name__}: {e}", physical_id)
