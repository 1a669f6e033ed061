import random

import pytest

from chunking import chunk_sections, count_tokens
from corpus import HTML, docx_bytes, encrypted_pdf, pdf_with_text, pdf_without_text
from docai_shared.errors import NeedsHumanReview, UnsupportedDocument
from extraction import DOCX, HTML as HTML_T, MARKDOWN, PDF, TEXT, Section, extract, validate

MB = 1024 * 1024


def run(key: str, data: bytes, content_type=None, max_bytes=50 * MB):
    doc_type = validate(key, len(data), data[:8192], max_bytes, content_type)
    return extract(doc_type, data, key)


def test_pdf_with_a_text_layer_yields_text_per_page():
    ex = run("contracts/lease.pdf", pdf_with_text(["Lease agreement between Alpha GmbH and Beta Ltd.", "Rent is 1200 EUR per month."]))
    assert ex.doc_type == PDF and ex.pages == 2
    assert [s.page for s in ex.sections] == [1, 2]
    assert "Alpha GmbH" in ex.sections[0].text and "1200 EUR" in ex.sections[1].text


def test_pdf_without_text_goes_to_human_review():
    with pytest.raises(NeedsHumanReview, match="no text layer"):
        run("scans/receipt.pdf", pdf_without_text())


def test_encrypted_pdf_is_rejected():
    with pytest.raises(UnsupportedDocument, match="encrypted PDF"):
        run("secret.pdf", encrypted_pdf())


def test_random_bytes_named_pdf_are_rejected():
    data = random.Random(3).randbytes(4096)
    with pytest.raises(UnsupportedDocument, match="not a PDF"):
        run("fake.pdf", data)


def test_docx_keeps_headings_and_tables():
    data = docx_bytes("Handbook", [("Leave", "Twenty-five days of annual leave."), ("Remote work", "Up to three days a week.")], [["Grade", "Days"], ["A", "25"]])
    ex = run("hr/handbook.docx", data)
    assert ex.doc_type == DOCX
    by_heading = {s.heading: s.text for s in ex.sections}
    assert "Twenty-five days" in by_heading["Leave"]
    assert "Up to three days" in by_heading["Remote work"] and "A | 25" in by_heading["Remote work"]


