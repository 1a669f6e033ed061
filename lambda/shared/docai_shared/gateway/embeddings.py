"""Embeddings through the gateway: the TEI endpoint (``docai_shared.embeddings.EmbeddingClient``)
metered like every other model call — latency and errors per provider, tokens and estimated spend
under the caller's workflow (``ingest``, ``backfill``, ``replay``, ``search``, ``answer``).

Retries stay with the caller: the pipeline's Embed step is retried by Step Functions (long enough for
an endpoint scaling from zero), the query path wraps the call in ``call_with_retries``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from docai_shared.embeddings import EmbeddingClient
from docai_shared.gateway.providers import emit_provider_metrics


class MeteredEmbedder:
    def __init__(self, client: EmbeddingClient, workflow: str, usd_per_million_tokens: float = 0.0, stream: Any = None,
                 clock: Callable[[], float] = time.monotonic):
        self.client, self.workflow, self.price, self.stream, self.clock = client, workflow, usd_per_million_tokens, stream, clock

    def embed(self, texts: Sequence[str], tokens: int | None = None) -> list[list[float]]:
        """``tokens``: the texts' token count when the caller knows it (the chunker does); else words."""
        started = self.clock()
        ok = False
        try:
            vectors = self.client.embed(texts)
            ok = True
            return vectors
        finally:
            n = tokens if tokens is not None else sum(len(t.split()) for t in texts)
            metered = {"TokensIn": (n, "Count"), "EstimatedSpendUsd": (n * self.price / 1_000_000, "None")} if ok else None
            emit_provider_metrics(self.stream, self.workflow, "embedding", (self.clock() - started) * 1000, ok, metered)
