//! `cargo xtask bench synth`: times whole-process synth of all four environments in release, and its peak memory.
//!
//! Each run is a fresh process (`xtask synth --all --out <tmp>`), so the figure includes process start, argument
//! parsing, building four stacks, rendering and writing four files: what a user waits for.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, step};
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to benchmark.
    #[arg(value_enum, default_value = "synth")]
    what: What,
    /// Number of measured runs (after 3 warm-up runs).
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum What {
    /// Synth of all four environments, whole process.
    Synth,
}

pub fn run(args: &Args) -> Result<()> {
    match args.what {
        What::Synth => synth(args.runs),
    }
}

fn synth(runs: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let root = workspace_root();
    step("cargo build --release -p xtask", || {
        exec(cargo().current_dir(&root).args(["build", "--quiet", "--release", "-p", "xtask"]))
    })?;
    let exe = root.join("target/release/xtask");
    let out = root.join("target/bench-synth");
    let mut walls = Vec::with_capacity(runs);
    let mut peak_kib = 0u64;
    for i in 0..runs + 3 {
        let start = Instant::now();
        let output = Command::new(&exe)
            .args(["synth", "--all", "--report-peak-rss", "--out"])
            .arg(&out)
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        let wall = start.elapsed();
        if !output.status.success() {
            bail!("synth failed during the benchmark: {}", String::from_utf8_lossy(&output.stderr));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let kib: u64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kib="))
            .and_then(|v| v.parse().ok())
            .context("synth did not report its peak RSS")?;
        if i >= 3 {
            walls.push(wall);
            peak_kib = peak_kib.max(kib);
        }
    }
    walls.sort();
    let pct = |p: f64| walls[((walls.len() - 1) as f64 * p).round() as usize];
    println!("synth --all (4 environments, whole process, release), {runs} runs:");
    println!("  wall   median {}  p95 {}  max {}", ms(pct(0.5)), ms(pct(0.95)), ms(pct(1.0)));
    println!("  memory peak RSS {:.1} MiB (max over runs)", peak_kib as f64 / 1024.0);
    println!("  targets: < 40 ms wall, < 20 MiB peak  →  {}", verdict(pct(0.5), peak_kib));
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(median: Duration, peak_kib: u64) -> &'static str {
    if median < Duration::from_millis(40) && peak_kib < 20 * 1024 {
        "met"
    } else {
        "NOT met"
    }
}
