//! `cargo xtask db migrate|status`: applies the numbered SQL files of `migrations/` in order, each in its own
//! transaction, recording name and SHA-256 in `platform_migrations.applied`.
//!
//! It refuses to run when an applied file has changed or disappeared (history is append-only: add a new file
//! instead), takes an advisory lock so two runs cannot interleave, and does nothing when nothing is pending.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use crate::util::human;
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Apply pending migrations.
    Migrate(Target),
    /// List applied and pending migrations.
    Status(Target),
    /// Check that the migration files after the baseline keep what the released schema offers the running version
    /// (columns, function signatures, grants), on a scratch database of the server at --database-url (an admin).
    Compat(Target),
    /// Judge the migration files after the baseline with squawk (locks and timeouts, indexes built concurrently,
    /// constraints added NOT VALID, no drop or rename outside a contract step); each finding with its fix.
    Lint {
        /// The folder of migration files.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct Target {
    /// The database to migrate (default: $DATABASE_URL), e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The folder of migration files.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also write this environment's database settings (admin group, organization limit) from the stacks'
    /// settings table, so the database and the Lambdas agree.
    #[arg(long, value_parser = xtask_synth::parse_env)]
    env: Option<stacks::Env>,
}

impl Target {
    fn resolve(&self) -> Result<(String, PathBuf)> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => std::env::var("DATABASE_URL")
                .context("no database given: pass --database-url postgres://USER@HOST:PORT/DB or set DATABASE_URL")?,
        };
        Ok((url, self.dir.clone().unwrap_or_else(default_dir)))
    }
}

pub fn default_dir() -> PathBuf {
    workspace_root().join("migrations")
}

pub fn run(args: &Args) -> Result<()> {
    match &args.action {
        Action::Migrate(target) => {
            let (url, dir) = target.resolve()?;
            let start = Instant::now();
            let applied = migrate(&url, &dir)?;
            if let Some(env) = target.env {
                configure(&url, env)?;
                println!("wrote {env}'s database settings (admin group, organization limit)");
            }
            if applied.is_empty() {
                println!("database is up to date ({})", human(start.elapsed()));
            } else {
                println!(
                    "applied {} migration(s) in {}: {}",
                    applied.len(),
                    human(start.elapsed()),
                    applied.join(", ")
                );
            }
            Ok(())
        }
        Action::Status(target) => {
            let (url, dir) = target.resolve()?;
            for (name, state) in status(&url, &dir)? {
                println!("{state:8} {name}");
            }
            Ok(())
        }
        Action::Compat(target) => crate::migration_compat::run(&target.resolve()?.0),
        Action::Lint { dir } => crate::migration_lint::run(&dir.clone().unwrap_or_else(default_dir)),
    }
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub name: String,
    pub sql: String,
    pub checksum: String,
}

/// Reads `NNNN_name.sql` files in order; refuses badly named files and duplicate numbers.
pub fn load(dir: &Path) -> Result<Vec<Migration>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the migrations folder {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if !name.ends_with(".sql") {
            continue;
        }
        let valid = name.len() > 9
            && name[..4].bytes().all(|b| b.is_ascii_digit())
            && name.as_bytes()[4] == b'_'
            && name[5..name.len() - 4].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            bail!("migration file {name} is not named NNNN_lower_snake_case.sql; rename it");
        }
        let sql = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let checksum = format!("{:x}", Sha256::digest(sql.as_bytes()));
        out.push(Migration { name, sql, checksum });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in out.windows(2) {
        if pair[0].name[..4] == pair[1].name[..4] {
            bail!(
                "migrations {} and {} share the number {}; renumber one",
                pair[0].name,
                pair[1].name,
                &pair[0].name[..4]
            );
        }
    }
    Ok(out)
}

