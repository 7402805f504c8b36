-- The application's role reads the migration journal, so a server running as
-- `cueroom_app` can tell the database is up to date without issuing any DDL (drizzle's
-- migrate() always does). The journal is in the migrated schema when migrations run with
-- a schema of their own (tests), else in `drizzle`.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cueroom_app') THEN
		IF to_regclass(format('%I.__drizzle_migrations', current_schema())) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON %I.__drizzle_migrations TO cueroom_app', current_schema());
		ELSIF to_regclass('drizzle.__drizzle_migrations') IS NOT NULL THEN
			GRANT USAGE ON SCHEMA drizzle TO cueroom_app;
			GRANT SELECT ON drizzle.__drizzle_migrations TO cueroom_app;
		END IF;
	END IF;
END
$$;
