//! `cargo xtask ci`: the one test command (README, `.ci/run`), and `cargo xtask ci --quick`, its fast tier. Every
//! step must pass; none is skipped silently.
//!
//! The quick tier needs nothing started: fmt, the generated files, clippy (the service tier's targets too), the
//! hermetic tests (a bare `cargo test --workspace`) and `cargo doc` without warnings. The full command is the quick
//! tier and then everything else: the service tier against PostgreSQL and PostgREST, the migrations on a database
//! prepared as Supabase prepares one, the goldens, check-iam with checkov, the Okta contract, the OpenAPI document,
//! fuzzing, `terraform validate`, the provider coverage, the fault run, the scaffold check, the Lambda packages and
//! the deploy rehearsal. The CPU-bound work that nothing waits on runs beside the steps that mostly wait: the tool
//! installs beside the quick tier, the arm64 release build beside the checks. The run ends with every step's time.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::beside::{self, Beside};
use crate::tiers::{self, Counts};
use crate::util::{cargo, exec, human, step};
use crate::{services, terraform, workspace_root};

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// The fast tier only: fmt, generated files, clippy, the hermetic tests and `cargo doc`; nothing is started.
    #[arg(long)]
    quick: bool,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Arguments for `cargo test` (e.g. `-p org-module --test database`); default: both tiers, the whole workspace.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// `cargo xtask test`: the services, then both tiers (or `cargo test ARGS`) with their addresses.
