//! Steps that run beside others: a task of this binary (or any command) started as a child process whose output goes
//! to a log file under `target/ci/`, waited for when its result is needed. The test command runs its CPU-bound
//! builds beside the steps that mostly wait (a database, a Python tool, Terraform), so a two-core machine stays busy.
//! A failed step prints the end of its log and names the file; a step still running when its owner goes away is
//! killed, so nothing outlives the command.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::human;

/// A step running as a child process.
#[derive(Debug)]
pub struct Beside {
    name: String,
    child: Arc<Mutex<Child>>,
    /// When it ended, and how: recorded by a watcher thread, so its time is its own and not when it was waited for.
    ended: Arc<Mutex<Option<(ExitStatus, Instant)>>>,
    log: PathBuf,
    started: Instant,
}

/// This binary with `args`: a task run as a child, in the workspace root.
pub fn task(args: &[&str]) -> Result<Command> {
    // The running binary itself, also when a build replaced its file meanwhile (the scaffold check builds a copy of
    // the workspace into the same target directory): Linux keeps it at /proc/self/exe, which the child, forked from
    // this process, executes.
    let proc_self = std::path::Path::new("/proc/self/exe");
    let exe = match proc_self.exists() {
        true => proc_self.to_path_buf(),
        false => std::env::current_exe().context("cannot find the running xtask binary")?,
    };
    let mut cmd = Command::new(exe);
    cmd.current_dir(crate::workspace_root()).args(args);
    Ok(cmd)
}

impl Beside {
    /// Starts `cmd` now, its output to `target/ci/<file>.log`.
    pub fn start(name: &str, file: &str, mut cmd: Command) -> Result<Beside> {
        let dir = crate::target_dir().join("ci");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("{file}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        println!("==> {name} (beside the next steps; log: {})", xtask_synth::display_path(&log));
        let child = Arc::new(Mutex::new(child));
        let ended = Arc::new(Mutex::new(None));
        let (watched, record) = (child.clone(), ended.clone());
        std::thread::spawn(move || loop {
            let status = watched.lock().map(|mut c| c.try_wait());
            match status {
                Ok(Ok(Some(status))) => {
                    if let Ok(mut ended) = record.lock() {
                        *ended = Some((status, Instant::now()));
                    }
                    return;
                }
                Ok(Ok(None)) => std::thread::sleep(Duration::from_millis(100)),
                _ => return,
            }
        });
        Ok(Beside { name: name.to_owned(), child, ended, log, started: Instant::now() })
    }

    /// Where its output goes.
    pub fn log(&self) -> &std::path::Path {
        &self.log
    }

    /// Waits for it; its duration, or why it failed with the end of its log.
    pub fn wait(self) -> Result<Duration> {
        let waited = Instant::now();
        let (status, at) = loop {
            let ended = self.ended.lock().map(|e| *e).unwrap_or(None);
            if let Some(ended) = ended {
                break ended;
            }
            let gone = self.child.lock().map(|mut c| c.try_wait()).ok().and_then(Result::ok).flatten();
            if let Some(status) = gone {
                break (status, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let took = at.duration_since(self.started);
        if !status.success() {
            bail!(
                "{} failed ({status}); the end of {}:\n{}",
                self.name,
                xtask_synth::display_path(&self.log),
                tail(&self.log, 60)
            );
        }
        let idle = waited.elapsed();
        println!(
            "    {}: done in {}{}",
            self.name,
            human(took),
            if idle > Duration::from_secs(1) {
                format!(" (the steps after it waited {})", human(idle))
            } else {
                String::new()
            }
        );
        crate::util::record(&self.name, took, true);
        Ok(took)
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The last `lines` lines of a file (at most its last 64 KiB).
fn tail(path: &std::path::Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
