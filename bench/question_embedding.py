"""Latency of the question-embedding step, cold and warm, through the real code path: the query
handler's embed_question (retry policy, breaker, MeteredEmbedder, EmbeddingClient, boto3's SageMaker
runtime client with SigV4 and its HTTP connection) against the local model service over HTTP.

    npm run bench:question-embedding -- [--cold-runs 5] [--warm-calls 200] [--model-ms 0]

cold: a fresh process, as a new Lambda execution environment: importing the handler, making the
boto3 client, the first connection and the call. warm: later calls in the same process.
--model-ms adds a fixed model latency at the stand-in (0: the code path alone). The model's own
time on AWS is not measured here (no weights, no endpoint); the README's AWS column is an estimate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAMBDA = os.path.join(HERE, "..", "lambda")
PATHS = [os.path.join(HERE, "..", "scripts"), os.path.join(LAMBDA, "shared"), os.path.join(LAMBDA, "query"), os.path.join(LAMBDA, "tests")]
sys.path[:0] = PATHS

from cli_args import StrictParser  # noqa: E402

QUESTION = "What are the payment terms for supplier invoices?"


def child(url: str, calls: int) -> None:
    """One cold execution environment: prints the ms of the import + first call, then of each later call."""
    started = time.perf_counter()
    import query_handler
    from gateway_env import clients_for

    query_handler._clients["sagemaker-runtime"] = clients_for(url)("sagemaker-runtime")
    imported = time.perf_counter()
    query_handler.embed_question(QUESTION, [])
    first = time.perf_counter()
    warm = []
    for _ in range(calls):
        t = time.perf_counter()
        query_handler.embed_question(QUESTION, [])
        warm.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"import_ms": (imported - started) * 1000, "first_call_ms": (first - imported) * 1000, "cold_ms": (first - started) * 1000, "warm_ms": warm}))


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main() -> None:
    ap = StrictParser(prog="npm run bench:question-embedding", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--cold-runs", type=int, default=5, help="fresh processes (cold starts) to time")
    ap.add_argument("--warm-calls", type=int, default=200, help="warm calls timed in the last process")
    ap.add_argument("--model-ms", type=float, default=0.0, help="latency the model stand-in adds to each call")
    ap.add_argument("--child", help=argparse_hidden())
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.warm_calls)
    if a.cold_runs < 1 or a.warm_calls < 1:
        ap.error("--cold-runs and --warm-calls must be at least 1")

    from gateway_env import env_vars
    from local_models import LocalModels
    from query_env import DIM, QUESTION_ENDPOINT, query_environment

    with LocalModels(dimension=DIM) as models, env_vars({**query_environment(), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}):
        models.behaviour["sagemaker"].latency_s = a.model_ms / 1000
        runs = []
        for i in range(a.cold_runs):
            out = subprocess.run([sys.executable, __file__, "--child", models.url, "--warm-calls", str(a.warm_calls if i == a.cold_runs - 1 else 0)],
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(PATHS)}, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        calls = sum(1 for r, p in models.calls if p == f"/endpoints/{QUESTION_ENDPOINT}/invocations")
    cold = [r["cold_ms"] for r in runs]
    first = [r["first_call_ms"] for r in runs]
    warm = runs[-1]["warm_ms"]
    print(f"Question embedding, code path (query_handler.embed_question -> boto3 SageMaker runtime -> local model service over HTTP), model {a.model_ms:.0f} ms, {calls} calls to {QUESTION_ENDPOINT}:")
    print(f"{'':38}{'p50':>9}{'p95':>9}{'max':>9}   (ms)")
    print(f"{'cold: import + client + first call':38}{pct(cold, 50):9.1f}{pct(cold, 95):9.1f}{max(cold):9.1f}   ({a.cold_runs} fresh processes)")
    print(f"{'cold: first call (client made)':38}{pct(first, 50):9.1f}{pct(first, 95):9.1f}{max(first):9.1f}")
    print(f"{'warm call':38}{pct(warm, 50):9.1f}{pct(warm, 95):9.1f}{max(warm):9.1f}   ({len(warm)} calls)")
    print("Local numbers compare changes on this machine; the endpoint's own cold start and model time on AWS are estimates (README, Query API).")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
