"""Starts a real PostgreSQL (PGlite, WASM) with pgvector, served over the wire protocol by
pglite-socket on 127.0.0.1, for tests and benchmarks. Never a mock."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(REPO, "node_modules", "@electric-sql", "pglite-socket", "dist", "scripts", "server.js")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port: int):
    import pg8000.native

    return pg8000.native.Connection(user="postgres", host="127.0.0.1", port=port, database="postgres", password="unused", timeout=60)


@contextmanager
def pglite_server(startup_timeout: float = 90.0, data_dir: str | None = None) -> Iterator[int]:
    """``data_dir``: keep the database in that directory (reused by the next server started on it)."""
    if not os.path.exists(SERVER):
        raise RuntimeError(f"pglite-socket not installed at {SERVER}: run npm ci")
    port = _free_port()
    # started with node (not npx) so the PID held is the server's own
    proc = subprocess.Popen(
        ["node", SERVER, "-p", str(port), "-h", "127.0.0.1", "-e", "@electric-sql/pglite-pgvector:vector", "-m", "8", *(["-d", data_dir] if data_dir else [])],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.time() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"pglite-server exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                connect(port).close()
                break
            except Exception as e:
                if time.time() > deadline:
                    raise RuntimeError("pglite-server did not accept connections in time") from e
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
