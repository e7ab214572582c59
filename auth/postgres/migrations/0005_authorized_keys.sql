-- Public keys that log a user in over SFTP, one OpenSSH public key line
-- ("TYPE BASE64 [COMMENT]") each.
ALTER TABLE ferry_users
	ADD COLUMN authorized_keys text[] NOT NULL DEFAULT '{}';
