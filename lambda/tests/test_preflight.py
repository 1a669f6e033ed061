import json
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


# What scripts/preflight.ts passes for the pilot (nova-lite then nova-micro, in us-east-1 in-region).
def _model(name, model_id):
    return {"name": name, "modelId": model_id, "invocation": {"us-east-1": model_id, "eu-west-1": f"eu.{model_id}"},
            "destinations": {"us-east-1": ["us-east-1"], "eu-west-1": ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]}}


MODELS = [_model("bedrock-nova-lite", "amazon.nova-lite-v1:0"), _model("bedrock-nova-micro", "amazon.nova-micro-v1:0")]
ACCOUNT_ARGS = ["--bootstrap-parameter", "/cdk-bootstrap/hnb659fds/version", "--bootstrap-version", "6", "--bootstrap-region", "us-east-1", "--models", json.dumps(MODELS),
                "--staged-model", "BAAI/bge-base-en-v1.5", "--model-table", os.path.join(FIXTURES, "model-artifacts.json"),
                "--cost-allocation-tag", "Project", "--cost-allocation-tag", "Environment"]


def run_main(fixture, capsys, reserved=0, peak=0):
    import preflight_quotas

    argv = ["preflight", "--stage", "pilot", "--reserved-concurrency", str(reserved), "--peak-concurrency", str(peak),
            "--endpoint-instances=ml.g5.xlarge=1", "--recorded-responses", os.path.join(FIXTURES, fixture)]
    argv += ACCOUNT_ARGS
    old = sys.argv
    sys.argv = argv
    try:
        code = preflight_quotas.main()
    finally:
        sys.argv = old
    return code, capsys.readouterr().out


def test_a_fresh_account_blocks_on_the_gpu_quota_and_names_the_increase(capsys):
    code, out = run_main("fresh-account.json", capsys, reserved=0, peak=9)
    assert code == 1
    assert "FAIL SageMaker quota 'ml.g5.xlarge for endpoint usage' (L-1928E07B) is 0, the stage needs 1. Raise it: " \
        "aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-1928E07B --desired-value 1" in out
    # Lambda concurrency 10 is enough when nothing is reserved (the pilot reserves none).
    assert "ok   Lambda 'Concurrent executions' = 10 (the stage reserves 0)" in out
    # The quota and the five account prerequisites (test_a_fresh_account_refuses_once_per_missing_prerequisite).
    assert out.count("FAIL") == 6


def test_after_the_gpu_increase_the_fresh_account_passes_with_a_throughput_warning(capsys):
    code, out = run_main("gpu-granted.json", capsys, reserved=0, peak=30)
    assert code == 0
    assert "ok   SageMaker 'ml.g5.xlarge for endpoint usage' = 1 (need 1)" in out
    assert "warn Lambda 'Concurrent executions' = 10 is below the 30 the stage can drive at once" in out


# --- account prerequisites (scripts/preflight_account.py) -------------------------------------------


def test_a_fresh_account_refuses_once_per_missing_prerequisite_naming_each_fix(capsys):
    code, out = run_main("fresh-account.json", capsys)
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL ") and "SageMaker quota" not in line]
    assert len(fails) == 5, out
    apigw, bootstrap, access, eol, artifacts = fails
    assert artifacts.startswith("FAIL Model artifacts (BAAI/bge-base-en-v1.5@a5beb1e3e68b): s3://docai-models-111122223333-us-east-1/models/BAAI/bge-base-en-v1.5/")
    assert "is not staged (HeadObject: 404)" in artifacts and "Fix: python3 scripts/stage_model.py --model BAAI/bge-base-en-v1.5 --bucket docai-models-111122223333-us-east-1 --region us-east-1" in artifacts
    assert apigw.startswith("FAIL API Gateway CloudWatch Logs role (us-east-1): none is set")
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in apigw and "aws apigateway update-account --region us-east-1 --patch-operations op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::111122223333:role/<role>" in apigw
    assert "-c apiGatewayAccountRole=true (one per account and region)" in apigw
    assert bootstrap == "FAIL CDK bootstrap (us-east-1): /cdk-bootstrap/hnb659fds/version does not exist (the region is not bootstrapped); the stage's templates need version 6 or later. Fix: npx cdk bootstrap aws://111122223333/us-east-1"
    assert access.startswith("FAIL Bedrock model amazon.nova-lite-v1:0 (gateway.models.bedrock-nova-lite, us-east-1): model access is not granted (authorizationStatus NOT_AUTHORIZED")
    assert "https://console.aws.amazon.com/bedrock/home?region=us-east-1#/modelaccess" in access and "create-foundation-model-agreement --model-id amazon.nova-lite-v1:0" in access
    assert eol.startswith("FAIL Bedrock model amazon.nova-micro-v1:0 (gateway.models.bedrock-nova-micro, us-east-1): Bedrock answers ResourceNotFoundException (This model version has reached the end of its life")
    assert "set gateway.models.bedrock-nova-micro.modelId to an ACTIVE model" in eol


