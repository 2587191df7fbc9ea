//! `cargo xtask fuzz`: property-based API fuzzing from the OpenAPI document with schemathesis (its own virtualenv
//! under target/tools), against the local API on real PostgreSQL + PostgREST, bounded in examples and time. It
//! fails on any 5xx and on any response that does not conform to the document.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::services::free_port;
use crate::util::{python_tool, step};

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// What schema-valid input may honestly be answered with besides a route's own success status (200, 201, 202 or
/// 204, from the catalog): ids of rows the caller cannot see are 404 by design (tenant isolation), an admin route
/// for a member is 403, and a valid request can still conflict (409: a duplicate, the last active owner) or hit the
/// per-user organization quota, and a valid request can pass a per-person hourly limit (429: invitations, résumés,
/// imported addresses; the fuzz imports up to 10,000 addresses a case, so it reaches the import budget at once). A
/// 400 is not among them: every field's OpenAPI pattern accepts exactly what the handler and the database accept
/// (the corpus test in org-module proves it), so schema-valid data answered 400 is a failure.
pub const POSITIVE_DATA_REFUSALS: &[u16] = &[401, 403, 404, 409, 429];

/// Every status schema-valid input may get: the catalog's success statuses, then [`POSITIVE_DATA_REFUSALS`].
pub fn positive_data_statuses() -> Vec<u16> {
    let mut statuses: Vec<u16> = route_registry::all_routes().map(|r| r.success).collect();
    statuses.extend_from_slice(POSITIVE_DATA_REFUSALS);
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// Loaded by schemathesis (`SCHEMATHESIS_HOOKS`): cases with a `text/csv` body are dropped. The CSV grammar (an
/// optional header, `address[,role]` lines, one role per file) is not a JSON Schema, so generated text is neither
/// reliably valid nor reliably invalid (negative data, an object, is even sent as its text, which is CSV again).
/// The same operation's JSON bodies are fuzzed; the CSV reader has its own tests (`org-module`'s `members.rs`).
const HOOKS: &str = r#"import schemathesis


@schemathesis.hook
def filter_case(ctx, case):
    return case.media_type != "text/csv"
"#;

/// Checks left out, with the reason; everything else of `--checks all` runs.
pub const EXCLUDED_CHECKS: &[(&str, &str)] = &[
    ("unsupported_method", "like API Gateway HTTP APIs, an undefined method on a path is 404 Not Found, not 405"),
    (
        "ensure_resource_availability",
        "POST /organizations/{id}/members creates an invitation, not a member: /members/{userId} answers 404 until the invitee accepts",
    ),
    (
        "use_after_free",
        "DELETE /identities/{id} deactivates reversibly: platform admins keep reading the identity (with deactivated_at) to reactivate it",
    ),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Examples per operation (25 when not given).
    #[arg(long, default_value_t = 25)]
    max_examples: u32,
    /// Give up (and fail) after this many seconds.
    #[arg(long, default_value_t = 240)]
    seconds: u64,
}

impl Default for Args {
    fn default() -> Self {
        Args { max_examples: 25, seconds: 240 }
    }
}

/// schemathesis, in its own virtualenv (installed on first use).
pub fn schemathesis() -> Result<std::path::PathBuf> {
    python_tool("schemathesis", SCHEMATHESIS, "st")
}

pub fn run(args: &Args) -> Result<()> {
    let st = schemathesis()?;
    let local =
        crate::dev::Local::start(crate::dev::Options { port: free_port()?, quiet: true, ..Default::default() })?;
    // The seeded platform admin: an active identity in the admin group (the group alone grants nothing).
    let token = crate::devtoken::mint(
        "admin@example.com",
        Some("admin@example.com"),
        &[stacks::Env::Dev.settings().admin_group],
        stacks::Env::Dev,
        3600,
    )?;
    let dir = crate::target_dir().join("fuzz");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("schemathesis.toml");
    let statuses: Vec<String> = positive_data_statuses().iter().map(|s| format!("\"{s}\"")).collect();
    std::fs::write(dir.join("fuzz_hooks.py"), HOOKS).with_context(|| format!("cannot write {}", dir.display()))?;
    std::fs::write(
        &config,
        format!("[checks.positive_data_acceptance]\nexpected-statuses = [{}]\n", statuses.join(", ")),
    )
    .with_context(|| format!("cannot write {}", config.display()))?;
    let excluded: Vec<&str> = EXCLUDED_CHECKS.iter().map(|(c, _)| *c).collect();
    step(
        &format!(
            "schemathesis against {} ({} examples per operation, at most {} s)",
            local.url, args.max_examples, args.seconds
        ),
        || {
            let mut child = Command::new(&st)
                // schemathesis keeps a cache in its working directory: keep it under target/.
                .current_dir(&dir)
                .env("SCHEMATHESIS_HOOKS", "fuzz_hooks")
                .env("PYTHONPATH", &dir)
                .arg("--config-file")
                .arg(&config)
                .arg("run")
                .arg(format!("{}/openapi.json", local.url))
                .args(["--checks", "all", "--exclude-checks", &excluded.join(",")])
                // One worker: with two, hypothesis calls ast.parse from two threads, which trips a CPython 3.11 race
                // ("AST constructor recursion depth mismatch") and aborts the run with a tool error.
                .args(["--max-examples", &args.max_examples.to_string(), "--workers", "1", "--request-timeout", "10"])
                .args(["--generation-deterministic", "--header", &format!("Authorization: Bearer {token}")])
                .spawn()
                .context("cannot start schemathesis")?;
            let deadline = Instant::now() + Duration::from_secs(args.seconds);
            loop {
                if let Some(status) = child.try_wait()? {
                    if !status.success() {
                        bail!(
                            "schemathesis found failures (see above): a 5xx or a response outside the OpenAPI document"
                        );
                    }
                    return Ok(());
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "schemathesis did not finish within {} s; lower --max-examples or raise --seconds",
                        args.seconds
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        },
    )?;
    drop(local);
    Ok(())
}
