"""Each pipeline step at the document bounds: peak memory (RSS) and the size of the state it returns,
against the memory the step's function is given and Step Functions' 256 KiB state limit.

A text document at the extracted-character limit (EXTRACT_MAX_EXTRACTED_CHARS, 10M) runs through the
real code of each step in its own process (so each peak is that step's): Extract (decode + sections),
Chunk (chunking + the batch files), Embed (one batch), Store (reading every batch and its vectors,
building the rows and the one INSERT's parameters; the database is a recording stand-in, its memory
is the database's, not the function's). Two texts: ordinary words, and one-letter words (the most
chunks per character).

    npm run bench:limits -- [--chars 10000000] [--dim 768]
"""
from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "scripts")] + [os.path.join(HERE, "..", "lambda", sub) for sub in ("shared", "pipeline")]

from cli_args import StrictParser  # noqa: E402

# The functions' memory (lib/document-pipeline/document-pipeline.ts) and the state limit.
FUNCTION_MB = {"Extract": 2048, "Chunk": 2048, "Embed": 512, "Store": 2048}
STATE_LIMIT = 256 * 1024


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(name: str, work: str, dim: int, chunk_tokens: int, overlap: int, batch: int) -> dict:
    """Runs in a child process: one step on the files in `work`; prints its measurements as JSON."""
    from chunking import Section, chunk_sections
    from extraction import Limits, extract

    out: dict = {"step": name}
    if name == "Extract":
        data = open(os.path.join(work, "doc.txt"), "rb").read()
        ex = extract("text", data, "doc.txt", Limits())
        json.dump({"sections": [s.__dict__ for s in ex.sections]}, open(os.path.join(work, "extracted.json"), "w"))
        out["chars"] = sum(len(s.text) for s in ex.sections)
    elif name == "Chunk":
        source = json.load(open(os.path.join(work, "extracted.json")))
        chunks = chunk_sections([Section(**s) for s in source["sections"]], chunk_tokens, overlap)
        keys = []
        for i in range(0, len(chunks), batch):
            key = f"runs/upsert-{'0' * 64}/chunks/{i // batch:05d}.json"  # as long as a real key
            json.dump([{"index": c.index, "text": c.text, "tokens": c.token_count, "metadata": c.metadata} for c in chunks[i:i + batch]],
                      open(os.path.join(work, f"c{i // batch:05d}.json"), "w"))
            keys.append(key)
        result = {"batches": keys, "chunkCount": len(chunks), "tokenCount": sum(c.token_count for c in chunks), "embedNotBefore": "2026-11-22T12:00:00Z"}
        out.update(chunks=len(chunks), batches=len(keys), stateBytes=len(json.dumps(result)))
    elif name == "Embed":
        rnd = random.Random(1)
        n = 0
        for f in sorted(os.listdir(work)):
            if f.startswith("c") and f.endswith(".json"):
                rows = json.load(open(os.path.join(work, f)))
                json.dump([[rnd.random() for _ in range(dim)] for _ in rows], open(os.path.join(work, "e" + f[1:]), "w"))
                n += 1
        out["batches"] = n  # the peak is one batch's: each Embed invocation holds one
    elif name == "Store":
        from docai_shared import db

        class RecordingConnection:
            def __init__(self):
                self.param_bytes = 0

            def run(self, sql, **params):
                self.param_bytes += sum(len(str(v)) for v in params.values())
                if sql.startswith("SELECT id, sequencer"):
                    return []
                if "RETURNING id" in sql:
                    return [[1]]
                return []

        records = []
        for f in sorted(os.listdir(work)):
            if f.startswith("c") and f.endswith(".json"):
                rows = json.load(open(os.path.join(work, f)))
                vectors = json.load(open(os.path.join(work, "e" + f[1:])))
                records += [db.ChunkRecord(c["index"], c["text"], c["tokens"], v, c["metadata"]) for c, v in zip(rows, vectors, strict=True)]
        conn = RecordingConnection()
        db.upsert_document(conn, db.DocumentVersion("b", "doc.txt", "v1", "01", "internal"), records, embedding_model="m")
        out.update(chunks=len(records), insertParamMB=round(conn.param_bytes / 1e6, 1))
    out["peakMB"] = round(peak_mb(), 1)
    return out


def text_of(chars: int, one_letter: bool) -> bytes:
    rnd = random.Random(7)
    words = ["a", "b", "c", "d"] if one_letter else "the contract renewal clause states that invoices are payable within thirty days of receipt by the finance department".split()
    parts, size = [], 0
    while size < chars:
        para = " ".join(rnd.choice(words) for _ in range(120)) + ".\n\n"
        parts.append(para)
        size += len(para)
    return "".join(parts)[:chars].encode()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        _, _, name, work, dim, ct, ov, b = sys.argv
        print(json.dumps(step(name, work, int(dim), int(ct), int(ov), int(b))))
        return
    ap = StrictParser(prog="npm run bench:limits --", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=10_000_000, help="characters of the document (the extraction bound by default)")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--chunk-tokens", type=int, default=400)
    ap.add_argument("--overlap", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    print(f"Each step at the bounds: {a.chars:,} characters, {a.chunk_tokens}-token chunks, batches of {a.batch}, {a.dim} dimensions; "
          f"function memory from lib/document-pipeline; state limit {STATE_LIMIT // 1024} KiB.")
    print(f"{'text':<12} {'step':<8} {'peak MB':>8} {'of MB':>6} {'share':>6}  other")
    for label, one_letter in (("words", False), ("one-letter", True)):
        with tempfile.TemporaryDirectory() as work:
            open(os.path.join(work, "doc.txt"), "wb").write(text_of(a.chars, one_letter))
            for name in ("Extract", "Chunk", "Embed", "Store"):
                r = subprocess.run([sys.executable, __file__, "--step", name, work, str(a.dim), str(a.chunk_tokens), str(a.overlap), str(a.batch)],
                                   capture_output=True, text=True, check=True)
                m = json.loads(r.stdout.strip().splitlines()[-1])
                share = m["peakMB"] / FUNCTION_MB[name]
                other = {k: v for k, v in m.items() if k not in ("step", "peakMB")}
                if "stateBytes" in other:
                    other["state"] = f"{other.pop('stateBytes') / 1024:.0f} KiB of {STATE_LIMIT // 1024}"
                print(f"{label:<12} {name:<8} {m['peakMB']:>8.0f} {FUNCTION_MB[name]:>6} {share:>6.0%}  {other}")


if __name__ == "__main__":
    main()
