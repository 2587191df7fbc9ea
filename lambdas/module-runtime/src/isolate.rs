//! Work on hostile input in a child process with hard limits: a function that reads what a stranger uploaded (a
//! PDF built to recurse forever, a zip that expands to gigabytes) cannot take its own process down with it. The
//! child is the function's own executable, started again with [`CHILD_VARIABLE`] naming the function; it lowers its
//! limits (address space, CPU seconds, no files, no core dump) before it reads a byte, runs the registration's
//! [`Isolated::run`] on a thread with a stack of the stated size, and writes the outcome to stdout. The parent waits
//! until its deadline at most, then kills it.
//!
//! Whatever happens in the child, the parent gets an [`Isolation`]: the output, the work's own refusal, or why the
//! child stopped (killed at the deadline, out of memory, out of CPU, a crash), so the caller can record an outcome
//! within the function's time. A Lambda allows child processes; one reading a page of text costs 2.3 ms from spawn
//! to answer (BENCHMARKS.md, "Résumé processing").
//!
//! The child's protocol: stdin is the input; stdout is the child's peak resident memory in KiB and its CPU time in
//! microseconds (8 little-endian bytes each), then `O` and the output, or `R` and the refusal's reason (UTF-8).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ApiError;

/// Set in a child's environment: the binary name of the function whose isolated work it runs.
pub const CHILD_VARIABLE: &str = "MODULE_RUNTIME_ISOLATED";

/// Names the executable that hosts the children when it is not the current one (a test binary, whose own `main`
/// is the test harness, points it at the function's binary).
pub const EXE_VARIABLE: &str = "MODULE_RUNTIME_ISOLATE_EXE";

/// The hard limits of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Its address space (`RLIMIT_AS`): the executable, the stack and the heap together.
    pub memory_mb: u64,
    /// Its CPU time (`RLIMIT_CPU`).
    pub cpu_s: u64,
    /// The stack of the thread that runs the work (recursion in a parser is bounded by this, not by the input).
    pub stack_mb: usize,
}

/// Work a registration runs in a child: the input's bytes in, the output's bytes out, or the reason it refuses.
#[derive(Debug)]
pub struct Isolated {
    pub run: fn(&[u8]) -> Result<Vec<u8>, String>,
    pub limits: Limits,
}

/// What became of one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// The work's output.
    Done { output: Vec<u8>, usage: Usage },
    /// The work refused the input, saying why.
    Refused { reason: String, usage: Usage },
    /// The child stopped without an answer; why, in words an owner of the input can read.
    Stopped { reason: String },
}

/// What a child used, by its own account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Peak resident memory, KiB.
    pub peak_kib: u64,
    /// User and system CPU time, microseconds.
    pub cpu_us: u64,
}

/// In a child (its environment names a function): runs that function's isolated work, which `isolated_work` finds
/// by the function's binary name ([`crate::registration::isolated`] over a module's registrations), and returns its exit
/// code; `None` in any other process. Every binary that hosts such registrations calls it first thing in `main`.
pub fn child(isolated_work: impl Fn(&str) -> Option<&'static Isolated>) -> Option<u8> {
    let binary = std::env::var(CHILD_VARIABLE).ok()?;
    let Some(isolated) = isolated_work(&binary) else {
        eprintln!("{CHILD_VARIABLE}={binary}: no registration here isolates work for that function");
        return Some(2);
    };
    if let Err(e) = lower_limits(&isolated.limits) {
        eprintln!("cannot set the child's limits: {e}");
        return Some(2);
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read the input: {e}");
        return Some(2);
    }
    let run = isolated.run;
    let worker = std::thread::Builder::new()
        .name("isolated".into())
        .stack_size(isolated.limits.stack_mb * 1024 * 1024)
        .spawn(move || run(&input));
    let outcome = match worker.map(|w| w.join()) {
        Ok(Ok(outcome)) => outcome,
        // A panic: the work's bug, said as a refusal would hide it; the parent reports the crash.
        Ok(Err(_)) | Err(_) => return Some(3),
    };
    let usage = own_usage();
    let mut out = std::io::stdout().lock();
    let (tag, body) = match &outcome {
        Ok(output) => (b"O", output.as_slice()),
        Err(reason) => (b"R", reason.as_bytes()),
    };
    let written = out
        .write_all(&usage.peak_kib.to_le_bytes())
        .and(out.write_all(&usage.cpu_us.to_le_bytes()))
        .and(out.write_all(tag))
        .and(out.write_all(body));
    Some(if written.and(out.flush()).is_ok() { 0 } else { 4 })
}

