-- A disabled account keeps its row (home, quota, usage) but cannot log in;
-- "ferry user disable|enable" sets it and every node reads it at the next
-- login.
ALTER TABLE ferry_users
	ADD COLUMN disabled boolean NOT NULL DEFAULT false;
