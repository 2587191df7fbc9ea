//! `cargo xtask dev`: the whole backend on this machine. PostgreSQL (temporary, or `--database-url`), the
//! migrations with dev's database settings, a small demo data set, the PostgREST-compatible server (verifying the
//! development issuer's tokens through its JWKS, as Supabase verifies Okta's), the Okta stand-in (its Users API,
//! and its token endpoint as the local authorization server), the SQS and KMS stand-ins, and the local API (the real
//! authorizer and handlers, and every trigger: queue pollers, schedules at their rate) on 127.0.0.1. Each module
//! with a service identity gets a key in the KMS stand-in, registered with the token endpoint under dev's client id.
//! At start it walks the provisioning flow once through the API and prints it. Ctrl-C stops everything it started
//! and removes the temporary database unless `--keep`. `cargo xtask dev-run <binary>` runs a scheduled function now.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use stacks::Env;

use crate::services::{PostgRest, Postgres};
use crate::util::{cargo, exec, step};
use crate::{target_dir, workspace_root};

/// The local API's port unless told otherwise (the OpenAPI document's server too).
pub const DEFAULT_PORT: u16 = 8787;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port of the local API.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Keep the temporary database (running, with its folder) when stopping.
    #[arg(long)]
    keep: bool,
    /// Use this database (superuser URL) instead of starting one; default $DATABASE_URL when set.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Seconds a received queue message stays hidden locally before it comes back (AWS: six times the timeout).
    #[arg(long, default_value_t = 5)]
    visibility_timeout: u32,
}

/// `cargo xtask dev-run`: one run of a scheduled function of the running `cargo xtask dev`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The function's binary (`org-okta-reconcile`); see the catalog.
    binary: String,
    /// The port of the local API.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
}

/// The Okta API token the local stand-in accepts (local only).
pub const OKTA_TOKEN: &str = "local-okta-api-token";

/// The demo people: login (the subject their tokens carry), e-mail, first and last name.
pub const PEOPLE: &[(&str, &str, &str)] = &[
    ("admin@example.com", "Ada", "Admin"),
    ("alice@example.com", "Alice", "Owner"),
    ("bob@example.com", "Bob", "Member"),
    ("carol@example.com", "Carol", "Owner"),
    ("dave@example.com", "Dave", "Admin"),
];

/// The demo data: two organizations with owners and members, and a platform admin. Re-running is harmless.
const SEED: &str = r#"
INSERT INTO org (name, description, created_by)
  SELECT o.name, o.description, i.id FROM (VALUES
    ('Acme', 'Demo organization A', 'alice@example.com'),
    ('Globex', 'Demo organization B', 'carol@example.com')) AS o(name, description, owner)
  JOIN identities i ON i.idp_subject = o.owner AND i.deactivated_at IS NULL
  WHERE NOT EXISTS (SELECT 1 FROM org WHERE org.name = o.name);
INSERT INTO org_member (org_id, user_id, role, created_by)
  SELECT org.id, i.id, m.role::org_role, org.created_by FROM (VALUES
    ('Acme', 'alice@example.com', 'owner'), ('Acme', 'bob@example.com', 'member'),
    ('Globex', 'carol@example.com', 'owner'), ('Globex', 'dave@example.com', 'admin')) AS m(org, subject, role)
  JOIN org ON org.name = m.org JOIN identities i ON i.idp_subject = m.subject
ON CONFLICT DO NOTHING;
"#;

/// Seeds the demo people, organizations and memberships into a migrated database (a superuser URL); `okta_id` gives
/// each person's identity-provider id where there is one (the local Okta stand-in's; a preview's people have none
/// until they sign in). Re-running is harmless.
pub fn seed_demo(superuser: &str, okta_id: &dyn Fn(&str, &str, &str) -> Option<String>) -> Result<()> {
    let mut client = postgres::Client::connect(superuser, postgres::NoTls)?;
    for (login, first, last) in PEOPLE {
        let okta_id = okta_id(login, first, last);
        client.execute(
            "INSERT INTO identities (idp_subject, email, first_name, last_name, okta_id)
             SELECT $1, $1, $2, $3, $4 WHERE NOT EXISTS
               (SELECT 1 FROM identities WHERE idp_subject = $1 AND deactivated_at IS NULL)",
            &[login, first, last, &okta_id],
        )?;
    }
    client.batch_execute(
        "INSERT INTO profiles (id, first_name, last_name) SELECT id, first_name, last_name FROM identities ON CONFLICT DO NOTHING;",
    )?;
    client.batch_execute(SEED).context("cannot seed the demo data")
}

