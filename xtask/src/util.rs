//! Small helpers shared by tasks: timed steps and running commands with a clear error when they fail.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Runs `f` as a named step, printing its name first and its duration after.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let start = Instant::now();
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = f();
    DEPTH.with(|d| d.set(d.get() - 1));
    let out = out.with_context(|| format!("step failed: {name}"))?;
    let took = start.elapsed();
    println!("    {name}: done in {}", human(took));
    if DEPTH.with(|d| d.get()) == 0 {
        record(name, took, false);
    }
    Ok(out)
}

thread_local! {
    /// How many steps the current one is inside: only the outermost are recorded for the summary.
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The outermost steps this process ran, with their durations and whether each ran beside others.
static RECORDED: std::sync::Mutex<Vec<(String, std::time::Duration, bool)>> = std::sync::Mutex::new(Vec::new());

/// Records a finished step for [`summary`].
pub fn record(name: &str, took: std::time::Duration, beside: bool) {
    if let Ok(mut steps) = RECORDED.lock() {
        steps.push((name.to_owned(), took, beside));
    }
}

/// Every recorded step and its time, as a table: what the run's summary prints (and BENCHMARKS.md quotes).
pub fn summary() -> String {
    let steps = RECORDED.lock().map(|s| s.clone()).unwrap_or_default();
    let width = steps.iter().map(|(n, _, _)| n.chars().count()).max().unwrap_or(0).min(100);
    steps
        .iter()
        .map(|(name, took, beside)| {
            let name: String = name.chars().take(100).collect();
            format!("  {name:<width$}  {:>9}{}", human(*took), if *beside { "  (beside)" } else { "" })
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub use xtask_synth::human;

/// A command as a user would type it again: its program and arguments (quoted when they need it), after `cd DIR &&`
/// when it runs elsewhere; the environment it changes is left out (it is the runner's business, and long).
pub fn shown(cmd: &Command) -> String {
    let quote = |s: &std::ffi::OsStr| {
        let s = s.to_string_lossy();
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c)) {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    let program = std::path::Path::new(cmd.get_program());
    let program =
        if program.file_name().is_some_and(|n| n == "cargo") { "cargo".as_ref() } else { program.as_os_str() };
    let mut line = quote(program);
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    match cmd.get_current_dir() {
        Some(dir) => format!("cd {} && {line}", quote(dir.as_os_str())),
        None => line,
    }
}

/// Runs a command to completion with inherited output; an error names the command and its exit status.
pub fn exec(cmd: &mut Command) -> Result<()> {
    let shown = shown(cmd);
    let status = cmd.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// The cargo that invoked us (`$CARGO`), so tasks use the same toolchain, without the variables `cargo run` set for
/// this program (`xtask_synth::cargo` says why).
pub use xtask_synth::cargo;

/// A Python tool in its own virtualenv under `target/tools/<name>`, installed from `package` (pinned) on first
/// use; returns the path of `bin/<executable>` in it.
pub fn python_tool(name: &str, package: &str, executable: &str) -> Result<std::path::PathBuf> {
    python_tool_with(name, &[package], executable)
}

/// [`python_tool`] with several packages.
pub fn python_tool_with(name: &str, packages: &[&str], executable: &str) -> Result<std::path::PathBuf> {
    let venv = crate::target_dir().join("tools").join(name);
    let bin = venv.join("bin").join(executable);
    let marker = venv.join(".installed");
    if !marker.is_file() {
        let shown = packages.join(" ");
        step(&format!("python3 -m venv target/tools/{name} && pip install {shown} (first run only)"), || {
            exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
            exec(Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(packages))?;
            std::fs::write(&marker, &shown)?;
            Ok(())
        })?;
    }
    if !bin.is_file() {
        bail!("{} was installed but {} does not exist", packages.join(" "), bin.display());
    }
    Ok(bin)
}

/// The toolchain's rustfmt (next to `$CARGO` when set, else on `PATH`).
pub fn rustfmt_bin() -> std::path::PathBuf {
    std::env::var_os("CARGO")
        .map(std::path::PathBuf::from)
        .and_then(|c| c.parent().map(|d| d.join("rustfmt")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "rustfmt".into())
}

/// Rust source formatted as the workspace formats it (its `rustfmt.toml`), through rustfmt's standard input.
pub fn rustfmt(root: &std::path::Path, source: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new(rustfmt_bin())
        .args(["--edition", "2021", "--emit", "stdout", "--config-path"])
        .arg(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run rustfmt")?;
    // Written from a thread, so a large input cannot block on a full output pipe.
    let mut stdin = child.stdin.take().context("rustfmt has no standard input")?;
    let text = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().context("rustfmt did not finish")?;
    let _ = writer.join();
    if !out.status.success() {
        bail!("rustfmt refused the source: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).context("rustfmt printed something that is not UTF-8")
}

/// Removes a folder when dropped (scratch copies).
#[derive(Debug)]
pub struct RemoveOnDrop(pub std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the workspace's tracked and untracked (not ignored) files to `dest`, as a scratch copy that shares this
/// checkout's target directory (so only what differs compiles again) under a package version of its own,
/// `<version>-<tag>`: cargo tells units apart by package name and version, not by folder, so under the same version
/// the copy's builds would overwrite this checkout's and be run here later. The copy is itself a git work tree with
/// every file staged, so commands that list files through git (a copy made inside a copy) work there too.
pub fn copy_workspace(root: &std::path::Path, dest: &std::path::Path, tag: &str) -> Result<()> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .context("cannot list the workspace's files with git (is git installed?)")?;
    if !out.status.success() {
        bail!(
            "git ls-files failed in {}: {}\nthe workspace must be a git checkout (git clone, or git init && git add -A)",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    for file in String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()) {
        let (from, to) = (root.join(file), dest.join(file));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().unwrap_or(dest))?;
            std::fs::copy(&from, &to).with_context(|| format!("cannot copy {file}"))?;
        }
    }
    for args in [&["init", "--quiet"][..], &["add", "--all"][..]] {
        let status = Command::new("git")
            .current_dir(dest)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .context("cannot run git")?;
        if !status.success() {
            bail!("git {} failed in the copy {}", args.join(" "), dest.display());
        }
    }
    let manifest = dest.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)?;
    let changed = with_tagged_version(&text, tag)
        .with_context(|| format!("{} has no [workspace.package] version line", manifest.display()))?;
    std::fs::write(&manifest, changed).with_context(|| format!("cannot write {}", manifest.display()))
}

/// The workspace manifest with its `[workspace.package]` version `X` (or `X-<earlier tag>`, in a copy of a copy)
/// replaced by `X-<tag>`.
fn with_tagged_version(manifest: &str, tag: &str) -> Option<String> {
    let section = manifest.find("[workspace.package]")?;
    let start = section + manifest[section..].find("\nversion = \"")? + "\nversion = \"".len();
    let end = start + manifest[start..].find('"')?;
    let base = manifest[start..end].split('-').next()?;
    Some(format!("{}{base}-{tag}{}", &manifest[..start], &manifest[end..]))
}

#[cfg(test)]
mod tests {
    use super::with_tagged_version;

    #[test]
    fn a_copy_of_a_copy_gets_one_tag() {
        let manifest = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2021\"\nversion = \"0.1.0\"\n";
        let once = with_tagged_version(manifest, "scaffold").unwrap();
        assert!(once.ends_with("version = \"0.1.0-scaffold\"\n"), "{once}");
        let twice = with_tagged_version(&once, "rename").unwrap();
        assert!(twice.ends_with("version = \"0.1.0-rename\"\n"), "{twice}");
        assert_eq!(with_tagged_version("[workspace]\n", "x"), None);
    }
}

/// Free space on the filesystem that holds `path`, in bytes, as `df -Pk` reports it (`None` if df cannot tell).
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    available_kib(&String::from_utf8_lossy(&out.stdout)).map(|kib| kib * 1024)
}

/// The `Available` column of `df -P`'s one filesystem line.
fn available_kib(df: &str) -> Option<u64> {
    df.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod disk_tests {
    #[test]
    fn the_available_column_is_read_from_df() {
        let df = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         263174212 85985516   9926664      90% /\n";
        assert_eq!(super::available_kib(df), Some(9_926_664));
        assert_eq!(super::available_kib("Filesystem\n"), None);
    }
}