def test_a_ready_account_passes_every_prerequisite(capsys):
    code, out = run_main("gpu-granted.json", capsys)
    assert code == 0, out
    assert "ok   API Gateway CloudWatch Logs role in us-east-1 = arn:aws:iam::111122223333:role/apigateway-cloudwatch-logs" in out
    assert "ok   CDK bootstrap in us-east-1 = version 30 (need 6)" in out
    assert "ok   Bedrock model amazon.nova-lite-v1:0 (gateway.models.bedrock-nova-lite, us-east-1): ACTIVE, access granted, called as amazon.nova-lite-v1:0" in out
    assert "ok   Bedrock model amazon.nova-micro-v1:0 (gateway.models.bedrock-nova-micro, us-east-1): ACTIVE, access granted, called as amazon.nova-micro-v1:0" in out
    assert "ok   Model artifacts BAAI/bge-base-en-v1.5@a5beb1e3e68b staged at s3://docai-models-111122223333-us-east-1/models/BAAI/bge-base-en-v1.5/" in out
    assert "ok   Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): Active" in out


def test_the_shipped_table_refuses_until_its_checksums_are_recorded(capsys):
    """lib/gpu-inference/model-artifacts.json pins the revision; its checksums are recorded by the first
    staging with internet (stage_model.py --record): until then no deploy passes the preflight."""
    table = ACCOUNT_ARGS.index("--model-table") + 1
    ACCOUNT_ARGS[table] = os.path.join(os.path.dirname(__file__), "..", "..", "lib", "gpu-inference", "model-artifacts.json")
    try:
        code, out = run_main("gpu-granted.json", capsys)
    finally:
        ACCOUNT_ARGS[table] = os.path.join(FIXTURES, "model-artifacts.json")
    assert code == 1 and "FAIL Model artifacts (BAAI/bge-base-en-v1.5@a5beb1e3e68b): no SHA-256 recorded for config.json" in out


def test_a_stage_that_owns_the_api_gateway_role_is_not_refused_for_the_account_having_none(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", sys.argv)
    ACCOUNT_ARGS.append("--apigateway-role-owned")
    try:
        code, out = run_main("fresh-account.json", capsys)
    finally:
        ACCOUNT_ARGS.remove("--apigateway-role-owned")
    assert "FAIL API Gateway" not in out and "ok   API Gateway CloudWatch Logs role in us-east-1: owned by the stage (apiGatewayAccountRole)" in out


def test_an_outdated_bootstrap_names_the_found_and_needed_versions():
    from preflight_account import check_bootstrap

    ssm = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ssm) as stub:
        stub.add_response("get_parameter", {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Type": "String", "Value": "5"}}, {"Name": "/cdk-bootstrap/hnb659fds/version"})
        assert check_bootstrap({"eu-west-1": ssm}, "/cdk-bootstrap/hnb659fds/version", 6, "111122223333") == [
            "CDK bootstrap (eu-west-1): /cdk-bootstrap/hnb659fds/version is 5, the stage's templates need 6 or later. Fix: npx cdk bootstrap aws://111122223333/eu-west-1 (upgrades the CDKToolkit stack)"
        ]


def _bedrock_with_profile(routed_regions, legacy=False):
    from preflight_quotas import _RecordedClient

    model = "amazon.nova-lite-v1:0"
    return _RecordedClient("bedrock", "eu-west-1", {
        "get_foundation_model": {"modelDetails": {"modelArn": f"arn:aws:bedrock:eu-west-1::foundation-model/{model}", "modelId": model, "inferenceTypesSupported": ["INFERENCE_PROFILE"],
                                                   "modelLifecycle": {"status": "LEGACY" if legacy else "ACTIVE"}}},
        "get_foundation_model_availability": {"modelId": model, "agreementAvailability": {"status": "AVAILABLE"}, "authorizationStatus": "AUTHORIZED",
                                               "entitlementAvailability": "AVAILABLE", "regionAvailability": "AVAILABLE"},
        "get_inference_profile": {"inferenceProfileName": "EU Nova Lite", "inferenceProfileArn": f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.{model}",
                                  "inferenceProfileId": f"eu.{model}", "status": "ACTIVE", "type": "SYSTEM_DEFINED",
                                  "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model}"} for r in routed_regions]},
    })


