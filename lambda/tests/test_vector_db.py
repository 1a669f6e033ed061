"""The schema migrations and the data-access package against a real PostgreSQL with pgvector."""
import random
from datetime import date

import pytest

from docai_shared.db import (
    retier_document,
    ChunkRecord, DocumentVersion, compare_sequencers, delete_document, document_status, explain_search,
    purge_document, record_failure, search, upsert_document,
)
from docai_shared.errors import InvalidMetadata, StaleVersion
from migrations_runner import MigrationError, apply_migrations, load_migrations
from pglite import connect, pglite_server

DIM = 8
PARAMS = {"EMBEDDING_DIMENSION": DIM, "HNSW_M": 16, "HNSW_EF_CONSTRUCTION": 64}
W = "docai_writer"


@pytest.fixture(scope="module")
def conn():
    with pglite_server() as port:
        c = connect(port)
        yield c
        c.close()


@pytest.fixture(scope="module")
def migrated(conn):
    first = apply_migrations(conn, PARAMS)
    return conn, first


def vec(seed: int, dim: int = DIM) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.uniform(-1, 1) for _ in range(dim)]


def doc(key="a.pdf", version="v1", seq="0A", tier="internal", **kw) -> DocumentVersion:
    return DocumentVersion(bucket="intake", key=key, version_id=version, sequencer=seq, access_tier=tier, content_hash=kw.pop("h", f"h-{version}"), **kw)


def chunks(n: int, seed: int = 0) -> list[ChunkRecord]:
    return [ChunkRecord(index=i, text=f"chunk {i}", token_count=10 + i, embedding=vec(seed * 1000 + i), metadata={"page": i + 1}) for i in range(n)]


def count_chunks(conn, key: str) -> int:
    return conn.run("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = :k", k=key)[0][0]


# --- migrations ---------------------------------------------------------------------------------

def test_migrations_apply_from_empty_and_reapply_as_no_op(migrated):
    conn, first = migrated
    assert first == ["0001_extension_and_tiers", "0002_documents_and_chunks", "0003_indexes", "0004_roles_and_row_level_security", "0005_tags_sequencer", "0006_embedding_model", "0007_version_events", "0008_metrics_role"]
    assert apply_migrations(conn, PARAMS) == []
    assert conn.run("SELECT count(*) FROM schema_migrations")[0][0] == 8
    assert conn.run("SELECT extversion FROM pg_extension WHERE extname = 'vector'")[0][0] >= "0.8"
    # the embedding column has the dimension from the parameters
    assert conn.run("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'")[0][0] == f"vector({DIM})"
    idx = conn.run("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw'")[0][0]
    assert "hnsw" in idx and "vector_cosine_ops" in idx and "m='16'" in idx and "ef_construction='64'" in idx


def test_a_changed_applied_migration_is_refused(migrated):
    conn, _ = migrated
    with pytest.raises(MigrationError, match="was applied with different SQL"):
        apply_migrations(conn, {**PARAMS, "EMBEDDING_DIMENSION": DIM * 2})


def test_a_failing_migration_rolls_back_and_records_nothing(migrated, tmp_path):
    conn, _ = migrated
    import shutil

    import migrations_runner
    sql_dir = tmp_path / "sql"
    shutil.copytree(migrations_runner.SQL_DIR, sql_dir)
    (sql_dir / "0099_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT * FROM no_such_table;")
    with pytest.raises(MigrationError, match="0099_broken failed and was rolled back"):
        apply_migrations(conn, PARAMS, str(sql_dir))
    assert conn.run("SELECT to_regclass('half_done')")[0][0] is None
    assert conn.run("SELECT count(*) FROM schema_migrations WHERE version = 99")[0][0] == 0


def test_parameters_are_validated_before_any_sql():
    with pytest.raises(MigrationError, match="EMBEDDING_DIMENSION must be a positive whole number"):
        load_migrations({**PARAMS, "EMBEDDING_DIMENSION": "768; DROP TABLE documents"})
    with pytest.raises(MigrationError, match="outside 1..2000"):
        load_migrations({**PARAMS, "EMBEDDING_DIMENSION": 4096})


# --- writes -------------------------------------------------------------------------------------