pub fn test(args: &TestArgs) -> Result<()> {
    let root = workspace_root();
    let services = services::Stack::start()?;
    crate::contract::reset()?;
    let counts = if args.cargo_args.is_empty() {
        let mut counts = step("the hermetic tier (cargo test --workspace)", || tiers::hermetic(&root))?;
        counts += step("the service tier", || tiers::services(&root, &services.test_env()))?;
        counts
    } else {
        step("cargo test", || tiers::cargo_test(&root, &args.cargo_args, &services.test_env()))?
    };
    drop(services);
    println!("test: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

/// What one run of this command writes under a fresh target directory, with room to spare: 5.9 GB measured
/// (BENCHMARKS.md, "CI": host debug builds of the checkout and the scaffold copy, the arm64 release build, the tools'
/// virtualenvs). A run starts with a warning when less is free, because a full disk fails it late, in a linker, with
/// a message that does not say so.
const DISK_NEEDED: u64 = 8 << 30;

/// Below this, a failed build is most likely the disk's doing, and the error says so.
const DISK_NEARLY_FULL: u64 = 1 << 30;

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Warns before the run when the target directory's disk has less free than a run needs.
fn check_disk() {
    let target = crate::target_dir();
    let _ = std::fs::create_dir_all(&target);
    if let Some(free) = crate::util::free_bytes(&target) {
        if free < DISK_NEEDED {
            println!(
                "warning: {} free on the disk of {}; a run from a fresh clone writes about {} there. If it fails with \
                 \"No space left on device\", free space (`cargo clean` here, or other checkouts' target directories) and \
                 run again",
                gib(free),
                target.display(),
                gib(DISK_NEEDED)
            );
        }
    }
}

/// The failure of a build step, with the disk named when it is nearly full.
pub fn failed_build(what: String) -> anyhow::Error {
    let target = crate::target_dir();
    match crate::util::free_bytes(&target) {
        Some(free) if free < DISK_NEARLY_FULL => anyhow::anyhow!(
            "{what}; the disk of {} has only {} free, so the build most likely ran out of space: free some \
             (`cargo clean`, or other checkouts' target directories; a run needs about {}) and run again",
            target.display(),
            gib(free),
            gib(DISK_NEEDED)
        ),
        _ => anyhow::anyhow!(what),
    }
}

pub fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let root = workspace_root();
    check_disk();
    // The tools the later steps use (a fresh machine compiles postrust: minutes), installed beside the quick tier.
    let tools = match args.quick {
        true => None,
        false => Some(Beside::start(
            "install the tools the later steps use (cargo xtask tools)",
            "tools",
            beside::task(&["tools"])?,
        )?),
    };
    let mut counts = quick(&root)?;
    if args.quick {
        return finish("ci --quick", start, counts);
    }
    if let Some(tools) = tools {
        tools.wait()?;
    }
    // The arm64 release build is the longest CPU-bound step and, since the middle steps got shorter, the one the
    // deploy rehearsal waits for: it starts before the service tier, whose tests mostly wait on the database. Its
    // cross build locks `target/aarch64-unknown-linux-gnu/release`, never the host builds' directories.
    let packages =
        Beside::start("cargo xtask build (the Lambda packages, arm64 release)", "build", beside::task(&["build"])?)?;
    {
        // Real services for the service tier; dropped (stopped, removed) at the end of this block, also on error.
        let services = services::Stack::start()?;
        crate::contract::reset()?;
        counts += step("the service tier (tests against PostgreSQL and PostgREST)", || {
            tiers::services(&root, &services.test_env())
        })?;
        step("migrations: once each, a changed file refused, a failed one undone, anon holding nothing", || {
            crate::db::rehearse(&services.pg.url("postgres"))
        })?;
        step("migration lint (squawk over the files after the baseline, and its canary)", || {
            crate::migration_lint::canary()?;
            crate::migration_lint::run(&crate::db::default_dir())
        })?;
        step("migrations keep the running version's schema (released files, then the new ones; and a canary)", || {
            crate::migration_compat::run(&services.pg.url("postgres"))
        })?;
    }
    // The deploy rehearsal's emulator, bootstrapped beside the steps below: the bootstrap mostly waits on the
    // emulator and the provider, so it costs the two cores little and the rehearsal at the end about 100 s less.
    let rehearsal_dir = root.join("build/local");
    std::fs::create_dir_all(&rehearsal_dir)?;
    let moto = step("start moto for the deploy rehearsal (127.0.0.1)", || {
        crate::deploy_local::Moto::start(&rehearsal_dir.join("moto.log"))
    })?;
    let bootstrap = Beside::start(
        "bootstrap dev's state bucket in the deploy rehearsal's emulator",
        "bootstrap",
        beside::task(&["deploy-local", "--bootstrap-only", &moto.endpoint])?,
    )?;
    step("synth --all --check --example (goldens match)", || xtask_synth::run(&xtask_synth::Args::check_all()))?;
    crate::check_iam::run(&crate::check_iam::Args::all_with_cross_check())?;
    crate::contract::run()?;
    crate::contract::credly()?;
    crate::openapi::run()?;
    crate::workflows::run()?;
    crate::fuzz::run(&crate::fuzz::Args::default())?;
    terraform::validate(&terraform::ValidateArgs::all())?;
    crate::codegen::run(&crate::codegen::Args::coverage())?;
    step("fault run: load through the local API while PostgREST is paused and resumed", crate::faults::run_load)?;
    let scaffold = crate::new_module::check()?;
    packages.wait()?;
    bootstrap.wait()?;
    crate::deploy_local::run(&crate::deploy_local::Args::with_scaffold(&scaffold).in_bootstrapped(&moto.endpoint))?;
    drop(moto);
    drop(scaffold);
    finish("ci", start, counts)
}

/// The quick tier: what answers in minutes with nothing started.
fn quick(root: &std::path::Path) -> Result<Counts> {
    step("cargo fmt --check", || {
        exec(cargo().current_dir(root).args(["fmt", "--all", "--", "--check"]))
            .context("the code is not formatted: run `cargo fmt --all`, then this again")
    })?;
    step("generated files are fresh (cargo xtask codegen --check)", || {
        crate::codegen::run(&crate::codegen::Args::default().checking())
    })?;
    step("cargo clippy --all-targets -D warnings (both tiers' targets)", || {
        let service_targets = tiers::service_target_args(root)?;
        exec(
            cargo()
                .current_dir(root)
                .args(["clippy", "--quiet", "--workspace", "--all-targets"])
                .args(&service_targets)
                .args(["--", "-D", "warnings"]),
        )
    })?;
    let counts = step("the hermetic tier (cargo test --workspace, nothing started)", || tiers::hermetic(root))?;
    step("cargo doc --workspace --no-deps (warnings are errors)", || {
        exec(cargo().current_dir(root).env("RUSTDOCFLAGS", "-D warnings").args([
            "doc",
            "--quiet",
            "--workspace",
            "--no-deps",
        ]))
    })?;
    Ok(counts)
}

/// The closing lines: every step's time, the total, and the test totals.
fn finish(what: &str, start: Instant, counts: Counts) -> Result<()> {
    println!("\n{what}: every step, in order (beside: ran while the steps after it ran)");
    println!("{}", crate::util::summary());
    println!("{what}: all steps passed in {}", human(start.elapsed()));
    // The closing line: the workspace's test totals.
    println!("{what}: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}
