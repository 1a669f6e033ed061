-- One row per document (bucket + key) holding its current version; its chunks hang off it.
CREATE TABLE documents (
    id              bigserial PRIMARY KEY,
    bucket          text        NOT NULL,
    key             text        NOT NULL,
    version_id      text,
    -- S3 event sequencer of the version stored (or deleted): orders events for this key.
    sequencer       text        NOT NULL,
    content_hash    text,
    document_type   text,
    document_date   date,
    access_tier     text        NOT NULL REFERENCES access_tiers (name),
    business_unit   text,
    status          text        NOT NULL CHECK (status IN ('processing', 'stored', 'failed', 'review', 'deleted')),
    error           text,
    chunk_count     integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bucket, key)
);

CREATE TABLE chunks (
    document_id     bigint      NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index     integer     NOT NULL,
    text            text        NOT NULL,
    token_count     integer     NOT NULL,
    embedding       vector({{EMBEDDING_DIMENSION}}) NOT NULL,
    -- Copied from the document so filters and row-level security need no join.
    access_tier     text        NOT NULL REFERENCES access_tiers (name),
    document_type   text,
    document_date   date,
    business_unit   text,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (document_id, chunk_index)
);