/// The running local backend: database (unless external), PostgREST, the Okta stand-in and the local API; stopped
/// on drop.
pub struct Local {
    api: std::process::Child,
    /// The PostgREST server (the load benchmark compares against it directly).
    pub rest: PostgRest,
    pub pg: Option<Postgres>,
    pub okta: standins::okta::OktaStandin,
    pub url: String,
    /// A superuser URL of the database.
    pub database_url: String,
    /// The fault-injection proxy between the API and PostgREST, when asked for.
    pub proxy: Option<standins::proxy::FaultProxy>,
    /// Where the queues live, and the service keys (kept running while the backend runs; the queue benchmark reads
    /// them).
    #[allow(dead_code, reason = "held for its lifetime; read by some callers only")]
    pub sqs: standins::sqs::SqsStandin,
    #[allow(dead_code, reason = "held for its lifetime; read by some callers only")]
    pub kms: standins::kms::KmsStandin,
    /// The documents store, with its bucket [`DOCUMENTS_BUCKET`]; it reports created objects to the local API.
    pub s3: standins::s3::S3Standin,
}

/// The documents bucket locally (in AWS, the stacks name it per environment).
pub const DOCUMENTS_BUCKET: &str = "career-dev-documents-local";

/// How to start the local backend.
#[derive(Debug, Default)]
pub struct Options {
    pub port: u16,
    /// A superuser URL to use instead of a temporary cluster.
    pub database_url: Option<String>,
    /// Build the API with the release profile (load measurements); otherwise the dev build.
    pub release: bool,
    /// Send the API's request log to `target/local-api.log` instead of the terminal (the fuzzing, fault and load
    /// runs, whose output is their summary).
    pub quiet: bool,
    /// Put a fault-injection proxy between the API and PostgREST (`Local::proxy`).
    pub rest_fault_proxy: bool,
    /// The local visibility timeout of queue messages, in seconds (0: the default, 5).
    pub visibility_timeout_s: u32,
    /// Fire `rate(…)` schedules at their rate (`cargo xtask dev`); otherwise only on demand.
    pub fire_schedules: bool,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.api.kill();
        let _ = self.api.wait();
    }
}