def test_upsert_is_idempotent(migrated):
    conn, _ = migrated
    assert upsert_document(conn, doc("idem.pdf"), chunks(3), role=W) == "stored"
    assert upsert_document(conn, doc("idem.pdf"), chunks(3), role=W) == "unchanged"
    assert count_chunks(conn, "idem.pdf") == 3
    assert document_status(conn, "intake", "idem.pdf")["chunk_count"] == 3


def test_a_newer_version_replaces_the_older_chunks(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("v.pdf", "v1", "0100"), chunks(5), role=W)
    assert upsert_document(conn, doc("v.pdf", "v2", "0200"), chunks(2, seed=2), role=W) == "stored"
    assert count_chunks(conn, "v.pdf") == 2
    assert document_status(conn, "intake", "v.pdf")["version_id"] == "v2"


def test_an_older_sequencer_is_rejected_and_changes_nothing(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("o.pdf", "v2", "00F0"), chunks(2), role=W)
    with pytest.raises(StaleVersion):
        upsert_document(conn, doc("o.pdf", "v1", "00E0"), chunks(7), role=W)
    assert count_chunks(conn, "o.pdf") == 2
    assert document_status(conn, "intake", "o.pdf")["version_id"] == "v2"


def test_sequencers_compare_as_right_padded_hex():
    assert compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E5") == 0
    assert compare_sequencers("0055AED6DCD9028200", "0055AED6DCD90281E5") == 1
    assert compare_sequencers("0055AED6DCD903", "0055AED6DCD90281E5") == 1  # shorter, padded on the right
    assert compare_sequencers("0055AED6DCD902", "0055AED6DCD90281E5") == -1


def test_delete_removes_the_chunks_and_rejects_a_late_older_version(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("d.pdf", "v1", "0300"), chunks(4), role=W)
    assert delete_document(conn, "intake", "d.pdf", "0400", role=W) == "deleted"
    assert count_chunks(conn, "d.pdf") == 0
    assert document_status(conn, "intake", "d.pdf")["status"] == "deleted"
    with pytest.raises(StaleVersion):  # the upload event arriving after its delete
        upsert_document(conn, doc("d.pdf", "v1", "0300"), chunks(4), role=W)
    # a delete older than the stored version does nothing
    upsert_document(conn, doc("d2.pdf", "v5", "0900"), chunks(1), role=W)
    assert delete_document(conn, "intake", "d2.pdf", "0800", role=W) == "stale"
    # deleting a version that is not the stored one does nothing
    assert delete_document(conn, "intake", "d2.pdf", "0A00", only_version="v4", role=W) == "other-version"
    assert count_chunks(conn, "d2.pdf") == 1


def test_purging_a_document_cascades_to_its_chunks(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("p.pdf"), chunks(3), role=W)
    assert purge_document(conn, "intake", "p.pdf", role=W) == 1
    assert conn.run("SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)")[0][0] == 0
    assert count_chunks(conn, "p.pdf") == 0


def test_a_failure_is_recorded_and_stale_chunks_removed(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("f.pdf", "v1", "0100"), chunks(3), role=W)
    assert record_failure(conn, "intake", "f.pdf", "v2", "0200", "UnsupportedDocument: encrypted PDF", role=W) == "recorded"
    st = document_status(conn, "intake", "f.pdf")
    assert (st["status"], st["error"], st["chunk_count"]) == ("failed", "UnsupportedDocument: encrypted PDF", 0)
    assert count_chunks(conn, "f.pdf") == 0
    # a failure of an older version does not touch a newer stored one
    upsert_document(conn, doc("f.pdf", "v3", "0300"), chunks(1), role=W)
    assert record_failure(conn, "intake", "f.pdf", "v2", "0200", "late", role=W) == "superseded"
    assert document_status(conn, "intake", "f.pdf")["status"] == "stored"