fn lower_limits(limits: &Limits) -> nix::Result<()> {
    use nix::sys::resource::{setrlimit, Resource};
    let memory = limits.memory_mb * 1024 * 1024;
    setrlimit(Resource::RLIMIT_AS, memory, memory)?;
    // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
    setrlimit(Resource::RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1)?;
    setrlimit(Resource::RLIMIT_FSIZE, 0, 0)?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    Ok(())
}

/// This process's peak resident memory in KiB and its CPU time so far.
///
/// The peak is the high-water mark of this process's own address space (`VmHWM`), not `ru_maxrss`: Linux carries
/// `ru_maxrss` across `execve`, and a child spawned with `vfork` semantics inherits its parent's peak through it,
/// so every child would report at least the parent's largest moment.
pub fn own_usage() -> Usage {
    let Ok(u) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) else {
        return Usage::default();
    };
    let us = |t: nix::sys::time::TimeVal| (t.tv_sec().max(0) as u64) * 1_000_000 + t.tv_usec().max(0) as u64;
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| high_water_kib(&status))
        .unwrap_or(u.max_rss().max(0) as u64);
    Usage { peak_kib, cpu_us: us(u.user_time()) + us(u.system_time()) }
}

/// `VmHWM` of a `/proc/<pid>/status`, in KiB.
fn high_water_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Why a child stopped, from how it ended.
fn stopped(status: std::process::ExitStatus, killed_at_deadline: bool, limits: &Limits, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    if killed_at_deadline {
        return "reading it took longer than the time it is given".into();
    }
    let memory = format!("reading it needed more than the {} MB it is given", limits.memory_mb);
    match status.signal() {
        Some(24) | Some(9) => format!("reading it took more than the {} s of CPU it is given", limits.cpu_s),
        Some(11) | Some(7) => "reading it went deeper than the reader's stack allows".into(),
        Some(6) if stderr.contains("overflowed its stack") => {
            "reading it went deeper than the reader's stack allows".into()
        }
        // An allocation the address-space limit refused aborts the process (Rust's allocation error handler).
        Some(6) if stderr.contains("memory allocation") => memory,
        Some(6) => "the reader stopped on it (aborted)".into(),
        Some(other) => format!("the reader stopped on it (signal {other})"),
        None if stderr.contains("memory allocation") => memory,
        None => format!("the reader stopped on it (exit status {})", status.code().unwrap_or(-1)),
    }
}

/// Runs `registration`'s isolated work on `input` in a child, waiting until `until` at most. `Err` only when no
/// child could be started at all (the function's own fault: 500).
pub async fn run(
    registration_binary: &str,
    limits: Limits,
    input: Vec<u8>,
    until: Instant,
) -> Result<Isolation, ApiError> {
    let binary = registration_binary.to_owned();
    tokio::task::spawn_blocking(move || run_blocking(&binary, &limits, &input, until))
        .await
        .map_err(ApiError::internal)?
}

fn run_blocking(binary: &str, limits: &Limits, input: &[u8], until: Instant) -> Result<Isolation, ApiError> {
    let exe = match std::env::var_os(EXE_VARIABLE) {
        Some(exe) => std::path::PathBuf::from(exe),
        None => std::env::current_exe().map_err(ApiError::internal)?,
    };
    let mut child = Command::new(&exe)
        .env(CHILD_VARIABLE, binary)
        // One malloc arena: each arena reserves 64 MiB of address space, which the child's limit counts.
        .env("MALLOC_ARENA_MAX", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ApiError::internal(format!("cannot start {} for isolated work: {e}", exe.display())))?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return Err(ApiError::internal("the child's pipes are missing"));
    };
    let input = input.to_vec();
    // The pipes are drained on threads of their own, so neither side waits on a full pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let errors = std::thread::spawn(move || {
        let mut err = Vec::new();
        let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut err);
        String::from_utf8_lossy(&err).into_owned()
    });
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= until => {
                let _ = child.kill();
                killed = true;
                break child.wait().map_err(ApiError::internal)?;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(ApiError::internal(e)),
        }
    };
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    let stderr = errors.join().unwrap_or_default();
    if !status.success() || killed || out.len() < 17 {
        return Ok(Isolation::Stopped { reason: stopped(status, killed, limits, &stderr) });
    }
    let word = |at: usize| u64::from_le_bytes(out[at..at + 8].try_into().unwrap_or_default());
    let usage = Usage { peak_kib: word(0), cpu_us: word(8) };
    Ok(match out[16] {
        b'O' => Isolation::Done { output: out[17..].to_vec(), usage },
        b'R' => Isolation::Refused { reason: String::from_utf8_lossy(&out[17..]).into_owned(), usage },
        _ => Isolation::Stopped { reason: "the reader answered something unreadable".into() },
    })
}