def test_html_yields_visible_text_only():
    ex = run("intranet/policy.html", HTML)
    assert ex.doc_type == HTML_T
    text = ex.text
    assert "economy class" in text and "Meals up to 60 EUR" in text
    for hidden in ("do-not-index", "trackUser", "color: red", "enable javascript", "hidden tracking pixel", "Organization"):
        assert hidden not in text
    assert {s.heading for s in ex.sections} == {"Travel policy", "Expenses"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1"])
def test_text_in_several_encodings_is_decoded(encoding):
    text = "Überweisung an Müller & Söhne: 1.250,00 € fällig am 3. März." if encoding != "latin-1" else "Überweisung an Müller & Söhne: fällig am 3. März, Straße 5."
    ex = run("notes/payment.txt", text.encode(encoding))
    assert ex.doc_type == TEXT
    assert ex.text == text
    assert ex.encoding.lower().replace("_", "-") in ({"utf-8"} if encoding == "utf-8" else {"utf-16"} if encoding == "utf-16" else {"latin-1", "iso-8859-1", "cp1252", "windows-1252", "iso8859-1", "cp1250", "iso-8859-15", "iso8859-15"})


def test_markdown_sections_follow_headings():
    ex = run("docs/readme.md", b"# Intro\nHello world.\n\n## Setup\nRun the installer.\n")
    assert ex.doc_type == MARKDOWN
    assert [(s.heading, s.text) for s in ex.sections] == [("Intro", "Hello world."), ("Setup", "Run the installer.")]


def test_empty_file_is_rejected():
    with pytest.raises(UnsupportedDocument, match="empty object"):
        validate("empty.txt", 0, b"", 50 * MB)


def test_a_very_large_file_is_rejected_before_download():
    # Validate sees only size and the first bytes: a 6 GiB object is refused without reading it.
    with pytest.raises(UnsupportedDocument, match="over the limit"):
        validate("huge.pdf", 6 * 1024 * MB, b"%PDF-1.7\n", 50 * MB)


def test_binary_named_txt_and_unknown_types_are_rejected():
    with pytest.raises(UnsupportedDocument, match="binary data|not text"):
        run("blob.txt", bytes(range(256)) * 40)
    with pytest.raises(UnsupportedDocument, match="unsupported type"):
        run("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)


# --- chunking -----------------------------------------------------------------------------------

LONG = " ".join(f"Sentence {i} explains clause {i % 17} of the agreement in plain words." for i in range(400))


def test_chunks_respect_the_size_and_overlap():
    chunks = chunk_sections([Section(LONG, page=3, heading="Terms")], chunk_tokens=100, overlap_tokens=20)
    assert len(chunks) > 10
    for c in chunks:
        assert c.token_count <= 100
        assert count_tokens(c.text) == c.token_count
        assert c.metadata == {"page": 3, "heading": "Terms"}
    # consecutive chunks share their overlap
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.text.startswith("Terms\n")
        head = " ".join(b.text.split("\n", 1)[1].split()[:8])
        assert head in a.text  # the next chunk starts inside the previous one
        assert a.text.index(head) > 0
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunking_is_deterministic():
    s = [Section(LONG, page=1), Section("Short tail.", page=2, heading="End")]
    assert chunk_sections(s, 128, 16) == chunk_sections(s, 128, 16)


def test_chunks_never_cross_sections_and_cover_all_text():
    s = [Section("alpha " * 50, page=1), Section("beta " * 50, page=2)]
    chunks = chunk_sections(s, 30, 0)
    assert all(("alpha" in c.text) != ("beta" in c.text) for c in chunks)
    assert sum(c.text.count("alpha") for c in chunks) == 50 and sum(c.text.count("beta") for c in chunks) == 50


def test_a_token_longer_than_a_chunk_is_cut_so_no_chunk_exceeds_the_size():
    # was: one 600-character run became a single 100-token chunk (a 2 MB run, one 2 MB chunk)
    chunks = chunk_sections([Section("x" * 600 + " tail")], chunk_tokens=50, overlap_tokens=5)
    assert all(c.token_count <= 50 for c in chunks)
    assert "".join(c.text for c in chunks).count("x") >= 600  # nothing lost (overlap may repeat some)
    assert chunks[-1].text.endswith("tail")
    huge = chunk_sections([Section("y" * 2_000_000)], chunk_tokens=400, overlap_tokens=50)
    assert max(len(c.text) for c in huge) <= 400 * 6


def test_the_heading_travels_into_the_embedded_text():
    # was: headings were metadata only, so a question naming the section missed its text
    chunks = chunk_sections([Section(LONG, page=2, heading="Termination rights")], chunk_tokens=100, overlap_tokens=10)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text.startswith("Termination rights\n")
        assert c.token_count == count_tokens(c.text) <= 100
        assert c.metadata["heading"] == "Termination rights"
    # a heading longer than half a chunk is cut, never crowding out the text
    long_heading = chunk_sections([Section("body text " * 50, heading="word " * 200)], chunk_tokens=40, overlap_tokens=0)
    assert all(c.token_count <= 40 and "body" in c.text for c in long_heading)


def test_bad_chunk_settings_are_refused():
    with pytest.raises(ValueError):
        chunk_sections([Section("a")], 10, 10)


def test_a_document_with_more_batches_than_the_state_can_carry_is_a_named_permanent_error(monkeypatch):
    import json as _json

    import boto3
    from moto import mock_aws

    import pipeline_handlers
    from docai_shared.errors import DocumentLimitExceeded

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="docai-work")
        s3.put_object(Bucket="docai-work", Key="runs/r1/extracted.json", Body=_json.dumps({"sections": [{"text": "word " * 5000, "page": 1, "heading": None}]}))
        monkeypatch.setitem(pipeline_handlers._clients, "s3", s3)
        for k, v in {"WORK_BUCKET": "docai-work", "CHUNK_TOKENS": "100", "CHUNK_OVERLAP_TOKENS": "0", "EMBED_BATCH_SIZE": "1", "MAX_EMBED_BATCHES": "20"}.items():
            monkeypatch.setenv(k, v)
        event = {"bucket": "docai-intake", "key": "big.txt", "versionId": "v1", "meta": {"runId": "r1"}, "extracted": {"extractedKey": "runs/r1/extracted.json"}}
        with pytest.raises(DocumentLimitExceeded, match=r"makes 50 chunks, more than 20 embedding batches of 1"):
            pipeline_handlers.chunk_handler(event)
        monkeypatch.setenv("MAX_EMBED_BATCHES", "50")
        assert len(pipeline_handlers.chunk_handler(event)["batches"]) == 50