def test_a_failing_re_run_of_the_stored_version_keeps_its_chunks(migrated):
    # A re-embed (backfill) or replay of the stored version fails: the chunks it would have replaced
    # still describe the object, so they stay searchable and only the error is recorded.
    conn, _ = migrated
    upsert_document(conn, doc("r.pdf", "v1", "0100"), chunks(4), role=W)
    assert record_failure(conn, "intake", "r.pdf", "v1", "0100", "EndpointNotReady: no capacity", role=W) == "kept"
    st = document_status(conn, "intake", "r.pdf")
    assert (st["status"], st["chunk_count"], st["version_id"]) == ("stored", 4, "v1")
    assert "EndpointNotReady" in st["error"] and count_chunks(conn, "r.pdf") == 4
    # ... and a later successful re-embed clears the error
    upsert_document(conn, doc("r.pdf", "v1", "0100"), chunks(4, seed=9), role=W, force=True)
    assert document_status(conn, "intake", "r.pdf")["error"] is None
    # a failure of a newer version still removes the old chunks (they no longer describe the object)
    assert record_failure(conn, "intake", "r.pdf", "v2", "0200", "UnsupportedDocument: encrypted", role=W) == "recorded"
    assert count_chunks(conn, "r.pdf") == 0


def test_a_tag_change_re_tiers_the_document_and_its_chunks_and_readers_follow(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("t.pdf", "v1", "0100", tier="internal"), chunks(3), role=W)
    visible = lambda role: _as_role(conn, role, "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 't.pdf'")[0][0]
    assert visible("docai_reader_internal") == 3
    assert retier_document(conn, "intake", "t.pdf", "v1", "0150", "restricted", role=W) == "retiered"
    assert visible("docai_reader_internal") == 0 and visible("docai_reader_restricted") == 3
    assert document_status(conn, "intake", "t.pdf")["access_tier"] == "restricted"
    # an older tag change delivered late changes nothing; the same tier again is "unchanged"
    assert retier_document(conn, "intake", "t.pdf", "v1", "0120", "public", role=W) == "stale"
    assert retier_document(conn, "intake", "t.pdf", "v1", "0160", "restricted", role=W) == "unchanged"
    assert visible("docai_reader_internal") == 0
    # a tag change of another version (or of a document not stored yet) is recorded for that version's Store; the stored one is untouched
    assert retier_document(conn, "intake", "t.pdf", "v0", "0170", "public", role=W) == "pending"
    assert retier_document(conn, "intake", "never.pdf", "v1", "0100", "public", role=W) == "pending"
    assert document_status(conn, "intake", "t.pdf")["access_tier"] == "restricted" and visible("docai_reader_internal") == 0


# --- versions in flight (migration 0007): the later Store applies what arrived meanwhile -----------

def test_a_tag_change_recorded_while_the_version_is_in_flight_is_applied_by_its_store(migrated):
    conn, _ = migrated
    assert retier_document(conn, "intake", "fl/t.pdf", "v1", "0200", "restricted", role=W) == "pending"  # the run read 'internal' before
    assert upsert_document(conn, doc("fl/t.pdf", "v1", "0100", tier="internal"), chunks(2), role=W) == "stored"
    assert document_status(conn, "intake", "fl/t.pdf")["access_tier"] == "restricted"
    assert {r[0] for r in conn.run("SELECT c.access_tier FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 'fl/t.pdf'")} == {"restricted"}
    # a run whose event is later than the tag change read those tags itself: its own tier stands
    assert upsert_document(conn, doc("fl/t.pdf", "v1", "0300", tier="confidential"), chunks(2), role=W, force=True) == "stored"
    assert document_status(conn, "intake", "fl/t.pdf")["access_tier"] == "confidential"


def test_an_invalid_tag_change_while_in_flight_keeps_the_version_out(migrated):
    conn, _ = migrated
    assert retier_document(conn, "intake", "fl/bad.pdf", "v1", "0200", None, error="InvalidMetadata: access-tier 'x'", role=W) == "pending"
    with pytest.raises(InvalidMetadata):
        upsert_document(conn, doc("fl/bad.pdf", "v1", "0100"), chunks(2), role=W)
    assert count_chunks(conn, "fl/bad.pdf") == 0


def test_a_version_deleted_for_good_while_in_flight_is_never_stored_and_the_stored_one_stays(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("fl/d.pdf", "v1", "0100"), chunks(3), role=W)
    assert delete_document(conn, "intake", "fl/d.pdf", "0300", only_version="v2", role=W) == "other-version"
    with pytest.raises(StaleVersion, match="deleted for good"):
        upsert_document(conn, doc("fl/d.pdf", "v2", "0200"), chunks(5), role=W)
    assert record_failure(conn, "intake", "fl/d.pdf", "v2", "0200", "late failure of the deleted version", role=W) == "superseded"
    st = document_status(conn, "intake", "fl/d.pdf")
    assert (st["status"], st["version_id"], count_chunks(conn, "fl/d.pdf")) == ("stored", "v1", 3)
    # unversioned objects ('null'): a new write after the delete is a new object
    assert delete_document(conn, "intake", "fl/u.pdf", "0100", only_version=None, role=W) == "deleted"
    assert upsert_document(conn, doc("fl/u.pdf", None, "0200"), chunks(1), role=W) == "stored"


