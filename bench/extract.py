"""Extraction fidelity benchmark: the real extraction.validate + extract on a generated corpus of
real-world-shaped documents (lambda/tests/fidelity_corpus.py: HTML layouts, DOCX with tables, nested
tables, headers and footers, PDFs with pages, two columns and landscape pages, text in UTF-8,
UTF-16, Latin-1, Windows-1252 and damaged UTF-8, Markdown), each with the text a reader sees.

Prints per document type: character-level recall and precision against the expected text, MB/s,
and the peak resident memory of a process that extracts that type (fork per type, ru_maxrss),
against half of the Extract function's memory. Then the bounds: a DOCX bomb and deep HTML nesting.

    npm run bench:extract -- --scale 8 --rounds 3
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "scripts")] + [os.path.join(HERE, "..", "lambda", sub) for sub in ("shared", "pipeline", "tests")]

from cli_args import StrictParser  # noqa: E402

EXTRACT_MEMORY_MB = 2048  # lib/document-pipeline/document-pipeline.ts: the Extract function


def _run_type(docs, rounds, q):
    from extraction import extract, validate
    from fidelity_corpus import score

    rows = []
    for d in docs:
        doc_type = validate(d.key, len(d.data), d.data[:8192], 50 * 2**20)
        t = time.perf_counter()
        for _ in range(rounds):
            ex = extract(doc_type, d.data, d.key)
        secs = (time.perf_counter() - t) / rounds
        r, p = score(ex.text, d.expected)
        rows.append((d.name, len(d.data), secs, r, p))
    q.put((rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    ap = StrictParser(prog="npm run bench:extract --", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=8, help="sections / pages / paragraphs per document")
    ap.add_argument("--rounds", type=int, default=3, help="extractions per document (time is the mean)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from fidelity_corpus import corpus

    by_type = defaultdict(list)
    for d in corpus(args.seed, args.scale):
        by_type[d.doc_type].append(d)
    ctx = mp.get_context("fork")
    print(f"Extraction fidelity, corpus seed {args.seed}, scale {args.scale}, {args.rounds} rounds (this machine; compares changes)")
    print(f"{'type':10} {'docs':>4} {'MB':>7} {'recall':>8} {'precision':>9} {'MB/s':>8} {'peak RSS MB':>12}   limit {EXTRACT_MEMORY_MB // 2} MB (half of Extract)")
    worst = []
    for doc_type, docs in sorted(by_type.items()):
        q = ctx.Queue()
        p = ctx.Process(target=_run_type, args=(docs, args.rounds, q))
        p.start()
        rows, rss = q.get()
        p.join()
        mb = sum(r[1] for r in rows) / 1e6
        secs = sum(r[2] for r in rows)
        chars = lambda i, rows=rows: sum(r[i] * r[1] for r in rows) / sum(r[1] for r in rows)  # size-weighted
        print(f"{doc_type:10} {len(rows):>4} {mb:>7.2f} {chars(3):>8.4f} {chars(4):>9.4f} {mb / secs:>8.2f} {rss:>12.0f}")
        worst += [(r[3], r[4], r[0]) for r in rows]
    low = min(worst)
    print(f"lowest recall: {low[0]:.4f} ({low[2]}); lowest precision: {min(w[1] for w in worst):.4f} ({min(worst, key=lambda w: w[1])[2]})")

    # bounds: refused before inflating, and nesting read in one linear pass
    import io
    import zipfile

    from docai_shared.errors import DocumentLimitExceeded
    from extraction import extract_docx, extract_html

    body = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' + b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * 3_000_000 + b"</w:body></w:document>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", body)
    bomb = buf.getvalue()
    t = time.perf_counter()
    try:
        extract_docx(bomb, "bomb.docx")
        verdict = "ACCEPTED (bound missing)"
    except DocumentLimitExceeded as e:
        verdict = f"refused: {str(e).split(': ', 1)[1]}"
    print(f"DOCX bomb {len(bomb) / 1e3:.0f} KB -> {len(body) / 1e6:.0f} MB of XML: {verdict} in {1000 * (time.perf_counter() - t):.1f} ms")
    for depth in (5_000, 10_000, 20_000):
        page = b"<html><body>" + b"<div><p>w</p>" * depth + b"</div>" * depth + b"</body></html>"
        t = time.perf_counter()
        extract_html(page, "deep.html")
        s = time.perf_counter() - t
        print(f"HTML nested <div><p> x {depth}: {len(page) / 1e3:.0f} KB in {s:.2f} s ({len(page) / 1e6 / s:.2f} MB/s)")


if __name__ == "__main__":
    main()
