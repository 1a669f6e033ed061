"""Validate and extract: bytes of one S3 object -> typed sections of text. Pure functions, no AWS.

Validation looks at what the bytes are (magic numbers), not only at the name: a file of random bytes
named ``.pdf`` is rejected as not a PDF. Every rejection is a named permanent error
(``UnsupportedDocument``, ``NeedsHumanReview``), which the state machine routes to RecordFailure (or
HumanReview) without retrying.
"""
from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field

from docai_shared.errors import NeedsHumanReview, UnsupportedDocument

PDF, DOCX, HTML, MARKDOWN, TEXT = "pdf", "docx", "html", "markdown", "text"
SUPPORTED = (PDF, DOCX, HTML, MARKDOWN, TEXT)
_EXT = {".pdf": PDF, ".docx": DOCX, ".html": HTML, ".htm": HTML, ".md": MARKDOWN, ".markdown": MARKDOWN, ".txt": TEXT, ".text": TEXT}
_CONTENT_TYPES = {
    "application/pdf": PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": DOCX,
    "text/html": HTML,
    "text/markdown": MARKDOWN,
    "text/plain": TEXT,
}
# How many of the first bytes validation needs (a ranged GET, not the whole object).
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Section:
    text: str
    page: int | None = None
    heading: str | None = None


@dataclass
class Extracted:
    doc_type: str
    sections: list[Section] = field(default_factory=list)
    pages: int | None = None
    encoding: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


def _extension(key: str) -> str:
    m = re.search(r"(\.[A-Za-z0-9]+)$", key)
    return m.group(1).lower() if m else ""


def detect_type(key: str, head: bytes, content_type: str | None = None) -> str:
    """The document type from magic bytes first, then content type and extension for text formats."""
    ext = _extension(key)
    declared = _EXT.get(ext) or _CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        if declared == DOCX or b"word/" in head or b"[Content_Types].xml" in head:
            return DOCX
        raise UnsupportedDocument(f"{key}: a ZIP archive that is not a Word (.docx) document")
    if declared in (PDF, DOCX):
        raise UnsupportedDocument(f"{key}: named or typed as {declared.upper()}, but its bytes are not a {declared.upper()} file")
    if declared in (HTML, MARKDOWN, TEXT):
        return declared
    sample = head[:512].lstrip().lower()
    if sample.startswith((b"<!doctype html", b"<html")):
        return HTML
    raise UnsupportedDocument(f"{key}: unsupported type (extension {ext or 'none'!r}, content type {content_type!r}); supported: {', '.join(SUPPORTED)}")


def validate(key: str, size: int, head: bytes, max_bytes: int, content_type: str | None = None) -> str:
    """Rejects what cannot be processed; returns the document type."""
    if size == 0 or not head:
        raise UnsupportedDocument(f"{key}: empty object")
    if size > max_bytes:
        raise UnsupportedDocument(f"{key}: {size} bytes is over the limit of {max_bytes} bytes")
    doc_type = detect_type(key, head, content_type)
    if doc_type == PDF and b"/Encrypt" in head:
        # Often in the trailer (end of file): extract_pdf checks again on the whole file.
        raise UnsupportedDocument(f"{key}: encrypted PDF")
    return doc_type


# --- extractors ---------------------------------------------------------------------------------

def extract(doc_type: str, data: bytes, key: str = "") -> Extracted:
    if doc_type == PDF:
        return extract_pdf(data, key)
    if doc_type == DOCX:
        return extract_docx(data, key)
    if doc_type == HTML:
        return extract_html(data, key)
    if doc_type in (MARKDOWN, TEXT):
        return extract_plain(data, key, doc_type)
    raise UnsupportedDocument(f"{key}: unsupported type {doc_type!r}")


