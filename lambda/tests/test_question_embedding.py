"""Questions are embedded on their own endpoint (the pilot's serverless CPU one) and answered while the
documents' GPU endpoint is at zero; and what can be checked here of CPU/GPU vector parity.

Parity: no model weights can be downloaded here, so the stage's model cannot be run on either path.
What is checked is the maintainers' own record (Text Embeddings Inference's snapshot tests: one sentence
through the CPU backend in float32 and the CUDA flash-attention backend in float16,
tests/fixtures/tei_cpu_gpu_parity.json) against the tolerance TEI holds every snapshot to, through this
project's response parsing and TEI's normalization. That the two paths serve the same model with the
same TEI release and settings is checked on the synthesized templates (test/gpu-inference).
"""
import json
import math
import os
from contextlib import contextmanager

import pytest
from moto import mock_aws

import query_handler
import retrieve_handler
from docai_shared.embeddings import parse_response
from gateway_env import env_vars
from local_models import LocalModels
from query_env import (DIM, DOCUMENT_ENDPOINT, QUESTION_ENDPOINT, RETRIEVE_FUNCTION, api_event, corpus_database, create_aws_state, query_environment,
                       reset_handlers, use_pglite_for_readers)

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "tei_cpu_gpu_parity.json")


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _cosine(a, b):
    return sum(x * y for x, y in zip(_unit(a), _unit(b), strict=True))


def test_tei_cpu_float32_and_cuda_float16_vectors_agree_within_the_maintainers_tolerance():
    f = json.load(open(FIXTURE))
    cpu, gpu = (parse_response(json.dumps([f[k]["vector"]]).encode(), 1, f["dimension"])[0] for k in ("cpu_float32", "cuda_float16"))
    assert len(cpu) == len(gpu) == 384
    assert _cosine(cpu, gpu) > f["tolerance"]["cosine_min"]
    # After TEI's normalization (on by default for /embed) no component differs by more than 1e-3:
    # a cosine score computed by pgvector between a CPU question and a GPU chunk moves by less than that.
    assert max(abs(x - y) for x, y in zip(_unit(cpu), _unit(gpu), strict=True)) < 1e-3


def test_the_tolerance_check_fails_for_vectors_that_disagree():
    f = json.load(open(FIXTURE))
    cpu, gpu = f["cpu_float32"]["vector"], list(f["cuda_float16"]["vector"])
    for i in range(0, 384, 8):  # another model, or a different pooling, differs far more than this
        gpu[i] = -gpu[i]
    assert _cosine(cpu, gpu) < f["tolerance"]["cosine_min"]


@pytest.fixture(scope="module")
def database():
    with corpus_database() as conn:
        yield conn


@pytest.fixture
def gpu_at_zero(database):
    """The pilot outside an embedding window: the documents' GPU endpoint has no instance."""
    with LocalModels(dimension=DIM, functions={RETRIEVE_FUNCTION: retrieve_handler.handler}) as models, mock_aws():
        models.scaled_to_zero.add(DOCUMENT_ENDPOINT)
        create_aws_state()
        db = __import__("docai_shared.db", fromlist=["x"])
        original = db.connect_with_password
        use_pglite_for_readers(database, [])
        yield models
        db.connect_with_password = original
        reset_handlers()


def _ask(models, env):
    with env_vars(env):
        reset_handlers(models.url)
        r = query_handler.handler(api_event("/query", {"question": "When are invoices paid?"}))
    return r["statusCode"], json.loads(r["body"])


def test_a_question_is_answered_while_the_gpu_endpoint_is_at_zero(gpu_at_zero):
    models = gpu_at_zero
    status, body = _ask(models, query_environment())
    assert status == 200 and body["citations"][0]["key"] == "finance/payment-policy.pdf"
    embed_calls = [p for r, p in models.calls if r == "sagemaker"]
    assert embed_calls == [f"/endpoints/{QUESTION_ENDPOINT}/invocations"]


@contextmanager
def _not_recorded():
    """This call shows wiring no stage deploys: it stays out of the permission contract's recording
    (test/permission-contract checks that the pilot's query function may not make it)."""
    import call_recorder

    saved = call_recorder._active.get("recorder")
    call_recorder._active["recorder"] = type("Off", (), {"record": lambda *a, **k: None})()
    try:
        yield
    finally:
        call_recorder._active["recorder"] = saved


def test_on_the_documents_endpoint_the_same_question_waits_for_the_gpu(gpu_at_zero):
    # The wiring before the fix (questions on the scale-to-zero GPU endpoint): 503 warming_up.
    models = gpu_at_zero
    with _not_recorded():
        status, body = _ask(models, {**query_environment(), "EMBEDDING_ENDPOINT": DOCUMENT_ENDPOINT, "EMBEDDING_INFERENCE_COMPONENT": f"{DOCUMENT_ENDPOINT}-ic"})
    assert status == 503 and body["error"] == "warming_up"
    assert {p for r, p in models.calls if r == "sagemaker"} == {f"/endpoints/{DOCUMENT_ENDPOINT}/invocations"}

