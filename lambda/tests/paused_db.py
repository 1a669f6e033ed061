"""A paused Aurora Serverless v2 instance in front of a real PGlite: a TCP proxy that fails connections
the way AWS documents the paused database does, then forwards bytes both ways. Never a mock of the
database: what answers, once "resumed", is PGlite itself.

AWS (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html):
a connection to a paused instance makes it resume and "Any requested connections are established after
the DB instance finishes resuming" (typically ~15 s; 30 s or more after a day paused). So the endpoint
accepts the TCP connection and answers nothing until the resume is over: a client whose timeout is
shorter gives up (a timeout), a client that waits long enough is served. Right after a resume, "some
error related to database limits" may answer some connections (``refuse_after_resume``: the server's
own FATAL 53300 "too many connections", as PostgreSQL sends it before authentication).

The resume starts with the first connection attempt after ``pause()`` and ends after ``resume_s``
seconds, or once ``resume_after_attempts`` attempts were held (deterministic tests), whichever comes first.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import contextmanager
from typing import Iterator


def _error_response(code: str, message: str) -> bytes:
    fields = b"".join(k + v.encode() + b"\0" for k, v in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)))
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class PausedDatabase:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._paused = False
        self._resume_s = 0.0
        self._resume_after_attempts: int | None = None
        self._resume_started: float | None = None
        self._refuse = 0
        self.held = 0  # attempts that arrived while the database was paused or resuming
        self.abandoned = 0  # of those, the ones the client gave up on before the resume ended
        self.refused = 0
        self.forwarded = 0
        self.startups: list[bytes] = []  # what each client sent first (SSL request, startup message), forwarded or not
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    # --- control ---

    def pause(self, resume_s: float = 15.0, resume_after_attempts: int | None = None, refuse_after_resume: int = 0) -> None:
        with self._lock:
            self._paused, self._resume_s, self._resume_after_attempts = True, resume_s, resume_after_attempts
            self._resume_started, self._refuse = None, refuse_after_resume
            self.held = self.abandoned = self.refused = self.forwarded = 0
            self.startups = []

    def resumed(self) -> bool:
        with self._lock:
            return self._resumed_locked()

    def _resumed_locked(self) -> bool:
        if not self._paused:
            return True
        if self._resume_started is None:
            return False
        if time.monotonic() - self._resume_started >= self._resume_s or (
                self._resume_after_attempts is not None and self.held >= self._resume_after_attempts):
            self._paused = False
            return True
        return False

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    # --- proxy ---

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            t.start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            if self._paused:
                self.held += 1
                if self._resume_started is None:
                    self._resume_started = time.monotonic()  # this attempt wakes the instance
            resumed = self._resumed_locked()
        pending = b""
        if not resumed:
            # Accepted, and nothing answered until the instance has resumed. What the client sends
            # meanwhile (its startup message) is kept for the server; its close means it gave up.
            client.settimeout(0.02)
            while True:
                try:
                    data = client.recv(65536)
                    if not data:
                        with self._lock:
                            self.abandoned += 1
                        client.close()
                        return
                    if not pending:
                        self.startups.append(data)
                    pending += data
                except socket.timeout:
                    pass
                except OSError:
                    with self._lock:
                        self.abandoned += 1
                    client.close()
                    return
                if self.resumed():
                    break
        else:
            try:
                client.settimeout(5)
                pending = client.recv(65536)
                self.startups.append(pending)
            except OSError:
                client.close()
                return
        with self._lock:
            refuse = self._refuse > 0
            if refuse:
                self._refuse -= 1
                self.refused += 1
            else:
                self.forwarded += 1
        if refuse:
            try:
                client.settimeout(5)
                client.sendall(_error_response("53300", "sorry, too many clients already"))
            except OSError:
                pass
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            if pending:
                upstream.sendall(pending)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        a = threading.Thread(target=self._pipe, args=(client, upstream, len(self.startups) - 1), daemon=True)
        b = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
        a.start()
        b.start()

    def _pipe(self, src: socket.socket, dst: socket.socket, startup: int | None = None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if startup is not None and startup >= 0 and len(self.startups[startup]) < 4096:
                    self.startups[startup] += data  # the client's first messages, for tests that read them
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


@contextmanager
def paused_database(upstream_port: int) -> Iterator[PausedDatabase]:
    proxy = PausedDatabase(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