impl Local {
    /// Starts everything on 127.0.0.1.
    pub fn start(options: Options) -> Result<Local> {
        let Options {
            port,
            database_url: external,
            release,
            quiet,
            rest_fault_proxy,
            visibility_timeout_s,
            fire_schedules,
        } = options;
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
        step("apply migrations and dev's database settings", || {
            crate::db::migrate(&superuser, &crate::db::default_dir())?;
            crate::db::configure(&superuser, Env::Dev)
        })?;
        let okta = step("start the Okta stand-in (127.0.0.1)", || {
            standins::okta::OktaStandin::start(OKTA_TOKEN).context("cannot start the Okta stand-in")
        })?;
        let (sqs, kms, service_keys) =
            step("start the SQS and KMS stand-ins; a service key per module (127.0.0.1)", || {
                let sqs = standins::sqs::SqsStandin::start().context("cannot start the SQS stand-in")?;
                let kms = standins::kms::KmsStandin::start().context("cannot start the KMS stand-in")?;
                let dev = Env::Dev.settings();
                let mut keys = Vec::new();
                for module in route_registry::MODULES.iter().filter(|m| m.has_service_identity()) {
                    let key = kms.create_key().context("cannot make a service key")?;
                    okta.register_client(&dev.service_client_id(module.name), key.jwk.clone(), &[dev.service_scope]);
                    keys.push(format!("{}={}", module.name, key.arn));
                }
                Ok((sqs, kms, keys.join(",")))
            })?;
        let s3 =
            step("start the documents store (S3 stand-in: pre-signed upload policies checked, 127.0.0.1)", || {
                let s3 =
                    standins::s3::S3Standin::start(&[("local", "local")]).context("cannot start the S3 stand-in")?;
                s3.create_bucket(DOCUMENTS_BUCKET);
                s3.notify_to(&format!("http://127.0.0.1:{port}/_local/events/s3"));
                Ok(s3)
            })?;
        step(
            "seed demo data (Acme: alice owner, bob member; Globex: carol owner, dave admin; admin@example.com)",
            || seed_demo(&superuser, &|login, first, last| Some(okta.add_user(login, login, first, last, "ACTIVE"))),
        )?;
        let authenticator = match &pg {
            Some(p) => p.url("authenticator"),
            None => superuser.clone(),
        };
        let log_dir = pg.as_ref().map(|p| p.dir().to_path_buf()).unwrap_or_else(target_dir);
        let rest = step("start postrust (PostgREST-compatible, 127.0.0.1)", || {
            PostgRest::start(&authenticator, &log_dir.join("postrust.log"))
        })?;
        let profile = if release { "release" } else { "debug" };
        // The workspace's feature set: the dependencies `cargo test --workspace` built serve this build too (with
        // `-p local-api` alone, 32 crates differ, 93 s in a fresh clone's test command; BENCHMARKS.md, "CI").
        step(&format!("cargo build --workspace --bin local-api ({profile})"), || {
            let mut cmd = cargo();
            cmd.current_dir(&root).args(["build", "--quiet", "--workspace", "--bin", "local-api"]);
            if release {
                cmd.arg("--release");
            }
            exec(&mut cmd)
        })?;
        let proxy = if rest_fault_proxy {
            let addr: std::net::SocketAddr = rest.url().trim_start_matches("http://").parse()?;
            Some(standins::proxy::FaultProxy::start(addr).context("cannot start the fault proxy")?)
        } else {
            None
        };
        let rest_url = proxy.as_ref().map_or_else(|| rest.url(), standins::proxy::FaultProxy::url);
        let mut api = Command::new(target_dir().join(profile).join("local-api"));
        if quiet {
            let path = target_dir().join("local-api.log");
            let log = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            println!("    the local API logs to {}", path.display());
            api.stdout(log.try_clone()?).stderr(log);
        }
        let api = api
            .env("POSTGREST_URL", &rest_url)
            .env("OKTA_BASE_URL", &okta.base_url)
            .env("OKTA_API_TOKEN", OKTA_TOKEN)
            .env("ADMIN_GROUP", Env::Dev.settings().admin_group)
            .env("LOCAL_API_PORT", port.to_string())
            .env("LOG_LEVEL", "INFO")
            .env("AWS_ENDPOINT_URL_SQS", &sqs.url)
            .env("AWS_ENDPOINT_URL_KMS", &kms.url)
            .env("AWS_ENDPOINT_URL_S3", &s3.url)
            .env("DOCUMENTS_BUCKET", DOCUMENTS_BUCKET)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", Env::Dev.settings().region)
            .env("OKTA_TOKEN_URL", okta.token_url())
            .env("SERVICE_KEY_IDS", &service_keys)
            .env(
                "LOCAL_VISIBILITY_TIMEOUT_S",
                if visibility_timeout_s == 0 { 5 } else { visibility_timeout_s }.to_string(),
            )
            .env("LOCAL_FIRE_SCHEDULES", fire_schedules.to_string())
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start local-api")?;
        let url = format!("http://127.0.0.1:{port}");
        let local = Local { api, rest, pg, okta, url, database_url: superuser, proxy, sqs, kms, s3 };
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

/// One call to the local API with curl (the same call the printed commands show), returning status and body.
pub fn curl(url: &str, token: &str, method: &str, body: Option<&str>) -> Result<(u16, String)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H"])
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "-d", b]);
    }
    let out = cmd.arg(url).output().context("cannot run curl")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    Ok((status.trim().parse().unwrap_or(0), body.to_owned()))
}

