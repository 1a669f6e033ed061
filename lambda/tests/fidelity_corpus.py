"""A corpus of real-world-shaped documents, each with the text a reader sees written down as the
expected text, and a character-level score of extracted against expected text.

Used by `npm run bench:extract` (bench/extract.py) and by test_extraction_fidelity_corpus.py.
Expected text leaves out what a reader does not read as content: scripts, styles, hidden elements,
navigation and footer furniture of web pages.
"""
from __future__ import annotations

import difflib
import html as htmllib
import io
import random
import re
from dataclasses import dataclass

WORDS = ("contract invoice payment supplier delivery warranty liability clause term notice period renewal price volume "
         "discount service level penalty audit record retention policy employee travel expense approval manager budget "
         "quarter report revenue forecast risk mitigation compliance regulation privacy").split()
ACCENTED = "café naïve façade crème brûlée déjà Müller Straße Größe über señor año".split()


@dataclass(frozen=True)
class Doc:
    name: str
    doc_type: str  # the corpus type, for the per-type table
    key: str
    data: bytes
    expected: str


def _sentence(rnd: random.Random, accents: bool = False) -> str:
    words = [rnd.choice(ACCENTED if accents and rnd.random() < 0.2 else WORDS) for _ in range(rnd.randint(6, 14))]
    return " ".join(words).capitalize() + "."


def _para(rnd: random.Random, n: int, accents: bool = False) -> str:
    return " ".join(_sentence(rnd, accents) for _ in range(n))


def html_docs(rnd: random.Random, sections: int) -> list[Doc]:
    out = []
    for layout in ("divs", "article", "table", "mixed"):
        expected, body = [], []
        for i in range(sections):
            h = f"Section {i} {rnd.choice(WORDS)}"
            p1, p2 = _para(rnd, 3, True), _para(rnd, 2)
            expected += [h, p1, p2]
            if layout == "divs":
                body.append(f"<div class='h'><h2>{h}</h2></div><div>{htmllib.escape(p1)}</div><div><span>{htmllib.escape(p2)}</span></div>")
            elif layout == "article":
                body.append(f"<section><h2>{h}</h2>{htmllib.escape(p1)}<p>{htmllib.escape(p2)}</p></section>")
            elif layout == "table":
                cells = [rnd.choice(WORDS) for _ in range(4)]
                expected.append(" ".join(cells))
                body.append(f"<h2>{h}</h2><p>{htmllib.escape(p1)}</p><ul><li>{htmllib.escape(p2)}</li></ul>"
                            f"<table><tr><th>{cells[0]}</th><th>{cells[1]}</th></tr><tr><td>{cells[2]}</td><td>{cells[3]}</td></tr></table>")
            else:
                body.append(f"<article><header><h2>{h}</h2></header><div><p>{htmllib.escape(p1)}</p> {htmllib.escape(p2)}</div></article>")
        page = ("<!DOCTYPE html><html><head><title>Report</title><style>.h{color:red}</style><script>var track='do-not-read';</script></head>"
                "<body><nav><a href='/'>Home</a> <a href='/jobs'>Jobs</a></nav><main>" + "".join(body) +
                "<div style='display:none'>hidden text</div></main><footer>Copyright 2026 ACME &amp; Co</footer></body></html>")
        out.append(Doc(f"html-{layout}", "html", f"web/{layout}.html", page.encode(), "\n".join(expected)))
    return out


