//! Work on hostile input in a child process with hard limits: a function that reads what a stranger uploaded (a
//! PDF built to recurse forever, a zip that expands to gigabytes) cannot take its own process down with it. The
//! child is the function's own executable, started again with an empty environment (nothing of the function's:
//! no credentials) but [`CHILD_VARIABLE`] naming the function. Before it reads a byte it lowers its limits (address
//! space, CPU seconds, no file written, no core dump, no new file descriptor: no file opened, no socket, no pipe);
//! then it takes away what a reader never needs with a seccomp filter ([`forbid`]: a network socket, opening a file,
//! starting a program or a process, each kills the child), runs the registration's [`Isolated::run`] on a thread with
//! a stack of the stated size, and writes the outcome to stdout. The parent waits until its deadline at most, then
//! kills it. Where the kernel refuses a filter (it needs `no_new_privs`, which some sandboxes deny), the child goes on
//! with its limits and says so ([`Usage::filtered`]); the processor logs it.
//!
//! Whatever happens in the child, the parent gets an [`Isolation`]: the output, the work's own refusal, or why the
//! child stopped (killed at the deadline, out of memory, out of CPU, a crash), so the caller can record an outcome
//! within the function's time. A Lambda allows child processes; one reading a page of text costs 2.3 ms from spawn
//! to answer (BENCHMARKS.md, "Résumé processing").
//!
//! The child's protocol: stdin is the input; stdout is the child's peak resident memory in KiB and its CPU time in
//! microseconds (8 little-endian bytes each), `F` if its filter held or `U` if the kernel refused it, then `O` and
//! the output, or `R` and the refusal's reason (UTF-8).

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
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
    /// Whether the seccomp filter held the child ([`forbid`]); its limits hold either way.
    pub filtered: bool,
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
    // Opened before the limits: the peak is read from it after the work, when nothing may be opened any more.
    let mut status = match std::fs::File::open("/proc/self/status") {
        Ok(status) => status,
        Err(e) => {
            eprintln!("cannot open the child's own status: {e}");
            return Some(2);
        }
    };
    if let Err(e) = lower_limits(&isolated.limits, status.as_raw_fd()) {
        eprintln!("cannot set the child's limits: {e}");
        return Some(2);
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read the input: {e}");
        return Some(2);
    }
    let filtered = match forbid() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("the kernel refused the child's seccomp filter ({e}); its limits still hold");
            false
        }
    };
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
    let mut usage = usage_from(&mut status);
    usage.filtered = filtered;
    let mut out = std::io::stdout().lock();
    let (tag, body) = match &outcome {
        Ok(output) => (b"O", output.as_slice()),
        Err(reason) => (b"R", reason.as_bytes()),
    };
    let written = out
        .write_all(&usage.peak_kib.to_le_bytes())
        .and(out.write_all(&usage.cpu_us.to_le_bytes()))
        .and(out.write_all(if filtered { b"F" } else { b"U" }))
        .and(out.write_all(tag))
        .and(out.write_all(body));
    Some(if written.and(out.flush()).is_ok() { 0 } else { 4 })
}

/// The child's limits. `highest_fd` is the highest descriptor it holds (its own status): no new one can be made.
fn lower_limits(limits: &Limits, highest_fd: i32) -> nix::Result<()> {
    use nix::sys::resource::{setrlimit, Resource};
    let memory = limits.memory_mb * 1024 * 1024;
    setrlimit(Resource::RLIMIT_AS, memory, memory)?;
    // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
    setrlimit(Resource::RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1)?;
    setrlimit(Resource::RLIMIT_FSIZE, 0, 0)?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    // A new descriptor takes the lowest free number, and every number up to `highest_fd` is taken (stdin, stdout,
    // stderr, the status): so no file, socket or pipe can be made, filter or not.
    let fds = u64::try_from(highest_fd).unwrap_or(0) + 1;
    setrlimit(Resource::RLIMIT_NOFILE, fds, fds)?;
    Ok(())
}

