-- docai_metrics: the vector store metrics collector's login (lambda/vector_metrics). It reads only
-- the catalog, the size functions and pg_stat_user_tables, which need no grant on any table, so it is
-- given none: it cannot read a chunk or a document.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'docai_metrics') THEN
        CREATE ROLE docai_metrics LOGIN;
    END IF;
    -- rds_iam exists only on RDS/Aurora: elsewhere (tests) the role is used with SET ROLE.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO docai_metrics;
    END IF;
END
$$;
