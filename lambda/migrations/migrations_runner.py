"""Versioned schema migrations: ordered SQL files, each applied once, each in its own transaction.

Files are ``NNNN_name.sql`` next to this module (``sql/``). They may hold ``{{NAME}}`` placeholders for
the integer parameters below (embedding dimension, HNSW build settings); only known names are
accepted and only whole numbers are substituted, so nothing from outside is pasted into SQL.

``schema_migrations`` records version, name and a checksum of the SQL as rendered. Re-running is a
no-op. If an applied migration's rendered SQL changed (someone edited a file, or changed the
embedding dimension), the run stops with an error instead of silently diverging: such changes need
a new migration.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql")
PARAMETERS = ("EMBEDDING_DIMENSION", "HNSW_M", "HNSW_EF_CONSTRUCTION")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
# Any fixed 64-bit number: serialises concurrent runs (two deploys at once).
ADVISORY_LOCK_ID = 7_345_102_977


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def load_migrations(params: Mapping[str, Any], sql_dir: str = SQL_DIR) -> list[Migration]:
    values = {}
    for name in PARAMETERS:
        v = params.get(name)
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise MigrationError(f"parameter {name} must be a positive whole number, received {v!r}")
        values[name] = v
    if not 1 <= values["EMBEDDING_DIMENSION"] <= 2000:
        raise MigrationError(f"EMBEDDING_DIMENSION {values['EMBEDDING_DIMENSION']} is outside 1..2000 (the pgvector HNSW limit)")

    migrations = []
    for filename in sorted(os.listdir(sql_dir)):
        m = _FILE.match(filename)
        if not m:
            continue
        with open(os.path.join(sql_dir, filename), encoding="utf-8") as f:
            template = f.read()

        def sub(match: re.Match, filename: str = filename) -> str:
            key = match.group(1)
            if key not in values:
                raise MigrationError(f"{filename}: unknown placeholder {{{{{key}}}}}; known: {', '.join(PARAMETERS)}")
            return str(values[key])

        sql = _PLACEHOLDER.sub(sub, template)
        migrations.append(Migration(int(m.group(1)), m.group(2), sql, hashlib.sha256(sql.encode("utf-8")).hexdigest()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {sql_dir}: {versions}")
    return migrations


def apply_migrations(conn: Any, params: Mapping[str, Any], sql_dir: str = SQL_DIR) -> list[str]:
    """Applies what is missing; returns the names applied now. ``conn`` is a pg8000 native connection."""
    migrations = load_migrations(params, sql_dir)
    conn.run("SELECT pg_advisory_lock(:id)", id=ADVISORY_LOCK_ID)
    try:
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0]: (row[1], row[2]) for row in conn.run("SELECT version, name, checksum FROM schema_migrations")}
        done = []
        for m in migrations:
            if m.version in applied:
                name, checksum = applied[m.version]
                if checksum != m.checksum:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} was applied with different SQL (checksum {checksum[:12]} != {m.checksum[:12]}). "
                        "Applied migrations are immutable: add a new migration instead (a new embedding dimension needs one too)."
                    )
                continue
            conn.run("BEGIN")
            try:
                conn.execute_simple(m.sql)
                conn.run("INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)", v=m.version, n=m.name, c=m.checksum)
                conn.run("COMMIT")
            except Exception as e:
                conn.run("ROLLBACK")
                raise MigrationError(f"migration {m.version:04d}_{m.name} failed and was rolled back: {e}") from e
            done.append(f"{m.version:04d}_{m.name}")
        return done
    finally:
        conn.run("SELECT pg_advisory_unlock(:id)", id=ADVISORY_LOCK_ID)
