//! `cargo xtask bench <what>`: the benchmarks whose figures BENCHMARKS.md quotes, one file each. Each prints what it measured,
//! what the figure includes and leaves out, medians with their spread, and CPU time next to wall time.
//!
//! - `synth`: whole-process synth of the four environments into a fresh folder each run, then the same with 1, 20
//!   and 100 modules (synthetic copies of org-module), failing if time or memory stop growing linearly;
//! - `cold-start`: every catalog function's host release binary against an emulated Lambda Runtime API, with the
//!   Secrets Manager, PostgREST and JWKS stand-ins behind TLS (a throwaway CA the process trusts; PostgREST's
//!   answers recorded from the real one and replayed at once): wall and CPU time and page faults to the first
//!   response, then one warm invocation, peak RSS, and the memory-size table built from them; `cold-floor`, a
//!   function doing nothing, is measured first as the floor, and the real PostgREST (postrust + PostgreSQL) as a
//!   same-run variant;
//!   `--with-python-seed` runs the seed document's Python handler against the same stand-ins in the same run, and
//!   `--also-plain-http`, `--also-supabase-secret` and `--compare-with DIR` add same-run variants;
//! - `load`: `GET /organizations` through the local API and straight to PostgREST, side by side;
//! - `rls`: `GET /organizations` for a user in one organization with 100, then 100,000 organizations of others;
//! - `faults`: a bounded load through the local API while PostgREST is paused and resumed;
//! - `dsl`: the generated provider types against the hand-written DSL before them, side by side in one run (clean
//!   build, edit→synth, synth), and what generating every type costs;
//! - `queue`: a queue-fed function's per-message overhead, one worker's messages per second at batch sizes 1 and 10,
//!   and the service token cold against cached (`lambdas/local-api/benches/queue.rs`, with PostgreSQL and PostgREST
//!   started here);
//! - `resume`: reading a résumé of each type and size (and the costliest hostile files) in the isolated child, as the
//!   processor does: wall, the child's CPU, its peak memory (`lambdas/resume-module/benches/reader.rs`).

mod cold_start;
mod dsl;
mod load;
mod measure;
mod rls;
mod synth;

pub use measure::{cpu_time, ms, peak_rss_kib, Spread};

use std::path::PathBuf;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to benchmark.
    #[arg(value_enum, default_value = "synth")]
    what: What,
    /// Number of measured runs (synth: after 3 warm-ups; cold-start: at least 20 per function).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// cold-start: also run the seed document's Python handler (boto3 + supabase in target/tools/python-seed)
    /// against the same stand-ins, for the side-by-side ratio. Not part of the test command.
    #[arg(long)]
    with_python_seed: bool,
    /// cold-start: also start each function against the same stand-ins over plain HTTP, in the same run, to show
    /// what the TLS handshakes cost. Not part of the test command.
    #[arg(long)]
    also_plain_http: bool,
    /// cold-start: also start the same-named binaries from this folder (another build, e.g. before a change)
    /// against the same TLS stand-ins, in the same run, for a side-by-side comparison.
    #[arg(long, value_name = "DIR")]
    compare_with: Option<PathBuf>,
    /// cold-start: also start the database functions reading the Supabase settings from a secret
    /// (`SUPABASE_SECRET_ARN`, the optional configuration) instead of the environment, in the same run: what one
    /// Secrets Manager read costs.
    #[arg(long)]
    also_supabase_secret: bool,
    /// dsl: the revision to compare with (the hand-written DSL before the generated one).
    #[arg(long, value_name = "REV", default_value = "4eba261")]
    before: String,
    /// dsl: the revision measured against it (this checkout's HEAD by default; the commit that completed the generated
    /// provider, ff156d5, isolates its cost from what came later).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    after: String,
    /// dsl: also compile all 2,134 generated provider types once (minutes).
    #[arg(long)]
    all_types: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum What {
    /// Synth of all four environments, whole process, fresh folder; then 1, 20 and 100 modules.
    Synth,
    /// Cold start of every Lambda (host release build) against a local Runtime API, TLS stand-ins.
    ColdStart,
    /// Load on `GET /organizations` through the local API and on PostgREST directly (wrk, 15 s each).
    Load,
    /// Row-Level Security at scale: the organization list with 100 and with 100,000 organizations of others.
    Rls,
    /// Each fault before PostgREST (status, answer time, recovery), then a bounded load while PostgREST is paused.
    Faults,
    /// The typed provider against the hand-written DSL: clean build, edit→synth, synth, generation (--runs rounds).
    Dsl,
    /// Queues: per-message overhead, one worker's messages per second at batch sizes 1 and 10, the service token.
    Queue,
    /// Résumé processing: reading PDF, DOCX and text of each size (and the costliest hostile files) in the
    /// isolated child: wall, CPU, peak memory.
    Resume,
}

pub fn run(args: &Args) -> Result<()> {
    match args.what {
        What::Synth => synth::run(args.runs.max(5)),
        What::ColdStart => cold_start::run(
            args.runs.max(20),
            args.with_python_seed,
            args.also_plain_http,
            args.compare_with.as_deref(),
            args.also_supabase_secret,
        ),
        What::Load => load::run(),
        What::Rls => rls::run(),
        What::Dsl => dsl::run(&args.before, &args.after, args.runs, args.all_types),
        What::Faults => crate::faults::run_matrix().and_then(|()| crate::faults::run_load()),
        What::Queue => queue(),
        What::Resume => {
            crate::util::step("cargo bench -p resume-module --bench reader (release build, then the figures)", || {
                let mut cmd = crate::util::cargo();
                cmd.current_dir(crate::workspace_root()).args([
                    "bench",
                    "--quiet",
                    "-p",
                    "resume-module",
                    "--bench",
                    "reader",
                ]);
                crate::util::exec(&mut cmd)
            })
        }
    }
}

/// `cargo bench -p local-api --bench queue` with the services it needs.
fn queue() -> Result<()> {
    let services = crate::services::Stack::start()?;
    crate::util::step("cargo bench -p local-api --bench queue (release build, then the figures)", || {
        let mut cmd = crate::util::cargo();
        cmd.current_dir(crate::workspace_root()).args(["bench", "--quiet", "-p", "local-api", "--bench", "queue"]);
        for (k, v) in services.test_env() {
            cmd.env(k, v);
        }
        crate::util::exec(&mut cmd)
    })
}
