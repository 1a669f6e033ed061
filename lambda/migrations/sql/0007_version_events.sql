-- What is known about one version of an object, whether or not its run has stored it yet: the tier
-- from the newest tag change seen for it (or why its tags are invalid), and whether it was deleted
-- for good. A tag change or a delete that arrives while the version's run is in flight is recorded
-- here, and the later Store of that version applies it (the newest tier, or no store at all).
-- Every writer of a version locks its row here first, then the document row (always in that order).
CREATE TABLE document_versions (
    bucket            text        NOT NULL,
    key               text        NOT NULL,
    version_id        text        NOT NULL,  -- 'null' for an object written while versioning was off
    access_tier       text        REFERENCES access_tiers (name),
    tags_sequencer    text,                  -- sequencer of the tag change access_tier / tier_error come from
    tier_error        text,                  -- that tag change named an invalid tier: the version must not be served
    deleted_sequencer text,                  -- the version was deleted for good: never stored again
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, key, version_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON document_versions TO docai_writer;
ALTER TABLE document_versions ENABLE ROW LEVEL SECURITY;
-- Readers have no grant and no policy: they never see versions, only stored chunks.
CREATE POLICY writer_all_versions ON document_versions FOR ALL TO docai_writer USING (true) WITH CHECK (true);
