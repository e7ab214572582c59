-- What each user's files take, for quotas shared by every node. NULL until
-- counted: the first login of a user with a quota walks the home and sets
-- them; from then on each upload, delete and rename changes them in one
-- UPDATE, which is what keeps two nodes from passing a quota together.
ALTER TABLE ferry_users
	ADD COLUMN used_bytes bigint,
	ADD COLUMN used_files bigint;