def test_a_tag_failure_of_an_old_version_touches_nothing_and_of_the_stored_one_fails_only_it(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("fl/o.pdf", "v1", "0100"), chunks(2), role=W)
    upsert_document(conn, doc("fl/o.pdf", "v2", "0200"), chunks(3), role=W)
    before = document_status(conn, "intake", "fl/o.pdf")
    assert retier_document(conn, "intake", "fl/o.pdf", "v1", "0300", None, error="InvalidMetadata: bad", role=W) == "pending"
    assert document_status(conn, "intake", "fl/o.pdf") == before and count_chunks(conn, "fl/o.pdf") == 3
    assert retier_document(conn, "intake", "fl/o.pdf", "v2", "0400", None, error="InvalidMetadata: bad", role=W) == "failed"
    st = document_status(conn, "intake", "fl/o.pdf")
    assert (st["status"], st["version_id"], st["sequencer"], count_chunks(conn, "fl/o.pdf")) == ("failed", "v2", "0200", 0)
    # the corrected tag asks for a re-run of that version, with its own sequencer
    assert retier_document(conn, "intake", "fl/o.pdf", "v2", "0500", "public", role=W) == "rerun"
    assert upsert_document(conn, doc("fl/o.pdf", "v2", "0200", tier="internal"), chunks(3), role=W) == "stored"
    assert document_status(conn, "intake", "fl/o.pdf")["access_tier"] == "public"


def test_a_tag_change_replayed_after_its_run_failed_transiently_brings_the_version_back(migrated):
    # The Retier run could not reach the database (or S3) through its retries: RecordFailure fails the
    # version closed (its tier is unknown). Was: the replay of that very event was "stale" (same
    # sequencer), so the version stayed unindexed until someone re-tagged or re-uploaded it.
    conn, _ = migrated
    upsert_document(conn, doc("fl/rt.pdf", "v1", "0100", tier="internal"), chunks(2), role=W)
    assert retier_document(conn, "intake", "fl/rt.pdf", "v1", "0200", None, error="DatabaseUnavailable: network error", role=W) == "failed"
    assert count_chunks(conn, "fl/rt.pdf") == 0
    assert retier_document(conn, "intake", "fl/rt.pdf", "v1", "0200", "restricted", role=W) == "rerun"  # the replay
    assert upsert_document(conn, doc("fl/rt.pdf", "v1", "0100", tier="internal"), chunks(2), role=W) == "stored"
    assert {r[0] for r in conn.run("SELECT c.access_tier FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 'fl/rt.pdf'")} == {"restricted"}
    # a failure reported after the same tag change was applied (the Lambda died after the commit) undoes nothing
    assert retier_document(conn, "intake", "fl/rt.pdf", "v1", "0300", "confidential", role=W) == "retiered"
    assert retier_document(conn, "intake", "fl/rt.pdf", "v1", "0300", None, error="Sandbox.Timedout", role=W) == "stale"
    assert document_status(conn, "intake", "fl/rt.pdf")["status"] == "stored" and count_chunks(conn, "fl/rt.pdf") == 2
    # an older tag change is still stale
    assert retier_document(conn, "intake", "fl/rt.pdf", "v1", "0250", "public", role=W) == "stale"


def test_a_tag_change_of_the_new_version_is_not_stale_against_the_previous_versions_tag_change(migrated):
    # v2 is uploaded (0200) and tagged restricted (0300) after its Extract read 'internal'; v1, still the
    # stored one, is re-tagged later (0400) and that event is handled first. Was: documents.tags_sequencer
    # kept v1's 0400 after v2's Store, and v2's own tag change (0300) was "stale" against it: v2 stayed
    # 'internal', readable by a reader of 'internal' though tagged restricted.
    conn, _ = migrated
    upsert_document(conn, doc("fl/tv.pdf", "v1", "0100", tier="internal"), chunks(2), role=W)
    assert retier_document(conn, "intake", "fl/tv.pdf", "v1", "0400", "confidential", role=W) == "retiered"
    assert upsert_document(conn, doc("fl/tv.pdf", "v2", "0200", tier="internal"), chunks(2, seed=2), role=W) == "stored"
    assert retier_document(conn, "intake", "fl/tv.pdf", "v2", "0300", "restricted", role=W) == "retiered"
    assert _as_role(conn, "docai_reader_confidential", "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 'fl/tv.pdf'")[0][0] == 0


