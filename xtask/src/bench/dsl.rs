//! `cargo xtask bench dsl [--before <rev>] [--after <rev>]`: the typed provider's costs, one revision (HEAD by
//! default) against another (the hand-written DSL before it, 4eba261) side by side in one run, each in a worktree
//! with a target directory of its own:
//!
//! - clean workspace build (`cargo build --workspace`, debug with this checkout's debug-info settings on both sides,
//!   from an empty target directory; dependencies downloaded already), wall and CPU;
//! - clean build of the stacks alone (`cargo build -p stacks`: the DSL, the catalog, the stacks), the DSL's own cost
//!   apart from the module crates the two revisions have;
//! - edit→synth: a catalog constant changed (a route's summary), then `cargo xtask synth --all` as a user types it
//!   (each side's own alias: the task runner up to ff156d5, the synth binary of `xtask/synth/` since), wall and
//!   CPU, alternating the two checkouts;
//! - synth of the four environments, whole process, into a fresh folder (the release xtask of each);
//! - for this checkout alone: generating every type of the pinned provider (time and peak memory), the generated
//!   size (all types, and the committed part).
//!
//! `--all-types` also compiles all 2,134 generated types once (a scratch crate, debug): minutes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::measure::{peak_rss_kib, Spread};
use crate::util::{cargo, exec, human, step};
use crate::{target_dir, workspace_root};

/// A checkout under measurement.
struct Side {
    label: &'static str,
    dir: PathBuf,
    target: PathBuf,
}

/// Both sides build with the same debug-info settings (this checkout's `[profile.dev]`), so that the comparison is
/// of the code, not of a profile one side predates.
const SAME_PROFILE: [&str; 4] =
    ["--config", "profile.dev.debug=\"line-tables-only\"", "--config", "profile.dev.package.\"*\".debug=false"];

impl Side {
    /// cargo in this side's checkout, with its own target directory and [`SAME_PROFILE`].
    fn cargo(&self) -> Command {
        let mut cmd = cargo();
        cmd.current_dir(&self.dir).env("CARGO_TARGET_DIR", &self.target).args(SAME_PROFILE);
        cmd
    }
}

/// Runs a command under `/usr/bin/time` (its output discarded), returning wall time and the CPU time (user + system,
/// 10 ms ticks) of it and its children.
fn timed(cmd: &mut Command) -> Result<(Duration, Duration)> {
    let report = target_dir().join("bench-dsl/time.txt");
    let mut timed = Command::new("/usr/bin/time");
    timed.args(["-f", "%e %U %S", "-o"]).arg(&report).arg(cmd.get_program()).args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    // The command's output is not the measurement's: synth's lines would bury the figures.
    timed.stdout(std::process::Stdio::null());
    let started = Instant::now();
    let status = timed.status().context("cannot run /usr/bin/time (Debian package `time`)")?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("{} failed ({status})", crate::util::shown(cmd));
    }
    let text = std::fs::read_to_string(&report)?;
    let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    if v.len() < 3 {
        bail!("/usr/bin/time wrote `{text}`");
    }
    // Wall time from here (exact); CPU time from /usr/bin/time, in its 10 ms ticks.
    Ok((wall, Duration::from_secs_f64(v[1] + v[2])))
}

/// `median 4.1 s (min 3.9, max 4.6)` for the few samples a slow measurement allows.
fn show(samples: &[Duration]) -> String {
    let s = Spread::new(samples.to_vec());
    format!("median {} (min {}, max {}, n={})", human(s.pct(0.5)), human(s.pct(0.0)), human(s.pct(1.0)), samples.len())
}

/// The catalog constant an edit changes, and the edit: the start of a route's summary, which both sides have (the
/// rest of the text differs between revisions).
const EDITED: &str = "lambdas/route-registry/src/modules/org.rs";
const FROM: &str = "\"List the caller's pending invitations";
const TO: &str = "\"(edited) List the caller's pending invitations";

fn edit_and_synth(side: &Side, out: &Path) -> Result<(Duration, Duration)> {
    let file = side.dir.join(EDITED);
    let original = std::fs::read_to_string(&file)?;
    if !original.contains(FROM) {
        bail!("{} has no {FROM} to edit", file.display());
    }
    std::fs::write(&file, original.replace(FROM, TO))?;
    let result = timed(side.cargo().args(["xtask", "synth", "--all", "--example", "--out"]).arg(out));
    std::fs::write(&file, original)?;
    result
}

