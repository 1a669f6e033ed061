"""Quota checks for `npm run preflight` (see scripts/preflight.ts). Exit 1 when a quota is too low."""
from __future__ import annotations

import argparse
import sys
from typing import Any


def endpoint_quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def find_quotas(quotas_client: Any, names: set[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for page in quotas_client.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker"):
        for q in page["Quotas"]:
            if q["QuotaName"] in names:
                found[q["QuotaName"]] = q
    return found


def check(endpoint_needs: dict[str, int], reserved: int, quotas_client: Any, lambda_client: Any) -> list[str]:
    """Returns problems, one line each, naming the quota to raise and how."""
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
    if limit - reserved < 100:
        problems.append(
            f"Lambda concurrent executions limit is {limit}; the stage reserves {reserved} and AWS keeps at least 100 unreserved in accounts that can: "
            "raise 'Concurrent executions' (L-B99A9384) with aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 1000"
        )
    else:
        print(f"ok   Lambda concurrency limit {limit} (stage reserves {reserved})")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--region")
    ap.add_argument("--reserved-concurrency", type=int, required=True)
    ap.add_argument("--endpoint-instances", action="append", default=[], help="TYPE=COUNT")
    a = ap.parse_args()
    needs = {k: int(v) for k, v in (x.split("=") for x in a.endpoint_instances)}

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    session = boto3.Session(region_name=a.region) if a.region else boto3.Session()
    try:
        if session.region_name is None:
            raise NoCredentialsError()
        session.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError):
        print(f"preflight ({a.stage}): no AWS credentials or region, so nothing was checked. With credentials it would check:")
        for t, n in needs.items():
            print(f"  - Service Quotas, sagemaker: '{endpoint_quota_name(t)}' >= {n}")
        print(f"  - Lambda account concurrency limit >= {a.reserved_concurrency + 100} (the stage reserves {a.reserved_concurrency})")
        return 0
    problems = check(needs, a.reserved_concurrency, session.client("service-quotas"), session.client("lambda"))
    for p in problems:
        print(f"FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
