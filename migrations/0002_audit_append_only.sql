-- Tamper evidence: every row is chained to the previous row of its session, by the
-- database itself, so that no writer (a retry, a second instance, someone with INSERT)
-- can write an unchained row. In insertion order: appends to one session are serialized
-- by a transaction-level advisory lock, and the row takes its id only once it holds the
-- lock (the column default ran before, and a writer that waited would otherwise carry an
-- id older than the rows it follows). A row then skipped by ON CONFLICT DO NOTHING is not
-- stored and the next one reads the head again: idempotent retries keep the chain whole.
-- The hash covers jsonb's own text of the row's content (deterministic for one value);
-- the verifier (server/audit/audit-chain.ts) rebuilds the same text and hashes it itself.
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('cueroom-audit:' || NEW.session_id, 0));
	NEW.id := nextval(pg_get_serial_sequence(format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), 'id'));
	EXECUTE format('SELECT hash FROM %I.%I WHERE session_id = $1 ORDER BY id DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
		INTO NEW.prev_hash USING NEW.session_id;
	NEW.prev_hash := coalesce(NEW.prev_hash, '');
	NEW.hash := encode(sha256(convert_to(NEW.prev_hash || E'\n' || jsonb_build_array(
		'cueroom-audit-1', NEW.session_id, NEW.seq, NEW.entry_type, NEW.kind,
		round(extract(epoch FROM NEW.at) * 1000)::bigint,
		NEW.actor_id, NEW.actor_name, NEW.actor_role, NEW.command_id, NEW.payload)::text, 'UTF8')), 'hex');
	RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_chain BEFORE INSERT ON "audit_log"
	FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
--> statement-breakpoint
-- The audit log is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE for
-- everyone (the owner can still disable it, which is why the app must not own the table),
-- and the application role `cueroom_app` is granted INSERT and SELECT only.
-- Unqualified names: the objects land in the schema being migrated (tests use one each).
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege', HINT = 'Rows of the audit log are never changed or removed.';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON "audit_log"
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "audit_log"
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
--> statement-breakpoint
-- Roles are cluster-wide: create it only if missing, and only when the migrating user may
-- (a managed database may migrate as a user without CREATEROLE; the grants then wait for
-- an administrator to create the role and run them). Works the same on PGlite.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cueroom_app') THEN
		BEGIN
			CREATE ROLE cueroom_app NOLOGIN;
		EXCEPTION
			WHEN duplicate_object THEN NULL; -- created meanwhile by a migration of another database
			WHEN insufficient_privilege THEN
				RAISE NOTICE 'cueroom_app is missing and this user may not create roles: grants skipped';
		END;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cueroom_app') THEN
		EXECUTE format('GRANT USAGE ON SCHEMA %I TO cueroom_app', current_schema());
		REVOKE ALL ON "audit_log" FROM cueroom_app;
		GRANT INSERT, SELECT ON "audit_log" TO cueroom_app;
		GRANT USAGE ON SEQUENCE "audit_log_id_seq" TO cueroom_app;
	END IF;
END
$$;
