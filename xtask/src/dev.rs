//! `cargo xtask dev`: the whole backend on this machine. PostgreSQL (temporary, or `--database-url`), the
//! migrations, a small demo data set, the PostgREST-compatible server, and the local API (the real authorizer and
//! handlers) on 127.0.0.1. Ctrl-C stops everything it started and removes the temporary database unless `--keep`.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::services::{PostgRest, Postgres};
use crate::util::{cargo, exec, step};
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port of the local API.
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Keep the temporary database (running, with its folder) when stopping.
    #[arg(long)]
    keep: bool,
    /// Use this database (superuser URL) instead of starting one; default $DATABASE_URL when set.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

/// The demo data: two organizations with owners and members, and an admin. Subjects are what `dev-token --sub`
/// takes; re-running is harmless.
const SEED: &str = r#"
INSERT INTO identities (idp_subject, email, first_name, last_name) VALUES
  ('00u-admin', 'admin@example.com', 'Ada', 'Admin'),
  ('00u-alice', 'alice@example.com', 'Alice', 'Owner'),
  ('00u-bob', 'bob@example.com', 'Bob', 'Member'),
  ('00u-carol', 'carol@example.com', 'Carol', 'Owner'),
  ('00u-dave', 'dave@example.com', 'Dave', 'Admin')
ON CONFLICT DO NOTHING;
INSERT INTO profiles (id, first_name, last_name)
  SELECT id, first_name, last_name FROM identities ON CONFLICT DO NOTHING;
INSERT INTO org (name, description, owner_id, created_by)
  SELECT o.name, o.description, i.id, i.id FROM (VALUES
    ('Acme', 'Demo organization A', '00u-alice'),
    ('Globex', 'Demo organization B', '00u-carol')) AS o(name, description, owner)
  JOIN identities i ON i.idp_subject = o.owner
  WHERE NOT EXISTS (SELECT 1 FROM org WHERE org.name = o.name);
INSERT INTO org_member (org_id, user_id, role, created_by)
  SELECT org.id, i.id, m.role::org_role, org.owner_id FROM (VALUES
    ('Acme', '00u-alice', 'owner'), ('Acme', '00u-bob', 'member'),
    ('Globex', '00u-carol', 'owner'), ('Globex', '00u-dave', 'admin')) AS m(org, subject, role)
  JOIN org ON org.name = m.org JOIN identities i ON i.idp_subject = m.subject
ON CONFLICT DO NOTHING;
"#;

/// The running local backend: database (unless external), PostgREST and the local API; stopped on drop.
pub struct Local {
    api: std::process::Child,
    /// The PostgREST server (the load benchmark compares against it directly).
    pub rest: PostgRest,
    pub pg: Option<Postgres>,
    pub url: String,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.api.kill();
        let _ = self.api.wait();
    }
}

impl Local {
    /// Starts everything on 127.0.0.1; `external` is a superuser URL to use instead of a temporary cluster.
    /// `release` builds the API with the release profile (for load measurements); otherwise the dev build.
    pub fn start(port: u16, external: Option<String>, release: bool) -> Result<Local> {
        let root = workspace_root();
        let pg = match &external {
            Some(_) => None,
            None => Some(step("start PostgreSQL (temporary cluster on 127.0.0.1)", Postgres::start)?),
        };
        let superuser = match (&external, &pg) {
            (Some(url), _) => url.clone(),
            (None, Some(p)) => p.url("postgres"),
            (None, None) => bail!("no database"),
        };
        step("apply migrations", || crate::db::migrate(&superuser, &crate::db::default_dir()).map(|_| ()))?;
        step("seed demo data (Acme: alice owner, bob member; Globex: carol owner, dave admin; admin)", || {
            let mut client = postgres::Client::connect(&superuser, postgres::NoTls)?;
            client.batch_execute(SEED).context("cannot seed the demo data")
        })?;
        let authenticator = match &pg {
            Some(p) => p.url("authenticator"),
            None => superuser.clone(),
        };
        let log_dir = pg.as_ref().map(|p| p.dir().to_path_buf()).unwrap_or_else(|| root.join("target"));
        let rest = step("start postrust (PostgREST-compatible, 127.0.0.1)", || {
            PostgRest::start(&authenticator, &log_dir.join("postrust.log"))
        })?;
        let profile = if release { "release" } else { "debug" };
        step(&format!("cargo build -p local-api ({profile})"), || {
            let mut cmd = cargo();
            cmd.current_dir(&root).args(["build", "--quiet", "-p", "local-api"]);
            if release {
                cmd.arg("--release");
            }
            exec(&mut cmd)
        })?;
        let api = Command::new(root.join("target").join(profile).join("local-api"))
            .env("POSTGREST_URL", rest.url())
            .env("SUPABASE_JWT_SECRET", &rest.jwt_secret)
            .env("LOCAL_API_PORT", port.to_string())
            .env("LOCAL_API_JWKS", root.join("xtask/dev-issuer/jwks.json"))
            .env("LOG_LEVEL", "INFO")
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start local-api")?;
        let url = format!("http://127.0.0.1:{port}");
        let local = Local { api, rest, pg, url };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("local-api did not listen on 127.0.0.1:{port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(local)
    }
}

pub fn run(args: &Args) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot install the Ctrl-C handler")?;
    let external = args.database_url.clone().or_else(|| std::env::var("DATABASE_URL").ok());
    let mut local = Local::start(args.port, external, false)?;

    let token = crate::devtoken::mint("00u-alice", Some("alice@example.com"), &[], 8 * 3600)?;
    let url = local.url.clone();
    println!("\nThe API is at {url} (OpenAPI: {url}/openapi.json). As alice (owner of Acme):");
    println!("  curl -H 'Authorization: Bearer {token}' {url}/organizations");
    println!(
        "Other callers: cargo xtask dev-token --sub 00u-bob|00u-carol|00u-dave, or --sub 00u-admin --groups admin"
    );
    println!("Ctrl-C stops everything{}.\n", if args.keep { " (the database is kept)" } else { "" });

    let result = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if let Some(status) = local.api.try_wait()? {
            break if status.success() { Ok(()) } else { Err(anyhow::anyhow!("local-api exited ({status})")) };
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if let Some(p) = local.pg.as_mut() {
        if args.keep {
            p.keep();
            println!("kept the database: {} (data in {})", p.url("postgres"), p.dir().display());
        }
    }
    drop(local);
    println!("stopped");
    result
}
