-- Per-user limits and rules, read at each login on every node: transfer
-- rates (bytes per second, 0 none), concurrent sessions (0 none), per-path
-- permission rules ("PATH=LIST") and the addresses logins may come from.
ALTER TABLE ferry_users
	ADD COLUMN download_rate bigint NOT NULL DEFAULT 0,
	ADD COLUMN upload_rate bigint NOT NULL DEFAULT 0,
	ADD COLUMN max_sessions integer NOT NULL DEFAULT 0,
	ADD COLUMN perms text[] NOT NULL DEFAULT '{}',
	ADD COLUMN allow_from text[] NOT NULL DEFAULT '{}';
