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
from typing import Any

from docai_shared.contract import EXTRACT_LIMIT_ENV, EXTRACT_LIMITS
from docai_shared.errors import DocumentLimitExceeded, NeedsHumanReview, UnreadableDocument, UnsupportedDocument

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
        """What a reader sees: each heading once, before the text under it."""
        out, last = [], None
        for s in self.sections:
            if s.heading and s.heading != last:
                out.append(s.heading)
            last = s.heading
            out.append(s.text)
        return "\n\n".join(out)


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

def extract(doc_type: str, data: bytes, key: str = "", limits: Limits | None = None) -> Extracted:
    limits = limits or Limits.from_env()
    if doc_type == PDF:
        return extract_pdf(data, key, limits)
    if doc_type == DOCX:
        return extract_docx(data, key, limits)
    if doc_type == HTML:
        return extract_html(data, key, limits)
    if doc_type in (MARKDOWN, TEXT):
        return extract_plain(data, key, doc_type, limits)
    raise UnsupportedDocument(f"{key}: unsupported type {doc_type!r}")


def _form_values(page: Any) -> str:
    """Filled-in form fields of a page (what a reader sees in the boxes), as "Label: value" lines:
    the page's text layer does not hold them. Text and choice fields, and checked boxes."""
    lines = []
    for ref in page.get("/Annots") or []:
        annot = ref.get_object()
        if annot.get("/Subtype") != "/Widget":
            continue
        parent = annot.get("/Parent")
        ftype = annot.get("/FT") or (parent.get_object().get("/FT") if parent else None)
        value = annot.get("/V") if "/V" in annot else (parent.get_object().get("/V") if parent else None)
        label = annot.get("/TU") or annot.get("/T") or (parent.get_object().get("/TU") or parent.get_object().get("/T") if parent else None)
        if value is None or ftype not in ("/Tx", "/Ch", "/Btn"):
            continue
        if ftype == "/Btn":
            if str(value) in ("/Off", "Off"):
                continue
            value = "Yes" if str(value).startswith("/") else value
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = str(value).strip()
        if text:
            lines.append(f"{label}: {text}" if label else text)
    return "\n".join(lines)


def extract_pdf(data: bytes, key: str = "", limits: Limits | None = None) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    limits = limits or Limits.from_env()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnsupportedDocument(f"{key}: encrypted PDF")
        pages = len(reader.pages)
        if pages > limits.max_pdf_pages:
            raise DocumentLimitExceeded(f"{key}: {pages} pages is over the limit of {limits.max_pdf_pages} (max_pdf_pages)")
        sections, chars = [], 0
        for i, page in enumerate(reader.pages, start=1):
            text = _normalise("\n".join(t for t in (page.extract_text() or "", _form_values(page)) if t))
            chars += len(text)
            _check_chars(chars, key, limits)
            if text:
                sections.append(Section(text=text, page=i))
    except UnsupportedDocument:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
        raise UnreadableDocument(f"{key}: not a readable PDF ({type(e).__name__}: {e})") from e
    if not sections:
        raise NeedsHumanReview(f"{key}: PDF with {pages} page(s) and no text layer (scanned?): needs OCR or a person")
    return Extracted(PDF, sections, pages=pages)


# --- resource bounds -------------------------------------------------------------------------
# Each is checked before the work it bounds (a DOCX part's size from the archive directory, before
# inflating) and ends in DocumentLimitExceeded naming the limit and the value. Environment overrides
# exist for the Extract function (lib/document-pipeline: @default values in DocumentPipelineProps).

@dataclass(frozen=True)
class Limits:
    # The defaults are the contract's (lib/contract/limits.ts), which the Extract function's
    # environment overrides per deployment (EXTRACT_<NAME>, set by lib/document-pipeline).
    # Inflated size of one XML part of a DOCX (the main document, a header): what lxml parses.
    max_xml_part_bytes: int = EXTRACT_LIMITS["max_xml_part_bytes"]
    # Inflated / compressed size of one DOCX part: zip bombs compress far beyond real documents.
    max_compression_ratio: int = EXTRACT_LIMITS["max_compression_ratio"]
    max_pdf_pages: int = EXTRACT_LIMITS["max_pdf_pages"]
    # Characters extracted from one document (10M characters is ~25k chunks of 400 tokens).
    max_extracted_chars: int = EXTRACT_LIMITS["max_extracted_chars"]

    @classmethod
    def from_env(cls) -> "Limits":
        import os
        d = cls()
        return cls(**{f: int(os.environ.get(EXTRACT_LIMIT_ENV[f], getattr(d, f))) for f in d.__dataclass_fields__})


