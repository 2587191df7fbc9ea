//! `cargo xtask bench synth`: whole-process synth of the four environments into a fresh folder each run, then the
//! same with 1, 20 and 100 modules (synthetic copies of org-module), failing if time or memory stop growing
//! linearly.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, step};
use crate::{target_dir, workspace_root};

use super::measure::*;

/// One whole-process synth run: wall time, and the CPU time and peak memory the process reported of itself.
fn synth_once(exe: &Path, out: &Path, modules: Option<usize>) -> Result<(Duration, Duration, u64)> {
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = Command::new(exe);
    cmd.args(["synth", "--all", "--example", "--report-usage", "--out"]).arg(out);
    if let Some(n) = modules {
        cmd.args(["--synthetic-modules", &n.to_string()]);
    }
    let start = Instant::now();
    let output = cmd.output().with_context(|| format!("cannot run {}", exe.display()))?;
    let wall = start.elapsed();
    if !output.status.success() {
        bail!("synth failed during the benchmark: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Result<u64> {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("synth did not report {name}"))
    };
    Ok((wall, Duration::from_nanos(field("cpu_ns=")?), field("peak_rss_kib=")?))
}

pub fn run(runs: usize) -> Result<()> {
    let root = workspace_root();
    step("cargo build --release -p xtask", || {
        exec(cargo().current_dir(&root).args(["build", "--quiet", "--release", "-p", "xtask"]))
    })?;
    let exe = target_dir().join("release/xtask");
    let out = target_dir().join("bench-synth/out");
    let measure = |modules: Option<usize>, runs: usize| -> Result<(Spread, Spread, u64)> {
        let (mut walls, mut cpus, mut peak) = (Vec::new(), Vec::new(), 0u64);
        for i in 0..runs + 3 {
            let (wall, cpu, kib) = synth_once(&exe, &out, modules)?;
            if i >= 3 {
                walls.push(wall);
                cpus.push(cpu);
                peak = peak.max(kib);
            }
        }
        Ok((Spread::new(walls), Spread::new(cpus), peak))
    };
    let (wall, cpu, peak) = measure(None, runs)?;
    println!("synth --all (4 environments, whole process, release, fresh output folder each run), {runs} runs:");
    println!("  wall  {}", wall.show());
    println!("  CPU   {}", cpu.show());
    println!("  peak RSS {:.1} MiB (max over runs); targets < 40 ms wall, < 20 MiB", peak as f64 / 1024.0);

    println!("\nscaling: synthetic modules (copies of org-module: 4 functions, 19 routes each), 4 environments:");
    let mut points = Vec::new();
    for n in [1usize, 20, 100] {
        let (wall, cpu, peak) = measure(Some(n), 10)?;
        println!(
            "  {n:>3} modules: wall {}  CPU median {}  peak RSS {:.1} MiB",
            wall.show(),
            ms(cpu.pct(0.5)),
            peak as f64 / 1024.0
        );
        points.push((n as f64, wall.pct(0.5).as_secs_f64(), peak as f64));
    }
    let (per_module_ms, per_module_kib) = linear_check(&points)?;
    println!("  growth: {per_module_ms:.3} ms and {per_module_kib:.0} KiB per module, linear (checked)");
    Ok(())
}

/// Fits the growth from 1 to 20 modules and requires 100 modules to stay within 1.5× of its extrapolation, for time
/// and for memory: a quadratic step (a lookup per pair of resources, say) fails here.
fn linear_check(points: &[(f64, f64, f64)]) -> Result<(f64, f64)> {
    let [(n1, t1, m1), (n20, t20, m20), (n100, t100, m100)] = points else { bail!("need three points") };
    let slope_t = (t20 - t1) / (n20 - n1);
    let slope_m = (m20 - m1) / (n20 - n1);
    let predicted_t = t1 + slope_t * (n100 - n1);
    let predicted_m = m1 + slope_m * (n100 - n1);
    if *t100 > predicted_t * 1.5 {
        bail!(
            "synth time grew faster than linearly: {:.1} ms at 100 modules against {:.1} ms extrapolated from 1 and 20",
            t100 * 1000.0,
            predicted_t * 1000.0
        );
    }
    if *m100 > predicted_m * 1.5 {
        bail!("synth memory grew faster than linearly: {m100:.0} KiB at 100 modules against {predicted_m:.0} KiB extrapolated");
    }
    Ok((slope_t * 1000.0, slope_m))
}

// ---------------------------------------------------------------------------------------------------- cold start
