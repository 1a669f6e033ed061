"""Account and region prerequisites for `npm run preflight` / `npm run deploy`, besides the quotas
(preflight_quotas.py). Read-only calls only. Each check returns one line per refusal naming the
prerequisite, what was found, what is needed and the exact fix.

- API Gateway's CloudWatch Logs role (GetAccount -> cloudwatchRoleArn): the query API's stage writes
  access logs, and API Gateway refuses a stage with logging while the account has no role ("CloudWatch
  Logs role ARN must be set in account settings"; https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
  Skipped when the stage owns the role (-c apiGatewayAccountRole=true).
- CDK bootstrap (SSM /cdk-bootstrap/<qualifier>/version) in the stage's region and in us-east-1 (the
  cost stack), at least the version the synthesized assembly requires.
- Each Bedrock model of every gateway chain: GetFoundationModel (known in the region, modelLifecycle),
  GetFoundationModelAvailability (agreement, authorization, entitlement, region), and where the
  region calls it through a cross-region inference profile, GetInferenceProfile (active, and routing
  only to regions the gateway's IAM allows). Response shapes: botocore's bedrock service model.
- The cost-allocation tags the stage's budgets filter on (Cost Explorer ListCostAllocationTags, us-east-1):
  Budgets and Cost Explorer see a user-defined tag only once it is activated
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html); until then every
  budget of the stage, the daily growth alert included, sees 0 USD and never alerts. Only the management
  account or a standalone account activates them
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/custom-tags.html). Inactive: refused (unless
  the stage activates them itself). Not yet known to billing (a fresh stage, up to 24 h after tagged
  resources first cost something) or not readable (a member account): a warning naming the command.
"""
from __future__ import annotations

from typing import Any

CONSOLE = "https://console.aws.amazon.com"


def _code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)


def check_apigateway_role(apigateway: Any, region: str, account: str) -> list[str]:
    role = apigateway.get_account().get("cloudwatchRoleArn")
    if role:
        print(f"ok   API Gateway CloudWatch Logs role in {region} = {role}")
        return []
    return [
        f"API Gateway CloudWatch Logs role ({region}): none is set in the account's API Gateway settings; the query API's stage writes access logs, "
        f"which needs one. Fix: create a role API Gateway can assume with the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs, then "
        f"aws apigateway update-account --region {region} --patch-operations op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::{account}:role/<role> "
        f"(console: {CONSOLE}/apigateway/main/settings?region={region}); or let the stage own it: -c apiGatewayAccountRole=true (one per account and region)"
    ]