def _check_chars(n: int, key: str, limits: Limits) -> None:
    if n > limits.max_extracted_chars:
        raise DocumentLimitExceeded(f"{key}: {n} extracted characters is over the limit of {limits.max_extracted_chars} (max_extracted_chars)")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_part(z: zipfile.ZipFile, name: str, key: str, limits: Limits) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limits.max_xml_part_bytes:
        raise DocumentLimitExceeded(f"{key}: {name} inflates to {info.file_size} bytes, over the limit of {limits.max_xml_part_bytes} (max_xml_part_bytes)")
    ratio = info.file_size / max(1, info.compress_size)
    if ratio > limits.max_compression_ratio:
        raise DocumentLimitExceeded(f"{key}: {name} has a compression ratio of {ratio:.0f}:1, over the limit of {limits.max_compression_ratio}:1 (max_compression_ratio)")
    with z.open(info) as f:
        data = f.read(limits.max_xml_part_bytes + 1)  # never more than the limit, whatever the header claims
    if len(data) > limits.max_xml_part_bytes:
        raise DocumentLimitExceeded(f"{key}: {name} inflates past {limits.max_xml_part_bytes} bytes (max_xml_part_bytes)")
    return data


def _docx_blocks(root, key: str) -> list[tuple[str, str]]:
    """(kind, text) per block of a WordprocessingML body in reading order: `heading` or `text`.
    Tables become one line per row (cells joined by ' | ', nested tables inside their cell); text
    boxes are read where they are anchored. Iterative: no recursion on nesting depth."""
    blocks: list[tuple[str, str]] = []

    def paragraph_text(p) -> str:
        # runs of this paragraph, and paragraphs of text boxes anchored in it, in order
        parts = []
        for el in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}p"):
            if el.tag == f"{_W}t":
                parts.append(el.text or "")
            elif el.tag == f"{_W}tab":
                parts.append("\t")
            elif el is not p:  # a line break, or a text-box paragraph anchored here
                parts.append("\n")
        return "".join(parts)

    def cell_text(tc) -> str:
        return " ".join(t for t in (_normalise(paragraph_text(p)) for p in tc.iter(f"{_W}p")) if t)

    for el in root.iter(f"{_W}p", f"{_W}tbl"):
        # only blocks that are direct content of the body (or of a text box inside a body paragraph):
        # paragraphs inside a table are read with their table
        if any(a.tag == f"{_W}tbl" for a in el.iterancestors()):
            continue
        if el.tag == f"{_W}tbl":
            for tr in el.iter(f"{_W}tr"):
                if next((a for a in tr.iterancestors(f"{_W}tbl")), None) is not el:
                    continue  # a nested table's row: its text is in its cell
                row = " | ".join(cell_text(tc) for tc in tr.findall(f"{_W}tc"))
                if row.strip(" |"):
                    blocks.append(("text", row))
            continue
        if any(a.tag == f"{_W}p" for a in el.iterancestors()):
            continue  # a text box's paragraph: read with the paragraph that anchors it
        style = el.find(f"{_W}pPr/{_W}pStyle")
        style_id = (style.get(f"{_W}val") if style is not None else "") or ""
        text = paragraph_text(el)
        kind = "heading" if style_id.lower().startswith("heading") or style_id.lower() == "title" else "text"
        blocks.append((kind, text))
    return blocks


def extract_docx(data: bytes, key: str = "", limits: Limits | None = None) -> Extracted:
    from lxml import etree

    limits = limits or Limits.from_env()
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        main = _docx_part(z, "word/document.xml", key, limits)
        if main is None:
            raise UnreadableDocument(f"{key}: a ZIP archive without word/document.xml (not a Word document)")
        headers = sorted((n for n in z.namelist() if re.fullmatch(r"word/(header|footer)\d*\.xml", n)), key=lambda n: ("footer" in n, n))
        parts = [(n, _docx_part(z, n, key, limits)) for n in headers]
    except zipfile.BadZipFile as e:
        raise UnreadableDocument(f"{key}: not a readable DOCX (BadZipFile: {e})") from e
    # No DTDs, no entities, no network; libxml2's default depth limit (256) bounds nesting.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        body_blocks = _docx_blocks(etree.fromstring(main, parser), key)
        extra = [b for _, part in parts if part for b in _docx_blocks(etree.fromstring(part, parser), key)]
    except etree.XMLSyntaxError as e:
        error = DocumentLimitExceeded if "depth" in str(e).lower() or "huge" in str(e).lower() else UnreadableDocument
        raise error(f"{key}: malformed or too deeply nested Word XML ({e})") from e
    sections: list[Section] = []
    heading: str | None = None
    buf: list[str] = []

    def flush():
        text = _normalise("\n".join(buf))
        if text:
            sections.append(Section(text=text, heading=heading))
        buf.clear()

    for kind, text in body_blocks:
        if kind == "heading":
            flush()
            heading = _normalise(text) or heading
        else:
            buf.append(text)
    flush()
    # headers and footers: what a reader sees on every page, once, after the body
    heading, buf = None, [t for _, t in extra]
    flush()
    _check_chars(sum(len(s.text) for s in sections), key, limits)
    return Extracted(DOCX, sections)


