"""Token-aware chunking with overlap. Pure and deterministic: the same sections give the same chunks.

Token counts are estimated without a model vocabulary (none can be downloaded at run time): each
word, number or punctuation mark is a token, and a long word counts one token per 6 characters, as
subword tokenizers split it. This over-counts slightly for English WordPiece/BPE, which keeps chunks
inside the model's window; the embedding container also truncates as a last guard.

Chunks never cross a section (page or heading) boundary, so each chunk's metadata names the page and
heading its text came from. The text of a chunk is its section's heading (so a question that names
the heading finds the chunk) followed by a slice of the source, whitespace preserved; its token count
includes the heading. A single token longer than a chunk (a 2 MB run without spaces) is cut into
chunk-sized pieces: no chunk exceeds the size, so no batch exceeds the endpoint's request limit.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from extraction import Section

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def token_weight(piece: str) -> int:
    return max(1, -(-len(piece) // 6)) if piece[0].isalnum() or piece[0] == "_" else 1


def count_tokens(text: str) -> int:
    return sum(token_weight(m.group(0)) for m in _TOKEN.finditer(text))


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    token_count: int
    page: int | None
    heading: str | None

    @property
    def metadata(self) -> dict:
        return {k: v for k, v in (("page", self.page), ("heading", self.heading)) if v is not None}


def _heading_prefix(heading: str | None, chunk_tokens: int) -> tuple[str, int]:
    """The heading line a chunk starts with, cut to at most half the chunk."""
    if not heading:
        return "", 0
    budget = max(1, chunk_tokens // 2)
    kept, total = [], 0
    for m in _TOKEN.finditer(heading):
        w = token_weight(m.group(0))
        if total + w > budget:
            break
        kept.append(m)
        total += w
    if not kept:
        return "", 0
    return heading[kept[0].start():kept[-1].end()] + "\n", total


def chunk_sections(sections: Sequence[Section], chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    if chunk_tokens < 1 or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError(f"need 0 <= overlap ({overlap_tokens}) < chunk size ({chunk_tokens})")
    out: list[Chunk] = []
    for section in sections:
        prefix, prefix_tokens = _heading_prefix(section.heading, chunk_tokens)
        body_size = chunk_tokens - prefix_tokens
        for text, n in _chunk_text(section.text, body_size, min(overlap_tokens, body_size - 1)):
            if prefix and text.startswith(prefix.strip()):
                out.append(Chunk(len(out), text, n, section.page, section.heading))
            else:
                out.append(Chunk(len(out), prefix + text, n + prefix_tokens, section.page, section.heading))
    return out


def _pieces(text: str, size: int) -> list[tuple[int, int, int]]:
    """(start, end, tokens) per token; a token heavier than a whole chunk is cut into chunk-sized pieces."""
    out = []
    for m in _TOKEN.finditer(text):
        w = token_weight(m.group(0))
        if w <= size:
            out.append((m.start(), m.end(), w))
            continue
        step = size * 6
        for a in range(m.start(), m.end(), step):
            b = min(a + step, m.end())
            out.append((a, b, token_weight(text[a:b])))
    return out


def _chunk_text(text: str, size: int, overlap: int) -> Iterable[tuple[str, int]]:
    pieces = _pieces(text, size)
    if not pieces:
        return
    start = 0
    while start < len(pieces):
        total, end = 0, start
        while end < len(pieces) and (total + pieces[end][2] <= size or end == start):
            total += pieces[end][2]
            end += 1
        yield text[pieces[start][0]:pieces[end - 1][1]], total
        if end >= len(pieces):
            return
        # step back until `overlap` tokens are repeated, always moving forward by at least one piece
        back, nxt = 0, end
        while nxt - 1 > start and back + pieces[nxt - 1][2] <= overlap:
            nxt -= 1
            back += pieces[nxt][2]
        start = max(nxt, start + 1)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