def test_a_tag_change_of_the_null_version_written_again_after_its_delete_re_tiers_it(migrated):
    # Versioning suspended: a permanent delete of the 'null' version, then a new write of the key is a
    # new 'null' version. Was: its tag change returned "deleted" (the old tombstone, never compared by
    # sequencer), so the new object kept its old tier: readers of 'public' read a now-restricted document.
    conn, _ = migrated
    upsert_document(conn, doc("fl/n.pdf", "null", "0100", tier="public"), chunks(2), role=W)
    assert delete_document(conn, "intake", "fl/n.pdf", "0200", only_version="null", role=W) == "deleted"
    assert upsert_document(conn, doc("fl/n.pdf", "null", "0300", tier="public"), chunks(2), role=W) == "stored"
    assert retier_document(conn, "intake", "fl/n.pdf", "null", "0400", "restricted", role=W) == "retiered"
    assert _as_role(conn, "docai_reader_public", "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.key = 'fl/n.pdf'")[0][0] == 0
    # a tag change older than the delete (of the old object) still changes nothing
    assert retier_document(conn, "intake", "fl/n.pdf", "null", "0150", "public", role=W) == "deleted"


def test_a_transient_failure_of_a_new_version_keeps_the_stored_one(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("fl/k.pdf", "v1", "0100"), chunks(2), role=W)
    assert record_failure(conn, "intake", "fl/k.pdf", "v2", "0200", "DatabaseUnavailable: network error", role=W, transient=True) == "kept"
    st = document_status(conn, "intake", "fl/k.pdf")
    assert (st["status"], st["version_id"], count_chunks(conn, "fl/k.pdf")) == ("stored", "v1", 2)
    assert "v2" in st["error"] and "DatabaseUnavailable" in st["error"]
    assert upsert_document(conn, doc("fl/k.pdf", "v2", "0200"), chunks(1), role=W) == "stored"  # the replay


def test_a_key_holding_nul_is_recorded_in_a_form_postgresql_stores(migrated):
    conn, _ = migrated
    assert record_failure(conn, "intake", "fl/a\x00b.pdf", "v1", "0100", "UnsupportedDocument: key a\x00b", role=W) == "recorded"
    st = document_status(conn, "intake", "fl/a\x00b.pdf")
    assert st["status"] == "failed" and "\x00" not in st["error"]
    assert conn.run("SELECT key FROM documents WHERE key LIKE 'fl/a%b.pdf'")[0][0] == "fl/a\\x00b.pdf"


def test_transient_database_errors_are_told_from_permanent_ones_on_real_driver_errors(migrated, conn):
    import socket

    import pg8000.exceptions

    from docai_shared.db import is_transient
    from pglite import connect as connect_to

    port = conn._usock.getpeername()[1]
    dead = connect_to(port)
    dead._usock.shutdown(socket.SHUT_RDWR)  # the server side went away (failover, restart)
    with pytest.raises(pg8000.exceptions.InterfaceError) as lost:
        dead.run("SELECT 1")
    assert is_transient(lost.value)
    c, _ = migrated
    # the server's answer as PostgreSQL sends it under contention (PGlite has one backend, so real
    # contention cannot happen here): serialization failure, deadlock, lock and statement timeouts
    for errcode in ("serialization_failure", "deadlock_detected", "lock_not_available", "query_canceled"):
        with pytest.raises(pg8000.exceptions.DatabaseError) as busy:
            c.run(f"DO $$ BEGIN RAISE EXCEPTION 'busy' USING ERRCODE = '{errcode}'; END $$")
        assert is_transient(busy.value), errcode
    with pytest.raises(pg8000.exceptions.DatabaseError) as syntax:
        c.run("SELEC 1")
    assert not is_transient(syntax.value)