def extract_pdf(data: bytes, key: str = "") -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnsupportedDocument(f"{key}: encrypted PDF")
        sections = []
        for i, page in enumerate(reader.pages, start=1):
            text = _normalise(page.extract_text() or "")
            if text:
                sections.append(Section(text=text, page=i))
        pages = len(reader.pages)
    except UnsupportedDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise UnsupportedDocument(f"{key}: not a readable PDF ({type(e).__name__}: {e})") from e
    if not sections:
        raise NeedsHumanReview(f"{key}: PDF with {pages} page(s) and no text layer (scanned?): needs OCR or a person")
    return Extracted(PDF, sections, pages=pages)


def extract_docx(data: bytes, key: str = "") -> Extracted:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UnsupportedDocument(f"{key}: not a readable DOCX ({type(e).__name__}: {e})") from e
    sections, heading, buf = [], None, []

    def flush():
        text = _normalise("\n".join(buf))
        if text:
            sections.append(Section(text=text, heading=heading))
        buf.clear()

    for p in document.paragraphs:
        style = (p.style.name if p.style is not None else "") or ""
        if style.lower().startswith("heading") or style.lower() == "title":
            flush()
            heading = p.text.strip() or heading
            continue
        buf.append(p.text)
    for table in document.tables:
        for row in table.rows:
            buf.append(" | ".join(cell.text.strip() for cell in row.cells))
    flush()
    return Extracted(DOCX, sections)


_INVISIBLE = ("script", "style", "noscript", "template", "iframe", "svg", "head")


def extract_html(data: bytes, key: str = "") -> Extracted:
    from bs4 import BeautifulSoup

    text, encoding = decode_text(data, key)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(_INVISIBLE):
        tag.decompose()
    for tag in soup.find_all(style=re.compile(r"display\s*:\s*none", re.I)):
        tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        tag.decompose()
    sections, heading, buf = [], None, []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote", "dd", "dt"]):
        if el.find_parent(["p", "li", "td", "th", "pre", "blockquote"]) is not None and el.name not in ("h1", "h2", "h3", "h4", "h5", "h6"):
            continue  # nested block already counted with its parent
        t = _normalise(el.get_text(" ", strip=True))
        if not t:
            continue
        if el.name.startswith("h"):
            if buf:
                sections.append(Section("\n".join(buf), heading=heading))
                buf = []
            heading = t
        else:
            buf.append(t)
    if buf:
        sections.append(Section("\n".join(buf), heading=heading))
    if not sections:  # no block elements: fall back to all visible text
        t = _normalise(body.get_text("\n", strip=True))
        if t:
            sections.append(Section(t))
    if not sections:
        raise UnsupportedDocument(f"{key}: HTML with no visible text")
    return Extracted(HTML, sections, encoding=encoding)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


def extract_plain(data: bytes, key: str = "", doc_type: str = TEXT) -> Extracted:
    text, encoding = decode_text(data, key)
    sections: list[Section] = []
    if doc_type == MARKDOWN:
        heading, buf = None, []
        for line in text.splitlines():
            m = _MD_HEADING.match(line)
            if m:
                if _normalise("\n".join(buf)):
                    sections.append(Section(_normalise("\n".join(buf)), heading=heading))
                heading, buf = m.group(2), []
            else:
                buf.append(line)
        if _normalise("\n".join(buf)):
            sections.append(Section(_normalise("\n".join(buf)), heading=heading))
    else:
        t = _normalise(text)
        if t:
            sections.append(Section(t))
    if not sections:
        raise UnsupportedDocument(f"{key}: no text")
    return Extracted(doc_type, sections, encoding=encoding)


def decode_text(data: bytes, key: str = "") -> tuple[str, str]:
    """Decodes text: byte-order marks first, then strict UTF-8, then charset detection.
    Binary data that decodes to mostly control characters is rejected."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return _check_text(data.decode(enc), key), enc
    try:
        return _check_text(data.decode("utf-8"), key), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnsupportedDocument(f"{key}: not text in any encoding detected")
    return _check_text(str(best), key), best.encoding


def _check_text(text: str, key: str) -> str:
    sample = text[:20000]
    if sample:
        control = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0xFFF0 <= ord(ch) <= 0xFFFF or ch == "\ufffd")
        if control / len(sample) > 0.05:
            raise UnsupportedDocument(f"{key}: binary data, not text")
    return text


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
