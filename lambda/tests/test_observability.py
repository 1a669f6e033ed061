import io
import json

from docai_shared.observability import Logger, Metrics, correlation_id, emf_line


def test_emf_line_is_a_valid_embedded_metric_document():
    doc = json.loads(emf_line({"DocumentsProcessed": (2, "Count"), "StepLatency": (120.5, "Milliseconds")}, {"Workflow": "ingest"}, timestamp_ms=1))
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "DocAI"
    assert directive["Dimensions"] == [["Workflow"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {"DocumentsProcessed": "Count", "StepLatency": "Milliseconds"}
    # every metric and dimension named in the directive is a top-level member
    assert doc["Workflow"] == "ingest" and doc["DocumentsProcessed"] == 2 and doc["StepLatency"] == 120.5


def test_metrics_accumulate_and_flush_once():
    out = io.StringIO()
    m = Metrics("pipeline", stream=out)
    m.add("TokensEmbedded", 10)
    m.add("TokensEmbedded", 5)
    m.flush(Step="Embed")
    assert m.flush() is None  # nothing left
    doc = json.loads(out.getvalue())
    assert doc["TokensEmbedded"] == 15 and doc["Step"] == "Embed" and doc["Workflow"] == "pipeline"


def test_logger_binds_correlation_id():
    out = io.StringIO()
    log = Logger("ingestion", stream=out, clock=lambda: 1.0).bind(correlation_id=correlation_id("b", "k.pdf", "v1"))
    log.info("started", step="x")
    rec = json.loads(out.getvalue())
    assert rec == {"timestamp": 1.0, "level": "INFO", "service": "ingestion", "message": "started", "correlation_id": "s3://b/k.pdf#v1", "step": "x"}


def test_backfill_and_replay_runs_are_counted_under_their_own_workflow(capsys, monkeypatch):
    import pipeline_handlers

    monkeypatch.setenv("WORKFLOW", "ingest")
    for event, expected in (({}, "ingest"), ({"reembed": True}, "backfill"), ({"replay": True}, "replay")):
        pipeline_handlers._timed("Store", {"bucket": "b", "key": "k.pdf", "versionId": "v1", **event}, lambda log, m: (m.add("DocumentsProcessed", 1), {})[1])
        lines = [json.loads(l) for l in capsys.readouterr().out.splitlines() if '"_aws"' in l]
        assert [(l["Workflow"], l["Step"], l["DocumentsProcessed"]) for l in lines] == [(expected, "Store", 1)]


def test_every_metric_carries_the_deployment_dimensions_from_the_environment(monkeypatch):
    # Two stages or projects in one account must never sum into one metric (issue 21).
    monkeypatch.setenv("DOCAI_METRIC_DIMENSIONS", json.dumps({"Project": "acme", "Stage": "pilot"}))
    doc = json.loads(emf_line({"Requests": (1, "Count")}, {"Workflow": "answer"}, timestamp_ms=1))
    assert sorted(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["Project", "Stage", "Workflow"]
    assert (doc["Project"], doc["Stage"], doc["Workflow"]) == ("acme", "pilot", "answer")
    out = io.StringIO()
    m = Metrics("ingest", stream=out)
    m.add("StepLatency", 3, "Milliseconds")
    m.flush(Step="Embed")
    flushed = json.loads(out.getvalue())
    assert sorted(flushed["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["Project", "Stage", "Step", "Workflow"]


def test_malformed_deployment_dimensions_name_the_variable(monkeypatch):
    import pytest

    monkeypatch.setenv("DOCAI_METRIC_DIMENSIONS", '["pilot"]')
    with pytest.raises(ValueError, match="DOCAI_METRIC_DIMENSIONS must be a JSON object of strings"):
        emf_line({"Requests": (1, "Count")}, {"Workflow": "answer"})
