-- The chain trigger of 0002 with static SQL: EXECUTE and the catalog lookups it did per
-- row were re-planned on every insert (about 5k rows/s). The function now resolves
-- `audit_log` and its sequence through the search_path it was created under (the
-- migrated schema), so its statements are planned once per session and cached. Same
-- hash, same lock, same order: rows written before and after chain together.
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('cueroom-audit:' || NEW.session_id, 0));
	NEW.id := nextval('audit_log_id_seq');
	NEW.prev_hash := coalesce((SELECT a.hash FROM audit_log a WHERE a.session_id = NEW.session_id ORDER BY a.id DESC LIMIT 1), '');
	NEW.hash := encode(sha256(convert_to(NEW.prev_hash || E'\n' || jsonb_build_array(
		'cueroom-audit-1', NEW.session_id, NEW.seq, NEW.entry_type, NEW.kind,
		round(extract(epoch FROM NEW.at) * 1000)::bigint,
		NEW.actor_id, NEW.actor_name, NEW.actor_role, NEW.command_id, NEW.payload)::text, 'UTF8')), 'hex');
	RETURN NEW;
END;
$$;