def test_a_search_compares_only_vectors_of_the_questions_model(migrated):
    # During a backfill to a new model both models' vectors are in the table; distances across
    # models mean nothing, so a search sees only the chunks of the model that embedded the question.
    conn, _ = migrated
    q = vec(424242)
    # Their own document type: the module's other tests may have stored many closer chunks already.
    upsert_document(conn, doc("m/old.pdf", "v1", "0100", document_type="model-test"), [ChunkRecord(0, "old model", 2, q)], role=W, embedding_model="model-a")
    upsert_document(conn, doc("m/new.pdf", "v1", "0100", document_type="model-test"), [ChunkRecord(0, "new model", 2, vec(1))], role=W, embedding_model="model-b")
    keys = lambda model: {h.key for h in search(conn, q, k=50, role="docai_reader_restricted", embedding_model=model, document_type="model-test")}
    assert keys("model-b") == {"m/new.pdf"}  # the identical vector of model A is not returned
    assert keys("model-a") == {"m/old.pdf"}
    assert keys(None) == {"m/old.pdf", "m/new.pdf"}
    # a re-embed replaces a document's chunks with the new model's, in one transaction
    upsert_document(conn, doc("m/old.pdf", "v1", "0100", document_type="model-test"), [ChunkRecord(0, "old model", 2, q)], role=W, force=True, embedding_model="model-b")
    assert keys("model-b") == {"m/old.pdf", "m/new.pdf"} and keys("model-a") == set()


def test_chunks_stored_before_models_were_recorded_are_labelled_once(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("m/legacy.pdf", "v1", "0100"), chunks(2), role=W)  # no model: as before migration 0006
    from docai_shared.db import label_unrecorded_models
    conn.run("BEGIN")
    labelled = label_unrecorded_models(conn, "BAAI/bge-base-en-v1.5")
    conn.run("COMMIT")
    assert labelled >= 2
    assert conn.run("SELECT count(*) FROM chunks WHERE embedding_model IS NULL")[0][0] == 0


def test_upsert_rolls_back_whole_on_error(migrated):
    conn, _ = migrated
    upsert_document(conn, doc("rb.pdf", "v1", "0100"), chunks(2), role=W)
    bad = chunks(2, seed=9) + [ChunkRecord(2, "x", 1, [0.0] * (DIM + 1))]  # wrong dimension
    with pytest.raises(Exception, match="dimensions"):  # pgvector: "expected N dimensions, not M"
        upsert_document(conn, doc("rb.pdf", "v2", "0200"), bad, role=W)
    assert document_status(conn, "intake", "rb.pdf")["version_id"] == "v1"
    assert count_chunks(conn, "rb.pdf") == 2


# --- reads, row-level security, the index -------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(migrated):
    conn, _ = migrated
    # 4 documents per tier and type, 25 chunks each: 800 chunks
    for t_i, tier in enumerate(("public", "internal", "confidential", "restricted")):
        for d_i, dtype in enumerate(("contract", "invoice")):
            for n in range(4):
                upsert_document(conn, doc(f"corpus/{tier}/{dtype}/{n}.pdf", "v1", "01", tier=tier, document_type=dtype,
                                          document_date=date(2026, 1 + n, 1), business_unit="legal" if n % 2 else "finance"),
                                chunks(25, seed=t_i * 100 + d_i * 10 + n), role=W)
    conn.run("ANALYZE chunks")
    return conn


def test_row_level_security_hides_higher_tiers_from_a_lower_tier_role(corpus):
    conn = corpus
    seen = lambda role: {r[0] for r in _as_role(conn, role, "SELECT DISTINCT access_tier FROM chunks")}
    assert seen("docai_reader_public") == {"public"}
    assert seen("docai_reader_internal") == {"public", "internal"}
    assert seen("docai_reader_confidential") == {"public", "internal", "confidential"}
    assert seen("docai_reader_restricted") == {"public", "internal", "confidential", "restricted"}
    # no WHERE clause involved: even an explicit query for confidential rows returns nothing
    assert _as_role(conn, "docai_reader_internal", "SELECT count(*) FROM chunks WHERE access_tier = 'confidential'") == [[0]]
    assert _as_role(conn, "docai_reader_internal", "SELECT count(*) FROM documents WHERE access_tier = 'restricted'") == [[0]]
    # and a reader cannot write
    with pytest.raises(Exception, match="permission denied"):
        _as_role(conn, "docai_reader_restricted", "DELETE FROM chunks")


