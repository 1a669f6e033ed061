"""Every document type of the fidelity corpus keeps the text a reader sees: recall of at least 0.97
and precision of at least 0.98 per document (npm run bench:extract prints the full table)."""
from __future__ import annotations

import pytest

from extraction import extract, validate
from fidelity_corpus import corpus, score

DOCS = corpus(seed=7, scale=3)


def test_the_corpus_covers_every_type_and_encoding():
    assert {d.doc_type for d in DOCS} == {"html", "docx", "pdf", "text", "markdown"}
    assert {"text-utf-16-short", "text-latin-1-short", "text-cp1252-long", "text-broken-utf8", "pdf-two-columns", "html-divs"} <= {d.name for d in DOCS}


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_extraction_keeps_what_a_reader_sees(doc):
    ex = extract(validate(doc.key, len(doc.data), doc.data[:8192], 50 * 2**20), doc.data, doc.key)
    recall, precision = score(ex.text, doc.expected)
    assert recall >= 0.97, f"{doc.name}: recall {recall:.4f}"
    assert precision >= 0.98, f"{doc.name}: precision {precision:.4f}"


def test_the_score_notices_lost_and_extra_text():
    expected = "alpha beta gamma delta"
    assert score(expected, expected) == (1.0, 1.0)
    recall, precision = score("alpha beta", expected)
    assert recall < 0.6 and precision == 1.0
    recall, precision = score(expected + " cookie banner text", expected)
    assert recall == 1.0 and precision < 0.7