_INVISIBLE = {"script", "style", "noscript", "template", "iframe", "svg", "head", "object", "canvas", "select", "button"}
# Page furniture, not content: excluded so a page's navigation is not embedded with every page.
_BOILERPLATE = {"nav", "footer", "aside"}
_BLOCK = {
    "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "form", "header", "hr", "html", "legend", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "tfoot", "thead", "tr", "ul", "br",
}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CELLS = {"td", "th"}


def extract_html(data: bytes, key: str = "", limits: Limits | None = None) -> Extracted:
    """Every visible text node, in document order, with block elements as line breaks, table cells
    joined by ' | ', headings starting sections. One pass over the tree with an explicit stack:
    linear in the document's size whatever its nesting."""
    from bs4 import BeautifulSoup, Comment, NavigableString, Tag
    from bs4.element import CData, Declaration, Doctype, ProcessingInstruction

    limits = limits or Limits.from_env()
    text, encoding = decode_text(data, key)
    soup = BeautifulSoup(text, "html.parser")
    root = soup.body or soup
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    line: list[str] = []
    heading_parts: list[str] | None = None
    chars = 0

    def end_line():
        if line:
            t = "".join(line)
            lines.append(t)
            line.clear()

    def end_section():
        end_line()
        t = _normalise("\n".join(_normalise(l) for l in lines))
        if t:
            sections.append(Section(t, heading=heading))
        lines.clear()

    def hidden(tag) -> bool:
        if tag.name in _INVISIBLE or tag.name in _BOILERPLATE or tag.has_attr("hidden"):
            return True
        if (tag.get("role") or "").lower() == "navigation" or (tag.get("aria-hidden") or "").lower() == "true":
            return True
        return bool(re.search(r"display\s*:\s*none|visibility\s*:\s*hidden", tag.get("style") or "", re.I))

    stack: list = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            name = node.name
            if name in _HEADINGS and heading_parts is not None:
                end_section()
                heading = _normalise(" ".join("".join(heading_parts).split())) or heading
                heading_parts = None
            elif name in _CELLS:
                line.append(" | ")
            elif name in _BLOCK:
                end_line()
            continue
        if isinstance(node, (Comment, Declaration, Doctype, ProcessingInstruction, CData)):
            continue
        if isinstance(node, NavigableString):
            s = str(node)
            chars += len(s)
            if chars > limits.max_extracted_chars:
                _check_chars(chars, key, limits)
            (heading_parts if heading_parts is not None else line).append(s)
            continue
        if not isinstance(node, Tag) or hidden(node):
            continue
        if node.name in _HEADINGS:
            end_line()
            heading_parts = []
        elif node.name in _BLOCK:
            end_line()
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    end_section()
    # table rows end with a dangling separator
    sections = [Section(re.sub(r"(?m)(?:[ \t]*\|[ \t]*)+$", "", s.text).strip(), s.page, s.heading) for s in sections]
    sections = [s for s in sections if s.text]
    if not sections and heading:
        sections.append(Section(heading, heading=heading))
    if not sections:
        raise UnsupportedDocument(f"{key}: HTML with no visible text")
    return Extracted(HTML, sections, encoding=encoding)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


def extract_plain(data: bytes, key: str = "", doc_type: str = TEXT, limits: Limits | None = None) -> Extracted:
    text, encoding = decode_text(data, key)
    _check_chars(len(text), key, limits or Limits.from_env())
    sections: list[Section] = []
    if doc_type == MARKDOWN:
        heading: str | None = None
        buf: list[str] = []
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


# When several code pages decode the bytes equally well (short Western European text often does),
# the one most documents are written in wins; charset-normalizer alone picks the first it tried.
_PREFERRED = ("cp1252", "latin_1", "iso8859_15")


def decode_text(data: bytes, key: str = "") -> tuple[str, str]:
    """Decodes text: byte-order marks first, then strict UTF-8, then UTF-8 with replacement
    characters when the bytes are UTF-8 with a few invalid bytes, then charset detection (preferring
    Windows-1252 among equally good candidates). Binary data that decodes to mostly control
    characters is rejected."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return _check_text(data.decode(enc), key), enc
    try:
        return _check_text(data.decode("utf-8"), key), "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly valid UTF-8 (multi-byte sequences decode) with a few bad bytes: a damaged UTF-8 file,
    # not another code page. Its good characters are kept; the bad bytes become U+FFFD.
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    good_multibyte = sum(1 for ch in replaced if ord(ch) > 127 and ch != "\ufffd")
    if good_multibyte >= 3 and bad <= good_multibyte:
        return _check_text(replaced, key), "utf-8 (with replacement characters)"
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        raise UnsupportedDocument(f"{key}: not text in any encoding detected")
    least_chaos = min(r.chaos for r in results)
    # charset-normalizer's chaos measure is noisy on short text: candidates within 0.1 are ties
    ties = [r for r in results if r.chaos <= least_chaos + 0.1]
    best = next((r for pref in _PREFERRED for r in ties if r.encoding == pref), None) or min(ties, key=lambda r: results.index(r))
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
