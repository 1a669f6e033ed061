"""Checks for `npm run preflight` and `npm run deploy` (scripts/preflight.ts): the quotas below and the
account prerequisites of preflight_account.py (API Gateway logging role, CDK bootstrap, Bedrock model
lifecycle and access, active cost-allocation tags). Exit 1 when one blocks; each failure names what was found, what is needed and
the exact fix.

Blocking (the deploy would fail):
- SageMaker "<instance type> for endpoint usage" >= the stage's maximum endpoint instances: a new
  account often has 0, and CreateEndpoint then fails with ResourceLimitExceeded.
- Lambda: reserved concurrency must leave the unreserved minimum (10) of the account's limit free
  ("decreases account's UnreservedConcurrentExecution below its minimum value"). This project reserves
  none, so this only blocks a stage that sets some.
Warning (the deploy works, throughput is throttled and retried):
- Lambda concurrency limit below what the stage can drive at once.

`--recorded-responses FILE` answers the AWS calls from a file of recorded responses (tests).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_args import StrictParser  # noqa: E402
from preflight_account import check_apigateway_role, check_bootstrap, check_cost_allocation_tags, check_models  # noqa: E402
from model_artifacts import TABLE, bucket_name, check_staged, load_table  # noqa: E402
import json
import sys
from typing import Any

UNRESERVED_MINIMUM = 10
LAMBDA_QUOTA_CODE = "L-B99A9384"  # Lambda "Concurrent executions"


def endpoint_quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def find_quotas(quotas_client: Any, names: set[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for page in quotas_client.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker"):
        for q in page["Quotas"]:
            if q["QuotaName"] in names:
                found[q["QuotaName"]] = q
    return found


def check(endpoint_needs: dict[str, int], reserved: int, quotas_client: Any, lambda_client: Any, peak_concurrency: int = 0) -> list[str]:
    """Returns blocking problems, one line each, naming the quota to raise and how. Prints ok/warn lines."""
    problems = []
    names = {endpoint_quota_name(t): t for t in endpoint_needs}
    found = find_quotas(quotas_client, set(names))
    for name, instance_type in names.items():
        need = endpoint_needs[instance_type]
        q = found.get(name)
        if q is None:
            problems.append(f"SageMaker quota '{name}' not found in this region: {instance_type} may not be offered here; pick another region or instance type.")
            continue
        if q["Value"] < need:
            problems.append(
                f"SageMaker quota '{name}' ({q['QuotaCode']}) is {q['Value']:.0f}, the stage needs {need}. Raise it: "
                f"aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code {q['QuotaCode']} --desired-value {need}"
            )
        else:
            print(f"ok   SageMaker '{name}' = {q['Value']:.0f} (need {need})")
    limit = lambda_client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    if limit - reserved < UNRESERVED_MINIMUM:
        need = reserved + UNRESERVED_MINIMUM
        problems.append(
            f"Lambda quota 'Concurrent executions' ({LAMBDA_QUOTA_CODE}) is {limit}, the stage reserves {reserved} and {UNRESERVED_MINIMUM} must stay unreserved, so it needs {need}. Raise it: "
            f"aws service-quotas request-service-quota-increase --service-code lambda --quota-code {LAMBDA_QUOTA_CODE} --desired-value {max(need, 1000)}"
        )
    else:
        print(f"ok   Lambda 'Concurrent executions' = {limit} (the stage reserves {reserved})")
        if peak_concurrency and limit < peak_concurrency:
            print(
                f"warn Lambda 'Concurrent executions' = {limit} is below the {peak_concurrency} the stage can drive at once: bursts are throttled and retried, "
                f"not lost. For production throughput: aws service-quotas request-service-quota-increase --service-code lambda --quota-code {LAMBDA_QUOTA_CODE} --desired-value 1000"
            )
    return problems


class RecordedSession:
    """Clients whose answers come from a file of recorded responses, each checked against botocore's
    service model (Stubber). Keys are a service (`ssm`) or a service in one region (`ssm@us-east-1`);
    each operation keeps its own queue, so the order of calls across operations does not matter. An
    answer {"Error": {"Code": ..., "Message": ...}} is returned as that error."""

    def __init__(self, path: str, region: str):
        self.recorded = json.load(open(path, encoding="utf-8"))
        self.region_name = region

    def client(self, service: str, region_name: str | None = None) -> Any:
        region = region_name or self.region_name
        answers = self.recorded.get(f"{service}@{region}", self.recorded.get(service, {}))
        return _RecordedClient(service, region, answers)


class _RecordedClient:
    def __init__(self, service: str, region: str, answers: dict):
        import boto3
        from botocore.stub import Stubber

        self._clients = {}
        for operation, listed in answers.items():
            c = boto3.client(service, region_name=region, aws_access_key_id="recorded", aws_secret_access_key="recorded")
            stub = Stubber(c)
            for answer in listed if isinstance(listed, list) else [listed]:
                if "Error" in answer:
                    stub.add_client_error(operation, service_error_code=answer["Error"]["Code"], service_message=answer["Error"].get("Message", ""), http_status_code=answer["Error"].get("HTTPStatusCode", 400))
                else:
                    stub.add_response(operation, answer)
            stub.activate()
            self._clients[operation] = c

    def get_paginator(self, operation: str) -> Any:
        return self._clients[operation].get_paginator(operation)

    def __getattr__(self, operation: str) -> Any:
        if operation not in self._clients:
            raise AssertionError(f"no recorded answer for {operation}")
        return getattr(self._clients[operation], operation)


def main() -> int:
    ap = StrictParser(description="Checks the account's quotas for a stage before deploying it.")
    ap.add_argument("--stage", required=True)
    ap.add_argument("--region")
    ap.add_argument("--reserved-concurrency", type=int, required=True)
    ap.add_argument("--peak-concurrency", type=int, default=0)
    ap.add_argument("--endpoint-instances", action="append", default=[], help="TYPE=COUNT")
    ap.add_argument("--recorded-responses", help="answer AWS calls from this JSON file (tests)")
    ap.add_argument("--bootstrap-parameter", help="SSM parameter of the CDK bootstrap version (from the synthesized assembly)")
    ap.add_argument("--bootstrap-version", type=int, default=0, help="bootstrap version the synthesized assembly requires")
    ap.add_argument("--bootstrap-region", action="append", default=[], help="regions of pinned stacks (the cost stack: us-east-1)")
    ap.add_argument("--models", default="[]", help="JSON: the gateway chains' Bedrock models with their invocation per region (lib/config/model-catalog.ts)")
    ap.add_argument("--apigateway-role-owned", action="store_true", help="the stage owns the API Gateway account role (apiGatewayAccountRole)")
    ap.add_argument("--staged-model", action="append", default=[], help="a model the endpoints load from this account's bucket (lib/gpu-inference/model-artifacts.json)")
    ap.add_argument("--model-table", default=TABLE, help="the model artifacts table (tests pass a fixture)")
    ap.add_argument("--cost-allocation-tag", action="append", default=[], help="a tag key the stage's budgets filter on (must be an active cost-allocation tag)")
    ap.add_argument("--tags-activated-by-stage", action="store_true", help="the stage activates its cost-allocation tags on deploy (activateCostAllocationTags)")
    a = ap.parse_args()
    needs = {k: int(v) for k, v in (x.split("=") for x in a.endpoint_instances)}
    models = json.loads(a.models)

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if a.recorded_responses:
        session: Any = RecordedSession(a.recorded_responses, a.region or "us-east-1")
    else:
        session = boto3.Session(region_name=a.region) if a.region else boto3.Session()
    try:
        if session.region_name is None:
            raise NoCredentialsError()
        identity = session.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError):
        print(f"preflight ({a.stage}): no AWS credentials or region, so nothing was checked. With credentials it would check:")
        for t, n in needs.items():
            print(f"  - Service Quotas, sagemaker: '{endpoint_quota_name(t)}' >= {n}")
        print(f"  - Lambda 'Concurrent executions' >= {a.reserved_concurrency + UNRESERVED_MINIMUM} (the stage reserves {a.reserved_concurrency})")
        if not a.apigateway_role_owned:
            print("  - API Gateway: the account's CloudWatch Logs role is set (apigateway get-account -> cloudwatchRoleArn)")
        if a.bootstrap_parameter:
            print(f"  - CDK bootstrap: {a.bootstrap_parameter} >= {a.bootstrap_version} in the stage's region and {', '.join(a.bootstrap_region)}")
        for m in models:
            print(f"  - Bedrock {m['modelId']} (gateway.models.{m['name']}): GetFoundationModel, GetFoundationModelAvailability, and GetInferenceProfile where the region calls it through one")
        for m in a.staged_model:
            print(f"  - Model artifacts of {m}: S3 HeadObject of models/{m}/<revision>/model.tar.gz in {bucket_name('<account>', '<region>')}, staged from the checksums of lib/gpu-inference/model-artifacts.json")
        if a.cost_allocation_tag:
            print(f"  - Cost Explorer (us-east-1): cost-allocation tags {', '.join(a.cost_allocation_tag)} are Active (ListCostAllocationTags): the stage's budgets and daily growth alert filter on them")
        return 0
    problems = check(needs, a.reserved_concurrency, session.client("service-quotas"), session.client("lambda"), a.peak_concurrency)
    region = session.region_name
    account = identity["Account"]
    if not a.apigateway_role_owned:
        problems += check_apigateway_role(session.client("apigateway"), region, account)
    else:
        print(f"ok   API Gateway CloudWatch Logs role in {region}: owned by the stage (apiGatewayAccountRole)")
    if a.bootstrap_parameter:
        regions = list(dict.fromkeys([region, *a.bootstrap_region]))
        problems += check_bootstrap({r: session.client("ssm", region_name=r) for r in regions}, a.bootstrap_parameter, a.bootstrap_version, account)
    if models:
        problems += check_models(session.client("bedrock"), region, models)
    if a.staged_model:
        problems += check_staged(session.client("s3"), account, region, a.staged_model, load_table(a.model_table))
    if a.cost_allocation_tag:
        # Cost Explorer's endpoint is in us-east-1 whatever the stage's region.
        problems += check_cost_allocation_tags(session.client("ce", region_name="us-east-1"), a.cost_allocation_tag, a.tags_activated_by_stage)
    for p in problems:
        print(f"FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