/// The provisioning flow, through the running API: provision a user in Okta and on the platform, call the API with
/// a token for their login, deactivate them, and see the same token refused.
fn provisioning_flow(local: &Local) -> Result<()> {
    let admin_group = Env::Dev.settings().admin_group;
    let admin = crate::devtoken::mint("admin@example.com", Some("admin@example.com"), &[admin_group], Env::Dev, 3600)?;
    let login = format!("new.hire.{}@example.com", std::process::id());
    let body = format!(r#"{{"email":"{login}","first_name":"New","last_name":"Hire"}}"#);
    let (status, answer) = curl(&format!("{}/identities", local.url), &admin, "POST", Some(&body))?;
    println!("  POST /identities as admin → {status}  (Okta user: {:?})", local.okta.status_of(&login));
    if status != 201 {
        bail!("provisioning through the local API failed: {status} {answer}");
    }
    let id = serde_json::from_str::<serde_json::Value>(&answer)?["data"]["id"].as_str().unwrap_or_default().to_owned();
    let user = crate::devtoken::mint(&login, Some(&login), &[], Env::Dev, 3600)?;
    let (status, _) = curl(&format!("{}/profiles/me", local.url), &user, "GET", None)?;
    println!("  GET /profiles/me with a dev-token for {login} → {status}");
    let (status, _) = curl(&format!("{}/identities/{id}", local.url), &admin, "DELETE", None)?;
    println!("  DELETE /identities/{id} as admin → {status}  (Okta user: {:?})", local.okta.status_of(&login));
    let (status, _) = curl(&format!("{}/profiles/me", local.url), &user, "GET", None)?;
    println!("  GET /profiles/me with the same token → {status} (refused: the identity is deactivated)");
    Ok(())
}

pub fn run(args: &Args) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot install the Ctrl-C handler")?;
    let external = args.database_url.clone().or_else(|| std::env::var("DATABASE_URL").ok());
    let mut local = Local::start(Options {
        port: args.port,
        database_url: external,
        visibility_timeout_s: args.visibility_timeout,
        fire_schedules: true,
        ..Default::default()
    })?;

    println!("\nThe provisioning flow, once, through the API (Okta is the local stand-in at {}):", local.okta.base_url);
    provisioning_flow(&local)?;

    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 8 * 3600)?;
    let url = local.url.clone();
    println!("\nThe API is at {url} (OpenAPI: {url}/openapi.json). As alice (owner of Acme):");
    println!("  curl -H 'Authorization: Bearer {token}' {url}/organizations");
    println!(
        "Other callers: cargo xtask dev-token --sub bob@example.com (or carol@, dave@), or --sub admin@example.com --groups {}",
        Env::Dev.settings().admin_group
    );
    println!("\nFunctions without a caller run here too:");
    for f in route_registry::MODULES.iter().flat_map(|m| m.functions.iter()) {
        if let Some(line) = stacks::triggers::of(&f.trigger).local_description(f) {
            println!("  {line}");
        }
    }
    println!(
        "  Locally a failed message returns after {} s; documents go to the store at {}/{DOCUMENTS_BUCKET}",
        args.visibility_timeout, local.s3.url
    );
    println!("  Queues and dead-letter queues: curl {url}/_local/queues");
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

/// One run of a scheduled function of the running local API, now; prints what happened.
pub fn run_now(args: &RunArgs) -> Result<()> {
    let url = format!("http://127.0.0.1:{}/_local/schedules/{}", args.port, args.binary);
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .arg(&url)
        .output()
        .context("cannot run curl")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    match status.trim() {
        "200" => {
            println!("{} ran: {body}", args.binary);
            Ok(())
        }
        "000" | "0" => bail!(
            "nothing answers on 127.0.0.1:{}: start the local backend first (cargo xtask dev), or pass its --port",
            args.port
        ),
        other => bail!("{} failed ({other}): {body}", args.binary),
    }
}
