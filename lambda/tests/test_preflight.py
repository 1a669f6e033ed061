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


def test_reserved_concurrency_that_leaves_less_than_the_unreserved_minimum_blocks():
    problems = check({"ml.g5.xlarge": 1}, 150, *clients(2.0, 10))
    assert problems == [
        "Lambda quota 'Concurrent executions' (L-B99A9384) is 10, the stage reserves 150 and 10 must stay unreserved, so it needs 160. Raise it: "
        "aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 1000"
    ]


# --- against recorded Service Quotas / Lambda answers of a new account -----------------------------

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "quotas")


def run_main(fixture, capsys, reserved=0, peak=0):
    import preflight_quotas

    argv = ["preflight", "--stage", "pilot", "--reserved-concurrency", str(reserved), "--peak-concurrency", str(peak),
            "--endpoint-instances=ml.g5.xlarge=1", "--recorded-responses", os.path.join(FIXTURES, fixture)]
    old = sys.argv
    sys.argv = argv
    try:
        code = preflight_quotas.main()
    finally:
        sys.argv = old
    return code, capsys.readouterr().out


def test_a_fresh_account_blocks_on_the_gpu_quota_only_and_names_the_increase(capsys):
    code, out = run_main("fresh-account.json", capsys, reserved=0, peak=9)
    assert code == 1
    assert "FAIL SageMaker quota 'ml.g5.xlarge for endpoint usage' (L-1928E07B) is 0, the stage needs 1. Raise it: " \
        "aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-1928E07B --desired-value 1" in out
    # Lambda concurrency 10 is enough when nothing is reserved (the pilot reserves none).
    assert "ok   Lambda 'Concurrent executions' = 10 (the stage reserves 0)" in out
    assert out.count("FAIL") == 1


def test_after_the_gpu_increase_the_fresh_account_passes_with_a_throughput_warning(capsys):
    code, out = run_main("gpu-granted.json", capsys, reserved=0, peak=30)
    assert code == 0
    assert "ok   SageMaker 'ml.g5.xlarge for endpoint usage' = 1 (need 1)" in out
    assert "warn Lambda 'Concurrent executions' = 10 is below the 30 the stage can drive at once" in out