def docx_docs(rnd: random.Random, sections: int) -> list[Doc]:
    import docx

    d = docx.Document()
    expected = []
    d.sections[0].header.paragraphs[0].text = "ACME confidential"
    d.sections[0].footer.paragraphs[0].text = "Page footer text"
    for i in range(sections):
        h = f"Chapter {i} {rnd.choice(WORDS)}"
        d.add_heading(h, level=1)
        p = _para(rnd, 4, True)
        d.add_paragraph(p)
        expected += [h, p]
        t = d.add_table(rows=2, cols=2)
        cells = [rnd.choice(WORDS) for _ in range(4)]
        for n, c in enumerate(cells):
            t.cell(n // 2, n % 2).text = c
        expected.append(" ".join(cells))
        if i % 2 == 0:
            inner = t.cell(1, 1).add_table(rows=1, cols=2)
            inner.cell(0, 0).text = "nested alpha"
            inner.cell(0, 1).text = "nested beta"
            expected.append("nested alpha nested beta")
    expected += ["ACME confidential", "Page footer text"]
    out = io.BytesIO()
    d.save(out)
    return [Doc("docx-tables", "docx", "office/report.docx", out.getvalue(), "\n".join(expected))]


def pdf_docs(rnd: random.Random, pages: int) -> list[Doc]:
    from fpdf import FPDF

    out = []
    # multi-page, one column
    pdf, expected = FPDF(), []
    pdf.set_font("helvetica", size=11)
    for _ in range(pages):
        pdf.add_page()
        p = _para(rnd, 6)
        pdf.multi_cell(0, 6, p)
        expected.append(p)
    out.append(Doc("pdf-pages", "pdf", "scans/report.pdf", bytes(pdf.output()), "\n".join(expected)))
    # two columns per page
    pdf, expected = FPDF(), []
    pdf.set_font("helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        left, right = _para(rnd, 4), _para(rnd, 4)
        pdf.set_xy(10, 20)
        pdf.multi_cell(90, 5, left)
        pdf.set_xy(110, 20)
        pdf.multi_cell(90, 5, right)
        expected += [left, right]
    out.append(Doc("pdf-two-columns", "pdf", "papers/two-columns.pdf", bytes(pdf.output()), "\n".join(expected)))
    # rotated pages (landscape)
    pdf, expected = FPDF(), []
    pdf.set_font("helvetica", size=11)
    for _ in range(max(1, pages // 2)):
        pdf.add_page(orientation="L")
        p = _para(rnd, 5)
        pdf.multi_cell(0, 6, p)
        expected.append(p)
    out.append(Doc("pdf-landscape", "pdf", "plans/landscape.pdf", bytes(pdf.output()), "\n".join(expected)))
    out.append(_pdf_rotated_with_form(rnd, pages))
    return out


def _pdf_rotated_with_form(rnd: random.Random, pages: int) -> Doc:
    """Pages turned 90 and 270 degrees (/Rotate), and a filled-in form whose values are annotations,
    not page text: the reader sees both."""
    import io

    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, BooleanObject, DictionaryObject, FloatObject, NameObject, NumberObject, TextStringObject

    pdf, expected = FPDF(), []
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    intro = "Expense claim. " + _para(rnd, 2)
    pdf.multi_cell(0, 6, intro)
    expected.append(intro)
    for _ in range(max(2, pages // 2)):
        pdf.add_page()
        p = _para(rnd, 4)
        pdf.multi_cell(0, 6, p)
        expected.append(p)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(bytes(pdf.output()))))
    for i, page in enumerate(writer.pages[1:]):
        page.rotate(90 if i % 2 == 0 else 270)
    first = writer.pages[0]
    values = [("Employee", "Jane Doe"), ("Amount", "42.50 EUR"), ("Cost centre", "CC-1042")]
    fields = ArrayObject()
    for i, (name, value) in enumerate(values):
        f = DictionaryObject({
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(name), NameObject("/V"): TextStringObject(value),
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"), NameObject("/F"): NumberObject(4),
            NameObject("/Rect"): ArrayObject([FloatObject(50), FloatObject(600 - 30 * i), FloatObject(250), FloatObject(620 - 30 * i)]),
        })
        f[NameObject("/P")] = first.indirect_reference
        fields.append(writer._add_object(f))
    first[NameObject("/Annots")] = fields
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): fields, NameObject("/NeedAppearances"): BooleanObject(True)})
    expected.insert(1, "\n".join(f"{n}: {v}" for n, v in values))
    buf = io.BytesIO()
    writer.write(buf)
    return Doc("pdf-rotated-form", "pdf", "claims/expense-form.pdf", buf.getvalue(), "\n".join(expected))


def text_docs(rnd: random.Random, paragraphs: int) -> list[Doc]:
    out = []
    long_text = "\n\n".join(_para(rnd, 5, True) for _ in range(paragraphs))
    short_text = "Crème brûlée à la carte, Müller & Söhne."
    for enc in ("utf-8", "utf-16", "latin-1", "cp1252"):
        for size, text in (("long", long_text), ("short", short_text)):
            out.append(Doc(f"text-{enc}-{size}", "text", f"notes/{enc}-{size}.txt", text.encode(enc), text))
    broken = long_text.encode("utf-8")
    cut = broken.index(b" ", len(broken) // 2)
    damaged = broken[:cut] + b" \xff" + broken[cut:]
    out.append(Doc("text-broken-utf8", "text", "notes/broken.txt", damaged, long_text[: len(broken[:cut].decode())] + " \ufffd" + long_text[len(broken[:cut].decode()):]))
    md_parts, md_expected = [], []
    for i in range(max(2, paragraphs // 3)):
        h, p = f"Topic {i}", _para(rnd, 4, True)
        md_parts.append(f"## {h}\n\n{p}\n")
        md_expected += [h, p]
    out.append(Doc("markdown", "markdown", "docs/guide.md", "\n".join(md_parts).encode(), "\n".join(md_expected)))
    return out


def corpus(seed: int = 1, scale: int = 8) -> list[Doc]:
    rnd = random.Random(seed)
    return html_docs(rnd, scale) + docx_docs(rnd, scale) + pdf_docs(rnd, scale) + text_docs(rnd, scale)


def _words(text: str) -> list[str]:
    # table separators and whitespace layout are not content
    return re.sub(r"\s*\|\s*", " ", text).split()


def score(extracted: str, expected: str) -> tuple[float, float]:
    """Character-level recall and precision: characters of words that match in order (longest
    matching blocks of word sequences), over the expected and over the extracted characters."""
    got, want = _words(extracted), _words(expected)
    m = difflib.SequenceMatcher(None, want, got, autojunk=False)
    matched = sum(sum(len(w) + 1 for w in want[b.a:b.a + b.size]) for b in m.get_matching_blocks())
    total_want = sum(len(w) + 1 for w in want) or 1
    total_got = sum(len(w) + 1 for w in got) or 1
    return matched / total_want, matched / total_got
