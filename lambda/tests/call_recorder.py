"""Records every AWS call the deployed Python code makes while tests run, for the permission contract.

moto and botocore's Stubber answer calls without asking IAM or KMS. So every call that goes through
botocore is written down here (service, operation, the identifying parameters, and which deployed
function made it), and `test/permission-contract` evaluates each one against the synthesized IAM
policies, resource policies and KMS key policies of that function's role.

Which function made a call is read from the Python stack: the outermost frame that belongs to a
function package (`lambda/<folder>/`, not tests and not the shared layer) names the module and the
function, e.g. `pipeline_handlers.extract_handler`; the contract maps that to the Lambda whose
`Handler` it is in the template. Calls with no such frame (test set-up such as creating a moto
bucket) are not deployed code and are not recorded.

Hooks: botocore's `provide-client-params` event on every client created (the request as the code
built it; a Data API statement adds the secret read the service makes as the caller), plus `generate_db_auth_token`, which signs locally and never sends a request, but needs
`rds-db:connect` at connection time.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Callable, Optional

LAMBDA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_FUNCTION_FOLDERS = {"tests", "shared", "__pycache__"}
# Parameters that identify what a call touches (never payloads). Values that are not str/int/bool are dropped.
IDENTIFYING = {
    "Bucket", "Key", "VersionId", "Range", "QueueUrl", "TopicArn", "stateMachineArn", "executionArn", "name", "taskToken",
    "EndpointName", "InferenceComponentName", "TargetVariant", "SecretId", "DBHostname", "Port", "DBUsername", "Region",
    "Namespace", "TableName", "Name", "ServiceCode", "QuotaCode", "FunctionName", "logGroupName", "ContinuationToken", "Prefix",
    "modelId", "guardrailIdentifier", "guardrailVersion", "resourceArn", "secretArn", "database",
}
# The Data API reads the secret a statement names with the caller's own credentials ("Data API
# transparently calls Secrets Manager, which allows (or denies) the user's request for the secret",
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html): that read is recorded too.
DATA_API_SECRET_READS = {"ExecuteStatement", "BatchExecuteStatement", "BeginTransaction"}

_lock = threading.Lock()
_installed = False


def _calling_function() -> Optional[str]:
    """`module.function` of the outermost frame inside a function package, or None."""
    frame = sys._getframe(2)
    found = None
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(LAMBDA_DIR + os.sep):
            rel = os.path.relpath(path, LAMBDA_DIR).split(os.sep)
            if len(rel) == 2 and rel[0] not in NOT_FUNCTION_FOLDERS and rel[1].endswith(".py"):
                found = f"{rel[1][:-3]}.{frame.f_code.co_name}"
        frame = frame.f_back
    return found


def _identifying(params: dict) -> dict:
    out = {k: v for k, v in params.items() if k in IDENTIFYING and isinstance(v, (str, int, bool))}
    # TransactWriteItems names its table inside each item; one table per transaction in this project.
    for item in params.get("TransactItems") or []:
        for action in item.values():
            if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                out.setdefault("TableName", action["TableName"])
    return out


class CallRecorder:
    """Appends one JSON line per call to `path`."""

    def __init__(self, path: str, source: str):
        self.path = path
        self.source = source

    def record(self, service: str, operation: str, params: dict) -> None:
        caller = _calling_function()
        if caller is None:
            return
        line = {
            "source": self.source,
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0] or None,
            "caller": caller,
            "service": service,
            "operation": operation,
            "params": _identifying(params),
        }
        with _lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")


def install(path: str, source: str) -> CallRecorder:
    """Hooks botocore once per process; later calls only change where lines go."""
    global _installed
    recorder = CallRecorder(path, source)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _active["recorder"] = recorder
    if _installed:
        return recorder
    _installed = True

    import botocore.session
    import botocore.signers

    original_create_client: Callable[..., Any] = botocore.session.Session.create_client

    def on_params(params: dict, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        _active["recorder"].record(service, model.name, params)
        if service == "rds-data" and model.name in DATA_API_SECRET_READS and isinstance(params.get("secretArn"), str):
            _active["recorder"].record("secretsmanager", "GetSecretValue", {"SecretId": params["secretArn"]})

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original_create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.*.*", on_params)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    original_token: Callable[..., Any] = botocore.signers.generate_db_auth_token

    def generate_db_auth_token(self: Any, DBHostname: str, Port: int, DBUsername: str, Region: Optional[str] = None) -> str:
        _active["recorder"].record("rds", "GenerateDbAuthToken", {"DBHostname": DBHostname, "Port": Port, "DBUsername": DBUsername, "Region": Region or ""})
        return original_token(self, DBHostname, Port, DBUsername, Region)

    botocore.signers.generate_db_auth_token = generate_db_auth_token
    return recorder


_active: dict = {}


def default_path() -> str:
    """Where recordings go: $DOCAI_CALL_LOG_DIR (set by scripts/test.sh) or build/recorded-calls/."""
    root = os.environ.get("DOCAI_CALL_LOG_DIR") or os.path.join(LAMBDA_DIR, "..", "build", "recorded-calls")
    return os.path.abspath(root)