def _as_role(conn, role, sql):
    conn.run("BEGIN")
    try:
        conn.run(f'SET LOCAL ROLE "{role}"')
        return conn.run(sql)
    finally:
        conn.run("ROLLBACK")


def test_search_returns_nearest_chunks_within_the_readers_tier(corpus):
    conn = corpus
    target = vec((1 * 100 + 0 * 10 + 2) * 1000 + 0)  # corpus/internal/contract/2.pdf, chunk 0 (see chunks())
    hits = search(conn, target, k=5, role="docai_reader_internal")
    assert hits[0].key == "corpus/internal/contract/2.pdf" and hits[0].chunk_index == 0 and hits[0].distance < 1e-6
    assert all(h.access_tier in ("public", "internal") for h in hits)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert search(conn, target, k=5, role="docai_reader_public")[0].key != "corpus/internal/contract/2.pdf"


def test_a_filtered_search_returns_k_rows_when_k_matching_rows_exist(corpus):
    conn = corpus
    # "invoice" + "legal" + restricted-tier reader: 2 docs x 25 chunks per tier x 4 tiers = 200 rows match;
    # ask for 40 with a narrow ef_search, so a plain (non-iterative) HNSW scan would come back short.
    hits = search(conn, vec(42), k=40, role="docai_reader_restricted", ef_search=10, document_type="invoice", business_unit="legal")
    assert len(hits) == 40
    assert all(h.key.split("/")[2] == "invoice" for h in hits)
    hits = search(conn, vec(43), k=30, role="docai_reader_public", ef_search=10, document_type="contract", date_from=date(2026, 2, 1))
    assert len(hits) == 30  # public contracts dated Feb-Apr: 3 docs x 25 chunks = 75 rows
    assert all(h.access_tier == "public" for h in hits)


def test_the_search_query_uses_the_hnsw_index(corpus):
    plan = explain_search(corpus, vec(7), k=10, role="docai_reader_restricted", document_type="invoice")
    assert "chunks_embedding_hnsw" in plan, plan


def test_unknown_filters_and_roles_are_refused_not_pasted_into_sql(corpus):
    with pytest.raises(ValueError, match="unknown filter"):
        search(corpus, vec(1), k=3, role="docai_reader_public", **{"1=1; DROP TABLE chunks; --": "x"})
    with pytest.raises(ValueError, match="unknown role"):
        search(corpus, vec(1), k=3, role="postgres")


def test_a_writer_that_loses_the_race_for_the_first_insert_compares_sequencers_instead_of_failing(migrated, monkeypatch):
    # Two first versions of one key stored concurrently: both SELECT ... FOR UPDATE find no row (and
    # lock nothing), the first INSERT wins. Was: the loser failed on the unique (bucket, key), and its
    # failure handling could mark the winner's newer version failed. The race is replayed exactly: the
    # winner's row exists, and the loser's first lookup still sees none.
    import docai_shared.db as db

    conn, _ = migrated
    real = db._lock_row

    def race_once(*a, **k):
        monkeypatch.setattr(db, "_lock_row", real)
        return None

    upsert_document(conn, doc("race.pdf", "v2", "0200"), chunks(2), role=W)  # the winner
    monkeypatch.setattr(db, "_lock_row", race_once)
    with pytest.raises(StaleVersion):  # an older loser is stale, exactly as without the race
        upsert_document(conn, doc("race.pdf", "v1", "0100"), chunks(5), role=W)
    assert document_status(conn, "intake", "race.pdf")["version_id"] == "v2"
    monkeypatch.setattr(db, "_lock_row", race_once)
    assert record_failure(conn, "intake", "race.pdf", "v1", "0100", "late failure of the loser", role=W) == "superseded"
    assert document_status(conn, "intake", "race.pdf")["status"] == "stored"
    monkeypatch.setattr(db, "_lock_row", race_once)
    assert upsert_document(conn, doc("race.pdf", "v3", "0300"), chunks(3), role=W) == "stored"  # a newer loser wins
    assert count_chunks(conn, "race.pdf") == 3
    monkeypatch.setattr(db, "_lock_row", race_once)
    assert delete_document(conn, "intake", "race.pdf", "0400", role=W) == "deleted"
    assert count_chunks(conn, "race.pdf") == 0