pub fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).with_context(|| format!("cannot connect to {}", redact(url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

const SETUP: &str = "CREATE SCHEMA IF NOT EXISTS platform_migrations;
CREATE TABLE IF NOT EXISTS platform_migrations.applied (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);";

/// A fixed key for `pg_advisory_lock`, so concurrent migrate runs wait for each other.
const LOCK_KEY: i64 = 0x6361_7265_6572; // "career"

fn applied(client: &mut Client) -> Result<Vec<(String, String)>> {
    Ok(client
        .query("SELECT name, checksum FROM platform_migrations.applied ORDER BY name", &[])?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Refuses changed or missing applied files; returns the pending ones.
fn pending<'m>(files: &'m [Migration], done: &[(String, String)]) -> Result<Vec<&'m Migration>> {
    for (name, checksum) in done {
        match files.iter().find(|m| &m.name == name) {
            None => bail!("migration {name} was applied but its file is gone from migrations/; restore it"),
            Some(m) if &m.checksum != checksum => bail!(
                "migration {name} changed after it was applied (recorded sha256 {}, file {}). Restore the file and put the change in a new migration",
                &checksum[..12],
                &m.checksum[..12]
            ),
            Some(_) => {}
        }
    }
    Ok(files.iter().filter(|m| !done.iter().any(|(n, _)| n == &m.name)).collect())
}

/// Applies a file marked to run outside a transaction (for `CREATE INDEX CONCURRENTLY`, which cannot run in one):
/// its statements one at a time (split at each `;` that ends a line; dollar-quoted bodies are refused), then its
/// record. A statement that fails leaves the ones before it applied: such files hold idempotent statements (`IF NOT
/// EXISTS`), so running `db migrate` again finishes them.
fn apply_outside_transaction(client: &mut Client, m: &Migration) -> Result<()> {
    if m.sql.contains("$$") {
        bail!(
            "migration {} runs outside a transaction and holds a dollar-quoted body: keep such a file to plain \
             statements (an index built concurrently), and put functions in a file of their own",
            m.name
        );
    }
    let statements = m
        .sql
        .split_inclusive(";\n")
        .map(str::trim)
        .filter(|s| s.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--")));
    for (i, statement) in statements.enumerate() {
        client.batch_execute(statement).with_context(|| {
            format!(
                "migration {} failed at its statement {} (it runs outside a transaction: the statements before it \
                 are applied). Fix the cause and run db migrate again; an index a failed CONCURRENTLY build left \
                 INVALID must be dropped first (DROP INDEX CONCURRENTLY)",
                m.name,
                i + 1
            )
        })?;
    }
    client
        .execute("INSERT INTO platform_migrations.applied (name, checksum) VALUES ($1, $2)", &[&m.name, &m.checksum])?;
    Ok(())
}

/// Applies pending migrations; returns their names.
pub fn migrate(url: &str, dir: &Path) -> Result<Vec<String>> {
    let files = load(dir)?;
    let mut client = connect(url)?;
    client.batch_execute(SETUP).context("cannot create the migrations table")?;
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])?;
    let result = (|| -> Result<Vec<String>> {
        let done = applied(&mut client)?;
        let mut names = Vec::new();
        for m in pending(&files, &done)? {
            if m.sql.lines().next().map(str::trim) == Some(crate::migration_lint::OUTSIDE_TRANSACTION) {
                apply_outside_transaction(&mut client, m)?;
                names.push(m.name.clone());
                continue;
            }
            let mut tx = client.transaction()?;
            tx.batch_execute(&m.sql)
                .with_context(|| format!("migration {} failed; nothing of it was applied", m.name))?;
            tx.execute(
                "INSERT INTO platform_migrations.applied (name, checksum) VALUES ($1, $2)",
                &[&m.name, &m.checksum],
            )?;
            tx.commit().with_context(|| format!("cannot commit migration {}", m.name))?;
            names.push(m.name.clone());
        }
        Ok(names)
    })();
    client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])?;
    result
}