/// The system calls a reader never makes, refused for the rest of the child's life (every thread, and nothing it
/// could start): network sockets, opening or creating a file, running a program, starting a process (a thread is
/// allowed: `clone` with `CLONE_THREAD`), io_uring (which opens files by itself), tracing another process. Each
/// kills the child (`SIGSYS`), so the parent says what it tried. `clone3` answers "not implemented" instead, so the
/// C library starts threads with `clone`, where the flags can be checked.
pub fn forbid() -> Result<(), String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    let arch: seccompiler::TargetArch = std::env::consts::ARCH.try_into().map_err(|e| format!("{e:?}"))?;
    let program = |rules: Vec<(i64, Vec<SeccompRule>)>, on_match: SeccompAction| -> Result<BpfProgram, String> {
        let filter = SeccompFilter::new(rules.into_iter().collect(), SeccompAction::Allow, on_match, arch)
            .map_err(|e| e.to_string())?;
        filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
    };
    let mut killed: Vec<(i64, Vec<SeccompRule>)> = FORBIDDEN.iter().map(|&n| (n, Vec::new())).collect();
    // `clone` without CLONE_THREAD is a new process (fork, vfork, posix_spawn); with it, a thread.
    let new_process =
        SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64), 0)
            .map_err(|e| e.to_string())?;
    killed.push((libc::SYS_clone, vec![SeccompRule::new(vec![new_process]).map_err(|e| e.to_string())?]));
    let not_implemented = program(vec![(libc::SYS_clone3, Vec::new())], SeccompAction::Errno(libc::ENOSYS as u32))?;
    let kill = program(killed, SeccompAction::KillProcess)?;
    seccompiler::apply_filter(&not_implemented).map_err(|e| e.to_string())?;
    seccompiler::apply_filter(&kill).map_err(|e| e.to_string())
}

/// What [`forbid`] kills the child for, besides a `clone` that makes a process.
const FORBIDDEN: &[i64] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_io_uring_setup,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_open,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_creat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_vfork,
];

/// This process's peak resident memory in KiB and its CPU time so far.
///
/// The peak is the high-water mark of this process's own address space (`VmHWM`), not `ru_maxrss`: Linux carries
/// `ru_maxrss` across `execve`, and a child spawned with `vfork` semantics inherits its parent's peak through it,
/// so every child would report at least the parent's largest moment.
pub fn own_usage() -> Usage {
    match std::fs::File::open("/proc/self/status") {
        Ok(mut status) => usage_from(&mut status),
        Err(_) => usage_from(&mut std::io::empty()),
    }
}

/// [`own_usage`] from this process's status, already open (read again from its start: the kernel writes it anew).
fn usage_from(status: &mut (impl Read + Seek)) -> Usage {
    let Ok(u) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) else {
        return Usage::default();
    };
    let us = |t: nix::sys::time::TimeVal| (t.tv_sec().max(0) as u64) * 1_000_000 + t.tv_usec().max(0) as u64;
    let mut text = String::new();
    let read = status.rewind().and_then(|()| status.read_to_string(&mut text));
    let peak_kib = read.ok().and_then(|_| high_water_kib(&text)).unwrap_or(u.max_rss().max(0) as u64);
    Usage { peak_kib, cpu_us: us(u.user_time()) + us(u.system_time()), filtered: false }
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
        Some(31) => "the reader tried what a reader may not do (a network connection, a file, another program)".into(),
        Some(25) => "the reader tried to write a file".into(),
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
        // Nothing of the function's environment (in AWS, its temporary credentials among it).
        .env_clear()
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
    if !status.success() || killed || out.len() < 18 {
        return Ok(Isolation::Stopped { reason: stopped(status, killed, limits, &stderr) });
    }
    let word = |at: usize| u64::from_le_bytes(out[at..at + 8].try_into().unwrap_or_default());
    let usage = Usage { peak_kib: word(0), cpu_us: word(8), filtered: out[16] == b'F' };
    Ok(match out[17] {
        b'O' => Isolation::Done { output: out[18..].to_vec(), usage },
        b'R' => Isolation::Refused { reason: String::from_utf8_lossy(&out[18..]).into_owned(), usage },
        _ => Isolation::Stopped { reason: "the reader answered something unreadable".into() },
    })
}