def check_bootstrap(ssm_by_region: dict[str, Any], parameter: str, required: int, account: str) -> list[str]:
    problems = []
    for region, ssm in ssm_by_region.items():
        fix = f"npx cdk bootstrap aws://{account}/{region}"
        try:
            found = int(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
        except Exception as e:  # ParameterNotFound: never bootstrapped
            if _code(e) != "ParameterNotFound":
                raise
            problems.append(f"CDK bootstrap ({region}): {parameter} does not exist (the region is not bootstrapped); the stage's templates need version {required} or later. Fix: {fix}")
            continue
        if found < required:
            problems.append(f"CDK bootstrap ({region}): {parameter} is {found}, the stage's templates need {required} or later. Fix: {fix} (upgrades the CDKToolkit stack)")
        else:
            print(f"ok   CDK bootstrap in {region} = version {found} (need {required})")
    return problems


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def check_models(bedrock: Any, region: str, models: list[dict]) -> list[str]:
    """`models`: [{name, modelId, invocation: {region: id}, destinations: {region: [regions]}}] from lib/config/model-catalog.ts."""
    problems = []
    page = f"{CONSOLE}/bedrock/home?region={region}#/modelaccess"
    for m in models:
        name, model_id = m["name"], m["modelId"]
        label = f"Bedrock model {model_id} (gateway.models.{name}, {region})"
        invocation = m["invocation"].get(region)
        if invocation is None:
            problems.append(f"{label}: the model catalogue serves it neither in-region nor through an inference profile here; config validation would refuse this region. Fix: -c region=<a region of lib/config/model-catalog.ts>, or another model")
            continue
        try:
            details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
        except Exception as e:
            if _code(e) not in ("ResourceNotFoundException", "ValidationException"):
                raise
            problems.append(f"{label}: Bedrock answers {_code(e)} ({getattr(e, 'response', {}).get('Error', {}).get('Message', '')}): end of life or not offered here, so every answer would fail. "
                            f"Fix: set gateway.models.{name}.modelId to an ACTIVE model (aws bedrock list-foundation-models --region {region} --query \"modelSummaries[?modelLifecycle.status=='ACTIVE'].modelId\") and update lib/config/model-catalog.ts")
            continue
        status = details.get("modelLifecycle", {}).get("status")
        if status == "LEGACY":
            print(f"warn {label}: Legacy on Bedrock (accounts that have not used it get no access, end of life follows); move to an ACTIVE model")
        kinds = details.get("inferenceTypesSupported", [])
        if invocation == model_id and "ON_DEMAND" not in kinds:
            problems.append(f"{label}: called by its bare id, but Bedrock serves it here only as {', '.join(kinds) or 'nothing on demand'}. Fix: add the inference profile that covers {region} to lib/config/model-catalog.ts")
            continue
        a = bedrock.get_foundation_model_availability(modelId=model_id)
        found = []
        if a["regionAvailability"] != "AVAILABLE":
            found.append(f"regionAvailability {a['regionAvailability']}")
        if a["authorizationStatus"] != "AUTHORIZED":
            found.append(f"authorizationStatus {a['authorizationStatus']}")
        if a["entitlementAvailability"] != "AVAILABLE":
            found.append(f"entitlementAvailability {a['entitlementAvailability']}")
        if a["agreementAvailability"]["status"] != "AVAILABLE":
            found.append(f"agreementAvailability {a['agreementAvailability']['status']}{' (' + a['agreementAvailability']['errorMessage'] + ')' if a['agreementAvailability'].get('errorMessage') else ''}")
        if found:
            problems.append(f"{label}: model access is not granted ({', '.join(found)}); every answer would fail with AccessDeniedException. Fix: request access on {page} "
                            f"(for a Marketplace model: aws bedrock list-foundation-model-agreement-offers --model-id {model_id} --region {region}, then "
                            f"aws bedrock create-foundation-model-agreement --model-id {model_id} --offer-token <token> --region {region}), with a principal allowed aws-marketplace:Subscribe")
            continue
        if invocation != model_id:
            try:
                profile = bedrock.get_inference_profile(inferenceProfileIdentifier=invocation)
            except Exception as e:
                if _code(e) not in ("ResourceNotFoundException", "ValidationException"):
                    raise
                problems.append(f"{label}: inference profile {invocation} does not exist here ({_code(e)}). Fix: correct the profile in lib/config/model-catalog.ts (aws bedrock list-inference-profiles --region {region})")
                continue
            routed = sorted({_region_of(x["modelArn"]) for x in profile.get("models", [])})
            allowed = m["destinations"].get(region, [])
            outside = [r for r in routed if r not in allowed]
            if profile.get("status") != "ACTIVE" or outside:
                problems.append(f"{label}: inference profile {invocation} is {profile.get('status')} and routes to {', '.join(routed)}; the gateway's IAM allows {', '.join(allowed)}"
                                f"{' (calls routed to ' + ', '.join(outside) + ' would be denied)' if outside else ''}. Fix: update the profile's destinationRegions in lib/config/model-catalog.ts and deploy")
                continue
        print(f"ok   {label}: {status or 'ACTIVE'}, access granted, called as {invocation}")
    return problems


def check_cost_allocation_tags(ce: Any, keys: list[str], activated_by_stage: bool) -> list[str]:
    label = f"Cost-allocation tags {', '.join(keys)} (the stage's budgets and daily growth alert filter on them)"
    activate = "aws ce update-cost-allocation-tags-status --region us-east-1 --cost-allocation-tags-status " + " ".join(f"TagKey={k},Status=Active" for k in keys)
    try:
        listed = ce.list_cost_allocation_tags(TagKeys=keys, Type="UserDefined")["CostAllocationTags"]
    except Exception as e:
        if "AccessDenied" not in _code(e) and "Unauthorized" not in _code(e):
            raise
        print(f"warn {label}: this account may not read them ({_code(e)}; in an organization's member account the management account owns cost-allocation tags). "
              f"Ask the management account to check (aws ce list-cost-allocation-tags --region us-east-1 --tag-keys {' '.join(keys)}) and to activate any that is not Active: {activate}")
        return []
    status = {t["TagKey"]: t["Status"] for t in listed}
    inactive = [k for k in keys if status.get(k) == "Inactive"]
    unseen = [k for k in keys if k not in status]
    if inactive and not activated_by_stage:
        return [f"{label}: {', '.join(inactive)} {'is' if len(inactive) == 1 else 'are'} Inactive, so every budget of the stage sees 0 USD and neither a monthly budget nor the daily growth alert can fire. "
                f"Fix, from the management account (or this one if it is standalone): {activate}; or let the stage activate them on every deploy: -c activateCostAllocationTags=true (management or standalone accounts only)"]
    if inactive:
        print(f"ok   {label}: {', '.join(inactive)} Inactive now; this deploy activates them (activateCostAllocationTags)")
    if unseen:
        then = "the next npm run deploy activates them (activateCostAllocationTags)" if activated_by_stage else f"activate them: {activate}"
        print(f"warn {label}: AWS billing does not know {', '.join(unseen)} yet (a tag key appears up to 24 hours after tagged resources first cost something), "
              f"so the budgets see 0 USD until it is active. After the first deploy, {then}")
    if not inactive and not unseen:
        print(f"ok   {label}: Active")
    return []
