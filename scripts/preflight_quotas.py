"""Quota checks for `npm run preflight` and `npm run deploy` (scripts/preflight.ts). Exit 1 when a
blocking quota is too low; each failure names the quota, the value found, the value needed and the
exact increase request.

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
    """Clients whose answers come from a file of recorded responses (botocore Stubber)."""

    def __init__(self, path: str, region: str):
        self.recorded = json.load(open(path, encoding="utf-8"))
        self.region_name = region

    def client(self, service: str) -> Any:
        import boto3
        from botocore.stub import Stubber

        c = boto3.client(service, region_name=self.region_name, aws_access_key_id="recorded", aws_secret_access_key="recorded")
        stub = Stubber(c)
        for operation, answers in self.recorded.get(service, {}).items():
            for answer in answers if isinstance(answers, list) else [answers]:
                stub.add_response(operation, answer)
        stub.activate()
        return c


def main() -> int:
    ap = StrictParser(description="Checks the account's quotas for a stage before deploying it.")
    ap.add_argument("--stage", required=True)
    ap.add_argument("--region")
    ap.add_argument("--reserved-concurrency", type=int, required=True)
    ap.add_argument("--peak-concurrency", type=int, default=0)
    ap.add_argument("--endpoint-instances", action="append", default=[], help="TYPE=COUNT")
    ap.add_argument("--recorded-responses", help="answer AWS calls from this JSON file (tests)")
    a = ap.parse_args()
    needs = {k: int(v) for k, v in (x.split("=") for x in a.endpoint_instances)}

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if a.recorded_responses:
        session: Any = RecordedSession(a.recorded_responses, a.region or "us-east-1")
    else:
        session = boto3.Session(region_name=a.region) if a.region else boto3.Session()
    try:
        if session.region_name is None:
            raise NoCredentialsError()
        session.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError):
        print(f"preflight ({a.stage}): no AWS credentials or region, so nothing was checked. With credentials it would check:")
        for t, n in needs.items():
            print(f"  - Service Quotas, sagemaker: '{endpoint_quota_name(t)}' >= {n}")
        print(f"  - Lambda 'Concurrent executions' >= {a.reserved_concurrency + UNRESERVED_MINIMUM} (the stage reserves {a.reserved_concurrency})")
        return 0
    problems = check(needs, a.reserved_concurrency, session.client("service-quotas"), session.client("lambda"), a.peak_concurrency)
    for p in problems:
        print(f"FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
