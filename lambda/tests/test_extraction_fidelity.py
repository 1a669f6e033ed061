"""Extraction on documents shaped like real uploads: each test names the defect it guards against
(issue 12); each failed on the extractor before the fix."""
from __future__ import annotations

import io
import zipfile

import pytest

from corpus import docx_bytes
from docai_shared.errors import DocumentLimitExceeded, UnreadableDocument, UnsupportedDocument
from extraction import Limits, decode_text, extract_docx, extract_html


def test_html_text_in_divs_spans_sections_and_articles_is_kept_next_to_paragraphs():
    # was: any page with a <p>, <li> or <td> lost all text that sat directly in div/section/span
    page = b"""<html><body><article><h1>Annual report</h1><div>Revenue grew <span>12%</span> this year.</div>
    <section>Margins held at 31 percent.<p>Costs fell.</p></section><p>Outlook stable.</p>
    <table><tr><th>Year</th><th>Sales</th></tr><tr><td>2025</td><td>1,000</td></tr></table></article></body></html>"""
    text = extract_html(page).text
    for seen in ("Revenue grew 12% this year.", "Margins held at 31 percent.", "Costs fell.", "Outlook stable.", "Year | Sales", "2025 | 1,000"):
        assert seen in text


def test_html_page_furniture_scripts_and_hidden_text_are_left_out():
    page = b"""<html><head><title>t</title><script>trackUser()</script><style>p{}</style></head><body>
    <nav><a href="/">Home</a> <a href="/jobs">Jobs</a></nav><div role="navigation">Menu</div>
    <main><h2>Policy</h2><p>Book economy.</p><div hidden>secret draft</div><span style="display: none">x-hidden</span></main>
    <footer>Copyright 2026 ACME</footer></body></html>"""
    ex = extract_html(page)
    assert ex.text == "Policy\n\nBook economy."
    assert [s.heading for s in ex.sections] == ["Policy"]


def test_html_nesting_thousands_deep_is_read_completely_without_recursion():
    # The walk uses an explicit stack (no recursion limit) and no per-element ancestor search (was
    # quadratic in depth: 176 KB of nested <div><p> took 35 s); npm run bench:extract times it.
    depth = 20000
    page = b"<html><body>" + b"<div><p>w</p>" * depth + b"</div>" * depth + b"</body></html>"
    assert extract_html(page).text.split() == ["w"] * depth


@pytest.mark.parametrize("text, encoding", [
    ("Crème brûlée à la carte", "latin-1"),  # was decoded as cp1250: "Crčme brűlée"
    ("Crème brûlée – “quoted” €5", "cp1252"),
    ("naïve café", "latin-1"),
    ("Zażółć gęślą jaźń", "cp1250"),
    ("Привет, как дела? Это тест кодировки.", "cp1251"),
])
def test_short_single_byte_texts_get_their_code_page(text, encoding):
    assert decode_text(text.encode(encoding))[0] == text


def test_utf8_with_a_few_invalid_bytes_stays_utf8_with_replacement_characters():
    # was: the whole file was decoded in another code page ("GrĂĽĂźe")
    good = "Grüße aus München, schöne Straße. " * 3
    text, encoding = decode_text(good.encode() + b"\xff broken \xfe end")
    assert text == good + "\ufffd broken \ufffd end"
    assert encoding.startswith("utf-8")


def _docx_with_document_xml(xml: bytes, compress=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("word/document.xml", xml)
    return out.getvalue()


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def test_a_docx_bomb_is_refused_from_the_archive_directory_before_inflating():
    # was: a 195 KB file was inflated to 408 MB in memory before a raw parser exception ended it
    bomb = _docx_with_document_xml(b"<w:document " + W + b"><w:body>" + b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * 1_500_000 + b"</w:body></w:document>")
    assert len(bomb) < 1_000_000
    with pytest.raises(DocumentLimitExceeded, match=r"inflates to \d+ bytes, over the limit of 33554432 \(max_xml_part_bytes\)"):
        extract_docx(bomb, "bomb.docx")
    with pytest.raises(DocumentLimitExceeded, match=r"compression ratio of \d+:1, over the limit of 200:1"):
        extract_docx(bomb, "bomb.docx", Limits(max_xml_part_bytes=10**9))


def test_malformed_or_too_deep_word_xml_is_a_named_error():
    with pytest.raises(UnreadableDocument, match="malformed or too deeply nested Word XML"):
        extract_docx(_docx_with_document_xml(b"<w:document " + W + b"><w:body><w:p>"), "broken.docx")
    deep = b"<w:document " + W + b"><w:body>" + b"<w:sdt><w:sdtContent>" * 400 + b"<w:p/>" + b"</w:sdtContent></w:sdt>" * 400 + b"</w:body></w:document>"
    with pytest.raises(DocumentLimitExceeded):
        extract_docx(_docx_with_document_xml(deep, zipfile.ZIP_STORED), "deep.docx")
    with pytest.raises(UnsupportedDocument):
        extract_docx(b"PK\x03\x04 not really a zip", "fake.docx")


def test_docx_tables_stay_under_their_heading_and_nested_tables_keep_their_text():
    # was: every table was filed under the document's last heading, and nested tables lost their text
    import docx

    d = docx.Document()
    d.add_heading("Prices", level=1)
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "Basic"
    inner = t.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "10 EUR"
    inner.cell(0, 1).text = "monthly"
    d.add_heading("Terms", level=1)
    d.add_paragraph("Cancel any time.")
    out = io.BytesIO()
    d.save(out)
    by_heading = {s.heading: s.text for s in extract_docx(out.getvalue(), "prices.docx").sections}
    assert "Basic" in by_heading["Prices"] and "10 EUR" in by_heading["Prices"] and "monthly" in by_heading["Prices"]
    assert by_heading["Terms"] == "Cancel any time."


def test_docx_headers_footers_and_paragraph_order_are_kept():
    data = docx_bytes("Handbook", [("Leave", "Twenty-five days."), (None, "Carry over five.")])
    ex = extract_docx(data, "h.docx")
    assert [s.text for s in ex.sections if s.heading == "Leave"] == ["Twenty-five days.\nCarry over five."]


def test_extracted_characters_are_bounded():
    with pytest.raises(DocumentLimitExceeded, match=r"over the limit of 1000 \(max_extracted_chars\)"):
        extract_html(b"<html><body><p>" + b"word " * 1000 + b"</p></body></html>", "big.html", Limits(max_extracted_chars=1000))


def test_the_extract_function_reads_its_bounds_from_its_environment(monkeypatch):
    # the construct sets EXTRACT_* (DocumentPipelineProps.extractLimits); the defaults are the same numbers
    monkeypatch.setenv("EXTRACT_MAX_PDF_PAGES", "3")
    monkeypatch.setenv("EXTRACT_MAX_EXTRACTED_CHARS", "500")
    assert Limits.from_env() == Limits(max_pdf_pages=3, max_extracted_chars=500)
    from corpus import pdf_with_text
    from extraction import extract
    with pytest.raises(DocumentLimitExceeded, match=r"4 pages is over the limit of 3 \(max_pdf_pages\)"):
        extract("pdf", pdf_with_text(["a", "b", "c", "d"]), "long.pdf")
