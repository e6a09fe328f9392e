-- Least privilege. The API, worker and summary log in as their own role (made by `tasknote
-- migrate` from APP_DATABASE_URL) that is a member of tasknote_dml, which owns nothing, may
-- create nothing, and may only read and write the rows each table needs. Migrations run as the
-- owner. A future table gets its own GRANT in the migration that creates it.
DO $$
BEGIN
    CREATE ROLE tasknote_dml NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object THEN
    NULL;  -- roles are per server: another database of this server made it already
END
$$;
-- PostgreSQL 15+ already gives PUBLIC no CREATE on schema public; said here so an older or
-- hand-made database is held to the same rule.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tasknote_dml;
GRANT SELECT ON schema_migrations TO tasknote_dml;                    -- /ready
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO tasknote_dml;        -- API; summary reads
GRANT SELECT, INSERT, UPDATE ON images TO tasknote_dml;               -- API stores, worker marks
GRANT SELECT, INSERT ON image_variants TO tasknote_dml;               -- worker stores, API serves
GRANT SELECT, INSERT, UPDATE ON jobs TO tasknote_dml;                 -- API enqueues, worker claims
GRANT USAGE ON SEQUENCE jobs_id_seq TO tasknote_dml;                  -- jobs.id identity
GRANT SELECT, INSERT, UPDATE ON daily_summaries TO tasknote_dml;      -- summary upserts
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO tasknote_dml;  -- API stores, purges
GRANT SELECT ON signing_keys TO tasknote_dml;                         -- API signs cursors
