import os
import sys

import boto3
from botocore.stub import Stubber

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from preflight_quotas import check  # noqa: E402


def clients(g5_value: float, lambda_limit: int):
    sq = boto3.client("service-quotas", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    lm = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    s1, s2 = Stubber(sq), Stubber(lm)
    s1.add_response("list_service_quotas", {"Quotas": [
        {"ServiceCode": "sagemaker", "QuotaName": "ml.g5.xlarge for endpoint usage", "QuotaCode": "L-1928E07B", "Value": g5_value},
        {"ServiceCode": "sagemaker", "QuotaName": "ml.g5.2xlarge for endpoint usage", "QuotaCode": "L-9614C779", "Value": 4.0},
    ]}, {"ServiceCode": "sagemaker"})
    s2.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": lambda_limit, "TotalCodeSize": 1, "CodeSizeUnzipped": 1, "CodeSizeZipped": 1, "UnreservedConcurrentExecutions": lambda_limit}})
    s1.activate(); s2.activate()
    return sq, lm


def test_a_zero_gpu_quota_names_the_quota_and_the_command():
    problems = check({"ml.g5.xlarge": 1}, 150, *clients(0.0, 1000))
    assert len(problems) == 1
    assert "'ml.g5.xlarge for endpoint usage' (L-1928E07B) is 0, the stage needs 1" in problems[0]
    assert "--quota-code L-1928E07B --desired-value 1" in problems[0]


def test_enough_quota_passes():
    assert check({"ml.g5.xlarge": 1}, 150, *clients(2.0, 1000)) == []


def test_a_new_account_lambda_limit_is_reported():
    problems = check({"ml.g5.xlarge": 1}, 150, *clients(2.0, 10))
    assert any("Lambda concurrent executions limit is 10" in p for p in problems)
