"""Builds real documents for tests: PDFs with and without a text layer, an encrypted PDF, DOCX, HTML."""
from __future__ import annotations

import io


def pdf_with_text(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def pdf_without_text(pages: int = 2) -> bytes:
    """Drawn shapes only, like a scan: no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    for i in range(pages):
        pdf.add_page()
        pdf.rect(20, 20 + i, 100, 60, style="F")
    return bytes(pdf.output())


def encrypted_pdf(text: str = "secret contract") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf_with_text([text]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(title: str, paragraphs: list[tuple[str | None, str]], table: list[list[str]] | None = None) -> bytes:
    import docx

    d = docx.Document()
    d.add_heading(title, level=1)
    for heading, text in paragraphs:
        if heading:
            d.add_heading(heading, level=2)
        d.add_paragraph(text)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


HTML = b"""<!DOCTYPE html><html><head><title>Policy</title><style>body { color: red }</style>
<script>var secret = "do-not-index"; trackUser();</script></head>
<body><nav><noscript>enable javascript</noscript></nav>
<h1>Travel policy</h1><p>Employees book economy class for flights under six hours.</p>
<div style="display:none">hidden tracking pixel text</div>
<h2>Expenses</h2><ul><li>Meals up to 60 EUR per day.</li><li>Taxis with receipts.</li></ul>
<script type="application/ld+json">{"@type": "Organization"}</script>
</body></html>"""
