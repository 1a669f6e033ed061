-- pgvector, and the access tiers in the order of their sensitivity (rank).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE access_tiers (
    name text PRIMARY KEY,
    rank integer NOT NULL UNIQUE
);
INSERT INTO access_tiers (name, rank) VALUES
    ('public', 0), ('internal', 1), ('confidential', 2), ('restricted', 3);
