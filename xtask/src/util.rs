//! Small helpers shared by tasks: timed steps and running commands with a clear error when they fail.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Runs `f` as a named step, printing its name first and its duration after.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let start = Instant::now();
    let out = f().with_context(|| format!("step failed: {name}"))?;
    println!("    {name}: done in {}", human(start.elapsed()));
    Ok(out)
}

/// `1.2 s`, `35 ms`.
pub fn human(d: std::time::Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Runs a command to completion with inherited output; an error names the command and its exit status.
pub fn exec(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// The cargo that invoked us (`$CARGO`), so tasks use the same toolchain.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A Python tool in its own virtualenv under `target/tools/<name>`, installed from `package` (pinned) on first
/// use; returns the path of `bin/<executable>` in it.
pub fn python_tool(name: &str, package: &str, executable: &str) -> Result<std::path::PathBuf> {
    let venv = crate::workspace_root().join("target/tools").join(name);
    let bin = venv.join("bin").join(executable);
    if !bin.is_file() {
        step(&format!("python3 -m venv target/tools/{name} && pip install {package} (first run only)"), || {
            exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
            exec(Command::new(venv.join("bin/pip")).args(["install", "--quiet", package]))
        })?;
    }
    if !bin.is_file() {
        bail!("{package} was installed but {} does not exist", bin.display());
    }
    Ok(bin)
}
