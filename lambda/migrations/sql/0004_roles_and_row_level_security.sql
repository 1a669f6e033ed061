-- Database roles the Lambdas log in as (IAM authentication: rds_iam), never the master user.
-- docai_writer: the pipeline (store, delete, record failures). docai_reader_<tier>: retrieval, sees
-- only rows whose tier ranks at or below its own, enforced by row-level security in the database.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['docai_writer', 'docai_reader_public', 'docai_reader_internal', 'docai_reader_confidential', 'docai_reader_restricted'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
        -- rds_iam exists only on RDS: elsewhere (tests) the roles are used with SET ROLE.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
            EXECUTE format('GRANT rds_iam TO %I', r);
        END IF;
    END LOOP;
END
$$;

GRANT SELECT ON access_tiers TO docai_writer, docai_reader_public, docai_reader_internal, docai_reader_confidential, docai_reader_restricted;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, chunks TO docai_writer;
GRANT USAGE ON SEQUENCE documents_id_seq TO docai_writer;
GRANT SELECT ON documents, chunks TO docai_reader_public, docai_reader_internal, docai_reader_confidential, docai_reader_restricted;

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;

CREATE POLICY writer_all_documents ON documents FOR ALL TO docai_writer USING (true) WITH CHECK (true);
CREATE POLICY writer_all_chunks ON chunks FOR ALL TO docai_writer USING (true) WITH CHECK (true);

-- The reader's own tier comes from its role name, so no session setting can widen it.
CREATE FUNCTION docai_reader_rank() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT rank FROM access_tiers WHERE 'docai_reader_' || name = current_user $$;

CREATE POLICY readers_by_tier_documents ON documents FOR SELECT
    TO docai_reader_public, docai_reader_internal, docai_reader_confidential, docai_reader_restricted
    USING (status = 'stored' AND (SELECT rank FROM access_tiers t WHERE t.name = access_tier) <= docai_reader_rank());
CREATE POLICY readers_by_tier_chunks ON chunks FOR SELECT
    TO docai_reader_public, docai_reader_internal, docai_reader_confidential, docai_reader_restricted
    USING ((SELECT rank FROM access_tiers t WHERE t.name = access_tier) <= docai_reader_rank());
