//! `cargo xtask ci`: the one test command (README, `.ci/run`). Every step must pass; none is skipped silently.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, human, step};
use crate::{services, terraform, workspace_root};

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Leave out the scaffold check (which runs this command in a scratch copy; it passes this flag there).
    #[arg(long)]
    no_scaffold_check: bool,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Arguments for `cargo test` (e.g. `-p org-module --test database`); default `--workspace`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// `cargo xtask test`: the services, then `cargo test` with their addresses.
pub fn test(args: &TestArgs) -> Result<()> {
    let root = workspace_root();
    let services = services::Stack::start()?;
    crate::contract::reset()?;
    let cargo_args: Vec<String> =
        if args.cargo_args.is_empty() { vec!["--workspace".into()] } else { args.cargo_args.clone() };
    let counts = step("cargo test", || cargo_test(&root, &cargo_args, &services.test_env()))?;
    drop(services);
    println!("test: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

/// What one run of this command writes under a fresh target directory, with room to spare: 5.9 GB measured
/// (BENCHMARKS.md, "CI": host debug builds of the checkout and the scaffold copy, two arm64 release builds, the tools'
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
fn failed_build(what: String) -> anyhow::Error {
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
    step("cargo fmt --check", || exec(cargo().current_dir(&root).args(["fmt", "--all", "--", "--check"])))?;
    step("generated files are fresh (cargo xtask codegen --check)", || {
        crate::codegen::run(&crate::codegen::Args::default().checking())
    })?;
    step("cargo clippy --all-targets -D warnings", || {
        exec(cargo().current_dir(&root).args([
            "clippy",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // Real services for the integration tests; dropped (stopped, removed) when this function returns, also on error.
    let services = services::Stack::start()?;
    crate::contract::reset()?;
    let counts = step("cargo test --workspace", || cargo_test(&root, &["--workspace".into()], &services.test_env()))?;
    drop(services);
    step("synth --all --check --example (goldens match)", || xtask_synth::run(&xtask_synth::Args::check_all()))?;
    crate::check_iam::run(&crate::check_iam::Args::all_with_cross_check())?;
    crate::contract::run()?;
    crate::openapi::run()?;
    crate::fuzz::run(&crate::fuzz::Args::default())?;
    terraform::validate(&terraform::ValidateArgs::all())?;
    crate::codegen::run(&crate::codegen::Args::coverage())?;
    step("fault run: load through the local API while PostgREST is paused and resumed", crate::faults::run_load)?;
    if !args.no_scaffold_check {
        crate::new_module::check()?;
    }
    // Builds the Lambda packages first when they are missing (cargo-lambda, arm64), so the size budget is checked too.
    crate::deploy_local::run(&crate::deploy_local::Args::default())?;
    println!("ci: all steps passed in {}", human(start.elapsed()));
    // The closing line: the workspace's test totals.
    println!("ci: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

/// Test totals summed over every test binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

/// Runs `cargo test ARGS`, echoing its output, and sums the `test result:` lines.
fn cargo_test(root: &Path, args: &[String], env: &[(&'static str, String)]) -> Result<Counts> {
    let mut child = cargo()
        .current_dir(root)
        .arg("test")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                counts.passed += number_before(rest, " passed");
                counts.failed += number_before(rest, " failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(failed_build(format!(
            "cargo test failed ({status}): {} passed, {} failed",
            counts.passed, counts.failed
        )));
    }
    if counts.passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(counts)
}

/// `number_before("ok. 17 passed; 0 failed", " passed")` → 17.
fn number_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_totals_are_read_from_cargo_lines() {
        assert_eq!(number_before("ok. 17 passed; 0 failed; 0 ignored", " passed"), 17);
        assert_eq!(number_before("FAILED. 3 passed; 2 failed; 0 ignored", " failed"), 2);
    }
}