pub fn run(before: &str, after: &str, runs: usize, all_types: bool) -> Result<()> {
    let root = workspace_root();
    let base = target_dir().join("bench-dsl");
    std::fs::create_dir_all(&base)?;
    let worktree = |label: &'static str, rev: &str| -> Result<Side> {
        let dir = base.join(label);
        let _ = Command::new("git").current_dir(&root).args(["worktree", "remove", "--force"]).arg(&dir).output();
        let _ = std::fs::remove_dir_all(&dir);
        exec(
            Command::new("git").current_dir(&root).args(["worktree", "add", "--quiet", "--detach"]).arg(&dir).arg(rev),
        )?;
        Ok(Side { label, dir, target: base.join(format!("{label}-target")) })
    };
    let sides = [
        step(&format!("worktree of {before} (before)"), || worktree("before", before))?,
        step(&format!("worktree of {after} (after)"), || worktree("after", after))?,
    ];

    // Generation, this checkout only.
    let version = crate::codegen::aws::pinned_version(&root)?;
    let all = crate::codegen::aws::live_schema(&version)?;
    let rss_before = peak_rss_kib(std::process::id()).unwrap_or(0);
    let everything = crate::codegen::coverage::generate_everything(&all, &version)?;
    let rss = peak_rss_kib(std::process::id()).unwrap_or(0);
    let committed: u64 = std::fs::read_dir(root.join("infra-dsl/src/aws"))?
        .chain(std::fs::read_dir(root.join("infra-dsl/src/aws/data"))?)
        .flatten()
        .filter_map(|e| e.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()))
        .sum();
    println!(
        "generation (after only): {} resources + {} data sources, {:.1} MB of Rust in {:.2} s (each parsed too), peak RSS {} MiB (was {} MiB before generating); committed: {} listed types, {:.2} MB",
        everything.resources,
        everything.data_sources,
        everything.bytes as f64 / 1e6,
        everything.seconds,
        rss / 1024,
        rss_before / 1024,
        crate::codegen::aws::includes(&root)?.len(),
        committed as f64 / 1e6
    );

    // Clean builds, alternating.
    let mut clean: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(), Vec::new()];
    for round in 0..runs.max(1) {
        for (i, side) in sides.iter().enumerate() {
            let _ = std::fs::remove_dir_all(&side.target);
            let measured = step(&format!("clean build, {} (round {})", side.label, round + 1), || {
                timed(side.cargo().args(["build", "--quiet", "--offline", "--workspace"]))
            })?;
            clean[i].push(measured);
        }
    }
    // The stacks alone (infra-dsl, the catalog, stacks and their dependencies), alternating: the DSL's own cost,
    // apart from the module crates either side has.
    let mut stacks: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(), Vec::new()];
    for round in 0..runs.max(1) {
        for (i, side) in sides.iter().enumerate() {
            let target = side.target.with_extension("stacks");
            let _ = std::fs::remove_dir_all(&target);
            let measured = step(&format!("clean build of stacks, {} (round {})", side.label, round + 1), || {
                timed(side.cargo().env("CARGO_TARGET_DIR", &target).args([
                    "build",
                    "--quiet",
                    "--offline",
                    "-p",
                    "stacks",
                ]))
            })?;
            let _ = std::fs::remove_dir_all(&target);
            stacks[i].push(measured);
        }
    }
    // Edit → synth, alternating, on the warm target of each.
    let mut edits: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(), Vec::new()];
    for side in &sides {
        edit_and_synth(side, &base.join("out"))?; // warm-up: what synth runs, built once
    }
    for _ in 0..(runs.max(1) * 3) {
        for (i, side) in sides.iter().enumerate() {
            edits[i].push(edit_and_synth(side, &base.join(format!("out-{}", side.label)))?);
        }
    }
    // Synth of four environments: each side's release xtask, whole process.
    let mut synths: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(), Vec::new()];
    for side in &sides {
        exec(side.cargo().args(["build", "--quiet", "--release", "-p", "xtask"]))?;
    }
    for _ in 0..10 {
        for (i, side) in sides.iter().enumerate() {
            let out = base.join(format!("synth-{}", side.label));
            let _ = std::fs::remove_dir_all(&out);
            synths[i].push(timed(
                Command::new(side.target.join("release/xtask"))
                    .current_dir(&side.dir)
                    .args(["synth", "--all", "--example", "--out"])
                    .arg(&out),
            )?);
        }
    }
    let wall = |v: &[(Duration, Duration)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
    let cpu = |v: &[(Duration, Duration)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
    println!("\n| figure | before ({before}) | after ({after}) |\n|---|---|---|");
    for (name, v) in [
        ("clean workspace build", &clean),
        ("clean build of stacks", &stacks),
        ("edit → synth", &edits),
        ("synth, four environments", &synths),
    ] {
        println!("| {name}, wall | {} | {} |", show(&wall(&v[0])), show(&wall(&v[1])));
        println!("| {name}, CPU | {} | {} |", show(&cpu(&v[0])), show(&cpu(&v[1])));
    }
    let median = |v: &[(Duration, Duration)]| Spread::new(wall(v)).pct(0.5).as_secs_f64();
    for (name, v) in [("clean workspace build", &clean), ("clean build of stacks", &stacks), ("edit → synth", &edits)]
    {
        let change = median(&v[1]) / median(&v[0]) - 1.0;
        println!("{name}: {:+.1} % (the target: not slower by more than 10 %)", change * 100.0);
    }

    if all_types {
        let dir = base.join("all-types");
        step("compile every generated type once (a scratch crate, debug)", || {
            let started = Instant::now();
            crate::codegen::coverage::write_all_types_crate(&root, &dir, &all, &version)?;
            let measured =
                timed(cargo().current_dir(&dir).env("CARGO_TARGET_DIR", base.join("all-types-target")).args([
                    "build",
                    "--quiet",
                    "--offline",
                    "--lib",
                ]))?;
            println!(
                "    all {} types: wall {}, CPU {} ({} with writing)",
                everything.resources + everything.data_sources,
                human(measured.0),
                human(measured.1),
                human(started.elapsed())
            );
            Ok(())
        })?;
    }
    for side in &sides {
        let _ = Command::new("git").current_dir(&root).args(["worktree", "remove", "--force"]).arg(&side.dir).output();
    }
    Ok(())
}