/// Writes an environment's database settings (`app.settings`) from the stacks' settings table.
pub fn configure(url: &str, env: stacks::Env) -> Result<()> {
    let s = env.settings();
    let mut client = connect(url)?;
    let number = |n: u32, name: &str| i32::try_from(n).with_context(|| format!("{name} is too large"));
    let limit = number(s.max_orgs_per_user, "max_orgs_per_user")?;
    let open = number(s.max_open_invitations_per_org, "max_open_invitations_per_org")?;
    let hourly = number(s.max_invitations_per_hour, "max_invitations_per_hour")?;
    client
        .execute(
            "UPDATE app.settings SET admin_group = $1, max_orgs_per_user = $2, max_open_invitations_per_org = $3, \
             max_invitations_per_hour = $4",
            &[&s.admin_group, &limit, &open, &hourly],
        )
        .context("cannot write app.settings (are the migrations applied?)")?;
    // Each module's service application: the client id its tokens carry, mapped to the module.
    for module in route_registry::MODULES.iter().filter(|m| m.has_service_identity()) {
        let client_id = s.service_client_id(module.name);
        if env.is_production_like() && client_id.starts_with(stacks::env::EXAMPLE_SERVICE_CLIENT) {
            bail!(
                "{env} has no service client id for {}: register its service application in Okta (docs/deploying.md) and set it in stacks/settings/src/env.rs (okta_service_clients)",
                module.name
            );
        }
        client
            .execute(
                "INSERT INTO app.service_principal (client_id, module) VALUES ($1, $2) \
                 ON CONFLICT (client_id) DO UPDATE SET module = EXCLUDED.module",
                &[&client_id, &module.name],
            )
            .context("cannot write app.service_principal (are the migrations applied?)")?;
    }
    Ok(())
}

/// Each migration with `applied` or `pending`; fails like `migrate` on a changed file.
pub fn status(url: &str, dir: &Path) -> Result<Vec<(String, &'static str)>> {
    let files = load(dir)?;
    let mut client = connect(url)?;
    client.batch_execute(SETUP)?;
    let done = applied(&mut client)?;
    let todo: Vec<String> = pending(&files, &done)?.into_iter().map(|m| m.name.clone()).collect();
    Ok(files.iter().map(|m| (m.name.clone(), if todo.contains(&m.name) { "pending" } else { "applied" })).collect())
}

/// A throwaway database next to `admin_url`'s, dropped when this goes away.
pub struct Scratch {
    admin_url: String,
    name: String,
}

impl Scratch {
    pub fn create(admin_url: &str, name: &str) -> Result<Scratch> {
        let mut admin = connect(admin_url)?;
        // Separate statements: a multi-statement batch runs as one transaction, which DROP DATABASE refuses.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(Scratch { admin_url: admin_url.to_owned(), name: name.to_owned() })
    }

