"""CloudFormation custom resource (Custom::DocaiDatabaseBootstrap): creates the login the migrations
use, through the RDS Data API, from outside the VPC.

Placeholder for the wiring (lib/vector-database/vector-database.ts): the body is written separately.
It reads DB_CLUSTER_ARN, DB_SECRET_ARN (the RDS-managed master secret), DB_NAME and DB_USER (the
login to create, docai_migrator) and runs, idempotently, CREATE ROLE <DB_USER> LOGIN and
GRANT rds_iam, rds_superuser TO <DB_USER> with rds-data:ExecuteStatement.
"""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("bootstrap_handler: the Data API bootstrap is not implemented in this placeholder")
