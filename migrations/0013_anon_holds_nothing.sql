-- `anon` holds nothing in `public`. Supabase prepares a project's database with default privileges that grant every
-- table, function and sequence created in `public` to `anon`, `authenticated` and `service_role`; migration 0009
-- did not revoke them from `task` (so `anon` held every privilege on it, TRUNCATE included, which Row-Level Security
-- does not govern), and no rule kept the next migration from doing the same.
--
-- This revokes whatever `anon` was granted in `public`, and the default privileges of the role that runs the
-- migrations, so that what later migrations create is not granted to it. The test command migrates a database
-- prepared as Supabase prepares one, file by file, and checks after each that `anon` holds no privilege on any table,
-- function or sequence of `public`; so the next module's migration is held to it too.

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM anon;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon;
-- (Functions are not executable by PUBLIC, of which `anon` is part: migration 0001 revoked that default for every
-- function the migrating role creates.)

NOTIFY pgrst, 'reload schema';