def test_through_an_inference_profile_the_routed_regions_must_be_those_iam_allows(capsys):
    from preflight_account import check_models

    inside = ["eu-central-1", "eu-west-1", "eu-west-3"]
    assert check_models(_bedrock_with_profile(inside, legacy=True), "eu-west-1", MODELS[:1]) == []
    out = capsys.readouterr().out
    assert "ok   Bedrock model amazon.nova-lite-v1:0 (gateway.models.bedrock-nova-lite, eu-west-1): LEGACY, access granted, called as eu.amazon.nova-lite-v1:0" in out
    assert "warn Bedrock model amazon.nova-lite-v1:0 (gateway.models.bedrock-nova-lite, eu-west-1): Legacy on Bedrock" in out
    [problem] = check_models(_bedrock_with_profile(inside + ["il-central-1"]), "eu-west-1", MODELS[:1])
    assert "inference profile eu.amazon.nova-lite-v1:0 is ACTIVE and routes to eu-central-1, eu-west-1, eu-west-3, il-central-1" in problem
    assert "(calls routed to il-central-1 would be denied)" in problem and "destinationRegions in lib/config/model-catalog.ts" in problem


def test_a_model_called_by_its_bare_id_where_bedrock_serves_it_only_through_a_profile_is_refused():
    from preflight_account import check_models

    stale = [{**MODELS[0], "invocation": {"eu-west-1": "amazon.nova-lite-v1:0"}}]
    [problem] = check_models(_bedrock_with_profile(["eu-west-1"]), "eu-west-1", stale)
    assert "called by its bare id, but Bedrock serves it here only as INFERENCE_PROFILE" in problem


# --- cost-allocation tags the budgets filter on (check_cost_allocation_tags) -------------------------

TAG_ACTIVATION = "aws ce update-cost-allocation-tags-status --region us-east-1 --cost-allocation-tags-status TagKey=Project,Status=Active TagKey=Environment,Status=Active"


def _ce(answer):
    from preflight_quotas import _RecordedClient

    return _RecordedClient("ce", "us-east-1", {"list_cost_allocation_tags": answer})


def _tags(**status):
    return {"CostAllocationTags": [{"TagKey": k, "Type": "UserDefined", "Status": v} for k, v in status.items()]}


def test_a_fresh_stage_whose_tags_billing_has_not_seen_yet_is_warned_not_refused(capsys):
    code, out = run_main("fresh-account.json", capsys)
    assert "FAIL Cost-allocation tags" not in out
    assert ("warn Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): AWS billing does not know Project, Environment yet "
            "(a tag key appears up to 24 hours after tagged resources first cost something), so the budgets see 0 USD until it is active. After the first deploy, activate them: " + TAG_ACTIVATION) in out


def test_inactive_tags_are_refused_because_no_budget_or_growth_alert_could_fire(tmp_path, capsys):
    ready = json.load(open(os.path.join(FIXTURES, "gpu-granted.json")))
    ready["ce@us-east-1"]["list_cost_allocation_tags"] = _tags(Project="Active", Environment="Inactive")
    (tmp_path / "inactive.json").write_text(json.dumps(ready))
    code, out = run_main(str(tmp_path / "inactive.json"), capsys)
    assert code == 1
    [fail] = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert fail.startswith("FAIL Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): Environment is Inactive, "
                           "so every budget of the stage sees 0 USD and neither a monthly budget nor the daily growth alert can fire.")
    assert TAG_ACTIVATION in fail and "-c activateCostAllocationTags=true (management or standalone accounts only)" in fail


def test_inactive_tags_pass_when_the_stage_activates_them_itself(capsys):
    from preflight_account import check_cost_allocation_tags

    assert check_cost_allocation_tags(_ce(_tags(Project="Inactive", Environment="Active")), ["Project", "Environment"], activated_by_stage=True) == []
    assert "ok   Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): Project Inactive now; this deploy activates them" in capsys.readouterr().out


def test_a_member_account_that_may_not_read_the_tags_is_told_what_to_ask_the_management_account(capsys):
    from preflight_account import check_cost_allocation_tags

    denied = {"Error": {"Code": "AccessDeniedException", "Message": "User: arn:aws:iam::111122223333:user/platform is not authorized to perform: ce:ListCostAllocationTags"}}
    assert check_cost_allocation_tags(_ce(denied), ["Project", "Environment"], activated_by_stage=False) == []
    out = capsys.readouterr().out
    assert out.startswith("warn Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): this account may not read them (AccessDeniedException;")
    assert "aws ce list-cost-allocation-tags --region us-east-1 --tag-keys Project Environment" in out and TAG_ACTIVATION in out


def test_another_cost_explorer_error_is_not_hidden():
    from preflight_account import check_cost_allocation_tags
    import pytest

    with pytest.raises(Exception, match="LimitExceededException"):
        check_cost_allocation_tags(_ce({"Error": {"Code": "LimitExceededException", "Message": "slow down"}}), ["Project"], activated_by_stage=False)