    pub fn url(&self) -> String {
        let base = self.admin_url.rsplit_once('/').map_or(self.admin_url.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect(&self.admin_url) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// What the test command holds migrating to, against a real server (`admin_url`, a superuser): a fresh database
/// takes every file once and a second run takes none; a changed applied file is refused; a failing new file leaves
/// nothing of itself behind.
pub fn rehearse(admin_url: &str) -> Result<()> {
    let scratch = Scratch::create(admin_url, &format!("migrate_rehearsal_{}", std::process::id()))?;
    let url = scratch.url();
    let dir = crate::target_dir().join(format!("migrations-rehearsal-{}", std::process::id()));
    let _cleanup = crate::util::RemoveOnDrop(dir.clone());
    std::fs::create_dir_all(&dir)?;
    for m in load(&default_dir())? {
        std::fs::write(dir.join(&m.name), &m.sql)?;
    }
    let all = migrate(&url, &dir)?;
    if all.len() != load(&dir)?.len() {
        bail!("a fresh database took {} of {} migrations", all.len(), load(&dir)?.len());
    }
    if !migrate(&url, &dir)?.is_empty() {
        bail!("migrating again applied something: a second run must be a no-op");
    }
    if !status(&url, &dir)?.iter().all(|(_, s)| *s == "applied") {
        bail!("status lists a pending migration after migrate");
    }
    let first = all.first().context("no migration was applied")?;
    let original = std::fs::read_to_string(dir.join(first))?;
    std::fs::write(dir.join(first), format!("{original}\n-- edited\n"))?;
    match migrate(&url, &dir) {
        Err(e) if e.to_string().contains("changed after it was applied") => {}
        other => bail!("a changed applied file was not refused: {other:?}"),
    }
    std::fs::write(dir.join(first), original)?;
    std::fs::write(dir.join("9999_broken.sql"), "CREATE TABLE half_done (x int); SELECT 1/0;")?;
    if migrate(&url, &dir).is_ok() {
        bail!("a failing migration was reported applied");
    }
    let mut c = connect(&url)?;
    let exists: bool = c.query_one("SELECT to_regclass('public.half_done') IS NOT NULL", &[])?.get(0);
    if exists {
        bail!("a failed migration left its table behind: each file must run in one transaction");
    }
    std::fs::remove_file(dir.join("9999_broken.sql"))?;
    // An index built concurrently, in a file that runs outside a transaction.
    std::fs::write(
        dir.join("9998_index.sql"),
        format!(
            "{}\nSET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS rehearsal_task_kind_idx \
             ON public.task (kind);\n",
            crate::migration_lint::OUTSIDE_TRANSACTION
        ),
    )?;
    if migrate(&url, &dir)? != ["9998_index.sql"] {
        bail!("a file marked to run outside a transaction was not applied");
    }
    let valid: bool = c
        .query_one(
            "SELECT coalesce(bool_and(i.indisvalid), false) FROM pg_index i \
         WHERE i.indexrelid = to_regclass('public.rehearsal_task_kind_idx')",
            &[],
        )?
        .get(0);
    if !valid {
        bail!("the index built concurrently is missing or invalid");
    }
    println!(
        "    {} migrations applied once; a second run, a changed file, a failing file and an index built \
         concurrently outside a transaction behaved",
        all.len()
    );
    drop(c);
    drop(scratch);
    anon_holds_nothing(admin_url)
}

/// The first migration held to leave `anon` holding nothing in `public` after itself: the ones before it are applied
/// and cannot change, and 0013 revokes what they left.
pub const ANON_BASELINE: &str = "0013";

/// What Supabase grants by default in `public` to every new table, function and sequence: `anon`, `authenticated`
/// and `service_role` get all of it.
const SUPABASE_DEFAULTS: &str = "DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN NOINHERIT; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN NOINHERIT; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; END IF;
END $$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;";

/// What `anon` may do in `public`: each table, sequence or function it holds a privilege on (PUBLIC's included).
const ANON_HOLDS: &str =
    "SELECT format('table %s', c.oid::regclass) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
UNION ALL
SELECT format('sequence %s', c.oid::regclass) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'S'
      -- guarded: the planner may test rows of other kinds first, and the function refuses a table
      AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('anon', c.oid, 'USAGE, SELECT, UPDATE') END
UNION ALL
SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND has_function_privilege('anon', p.oid, 'EXECUTE')
ORDER BY 1";

/// On a database prepared as Supabase prepares one, each migration from [`ANON_BASELINE`] on leaves `anon` holding
/// nothing in `public`: no table, sequence or function.
pub fn anon_holds_nothing(admin_url: &str) -> Result<()> {
    let scratch = Scratch::create(admin_url, &format!("supabase_defaults_{}", std::process::id()))?;
    let url = scratch.url();
    connect(&url)?.batch_execute(SUPABASE_DEFAULTS).context("cannot prepare the database as Supabase does")?;
    let files = load(&default_dir())?;
    let dir = crate::target_dir().join(format!("migrations-supabase-{}", std::process::id()));
    let _cleanup = crate::util::RemoveOnDrop(dir.clone());
    std::fs::create_dir_all(&dir)?;
    let mut held = 0;
    for (i, m) in files.iter().enumerate() {
        std::fs::write(dir.join(&m.name), &m.sql)?;
        migrate(&url, &dir)?;
        // Every file from the baseline on, and the last whatever it is: the state a deploy leaves.
        if m.name.as_str() < ANON_BASELINE && i + 1 < files.len() {
            continue;
        }
        let holds: Vec<String> = connect(&url)?.query(ANON_HOLDS, &[])?.iter().map(|r| r.get(0)).collect();
        if !holds.is_empty() {
            bail!(
                "after {}, anon holds privileges in public on a database with Supabase's default privileges: {}. \
                 Revoke them in that migration (REVOKE ALL ON … FROM PUBLIC, anon), as every migration does",
                m.name,
                holds.join(", ")
            );
        }
        held += 1;
    }
    println!("    with Supabase's default privileges, anon holds nothing in public after each of {held} migration(s)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn the_repository_migrations_load_in_order() {
        let files = load(&default_dir()).unwrap();
        assert!(files.len() >= 4);
        assert!(files.windows(2).all(|w| w[0].name < w[1].name));
    }
}
