-- Accounts: what a users file holds, one row per user. The password is an
-- Argon2id or bcrypt hash string exactly as a users file stores it.
-- quota_bytes and quota_files are NULL for no quota; they are kept for
-- quota enforcement, which reads them.
CREATE TABLE ferry_users (
	name          text PRIMARY KEY CHECK (name <> ''),
	password_hash text NOT NULL CHECK (password_hash <> ''),
	home          text NOT NULL CHECK (home <> ''),
	write         boolean NOT NULL DEFAULT false,
	quota_bytes   bigint CHECK (quota_bytes >= 0),
	quota_files   bigint CHECK (quota_files >= 0),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
