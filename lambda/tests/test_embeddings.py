import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from docai_shared.embeddings import EmbeddingClient, batches, build_request, classify, parse_response
from docai_shared.errors import EndpointNotReady, PermanentError, Throttled, TransientError


@pytest.fixture
def runtime():
    client = boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


def ok(vectors):
    return {"Body": io.BytesIO(json.dumps(vectors).encode()), "ContentType": "application/json"}


def test_request_is_the_tei_embed_format():
    assert json.loads(build_request(["a", "b"])) == {"inputs": ["a", "b"], "truncate": True}


def test_embed_sends_one_request_per_batch_with_the_component_name(runtime):
    client, stub = runtime
    texts = [f"t{i}" for i in range(5)]
    for chunk in (texts[:2], texts[2:4], texts[4:]):
        stub.add_response(
            "invoke_endpoint",
            ok([[float(i), 0.5, 0.25] for i, _ in enumerate(chunk)]),
            {"EndpointName": "docai-embed", "InferenceComponentName": "docai-embed-ic", "ContentType": "application/json", "Accept": "application/json", "Body": build_request(chunk)},
        )
    vectors = EmbeddingClient(client, "docai-embed", "docai-embed-ic", dimension=3).embed_batches(texts, 2)
    assert len(vectors) == 5 and all(len(v) == 3 for v in vectors)
    stub.assert_no_pending_responses()


def test_a_wrong_dimension_or_count_is_a_permanent_error():
    with pytest.raises(PermanentError, match="dimension 2, the database expects 3"):
        parse_response(json.dumps([[1.0, 2.0]]).encode(), 1, 3)
    with pytest.raises(PermanentError, match="expected 2 vectors"):
        parse_response(json.dumps([[1.0, 2.0, 3.0]]).encode(), 2, 3)


@pytest.mark.parametrize(
    "code,status,message,extra,expected",
    [
        ("ValidationError", 400, "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress", {}, EndpointNotReady),
        ("ModelNotReadyException", 429, "Model is loading", {}, EndpointNotReady),
        ("ServiceUnavailable", 503, "Service unavailable", {}, EndpointNotReady),
        ("ThrottlingException", 400, "Rate exceeded", {}, Throttled),
        ("InternalFailure", 500, "Internal failure", {}, TransientError),
        ("ModelError", 424, "Received server error (500) from primary", {"OriginalStatusCode": 500}, TransientError),
        ("ModelError", 424, "Received client error (413) from primary: payload too large", {"OriginalStatusCode": 413}, PermanentError),
        ("ValidationError", 400, "Endpoint docai-embed of account 123 not found.", {}, PermanentError),
    ],
)
def test_errors_are_classified_for_retry_or_failure(runtime, code, status, message, extra, expected):
    client, stub = runtime
    stub.add_client_error("invoke_endpoint", service_error_code=code, service_message=message, http_status_code=status, response_meta=None)
    if extra:
        # OriginalStatusCode is a top-level member of ModelError responses
        from botocore.exceptions import ClientError

        err = ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, "InvokeEndpoint")
        assert type(classify(err)) is expected
        return
    with pytest.raises(expected):
        EmbeddingClient(client, "docai-embed").embed(["x"])


def test_network_failures_are_transient():
    assert isinstance(classify(ConnectionResetError("reset")), TransientError)


def test_batches():
    assert batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError):
        batches([1], 0)
