CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"seq" bigint,
	"entry_type" text NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor_id" text NOT NULL,
	"actor_name" text NOT NULL,
	"actor_role" text NOT NULL,
	"command_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_log_entry_type_ck" CHECK (entry_type in ('event', 'command', 'refused')),
	CONSTRAINT "audit_log_seq_ck" CHECK ((entry_type = 'event') = (seq is not null))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_session_seq_uq" ON "audit_log" USING btree ("session_id","seq") WHERE seq is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_session_command_uq" ON "audit_log" USING btree ("session_id","command_id","entry_type") WHERE entry_type <> 'event';--> statement-breakpoint
CREATE INDEX "audit_log_session_id_idx" ON "audit_log" USING btree ("session_id","id");