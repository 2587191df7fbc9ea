//! The isolated child as the kernel holds it: started with nothing of its parent's environment, it may start a
//! thread but is stopped, with a reason, when it opens a socket or a file, starts a program or a process, or goes
//! past its memory, its CPU time or its file size (0). The work is `isolate-probe`, a fixture that tries each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::time::{Duration, Instant};

use module_runtime::isolate::{self, Isolation, Limits};

const PROBE: &str = "isolate-probe";
const LIMITS: Limits = Limits { memory_mb: 128, cpu_s: 1, stack_mb: 8 };

async fn attempt(what: &str) -> Isolation {
    std::env::set_var(isolate::EXE_VARIABLE, env!("CARGO_BIN_EXE_isolate-probe"));
    let started = Instant::now();
    let isolation =
        isolate::run(PROBE, LIMITS, what.as_bytes().to_vec(), Instant::now() + Duration::from_secs(15)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "{what}: the child outlived its deadline");
    isolation
}

fn said(what: &str, isolation: &Isolation) -> String {
    match isolation {
        Isolation::Done { output, usage } => {
            assert!(usage.filtered, "{what}: the child ran without its filter");
            String::from_utf8(output.clone()).unwrap()
        }
        other => panic!("{what}: {other:?}"),
    }
}

#[tokio::test]
async fn the_child_gets_nothing_of_its_parents_environment() {
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "a-secret-the-child-must-not-see");
    let env = said("env", &attempt("env").await);
    let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    names.sort_unstable();
    assert_eq!(names, ["MALLOC_ARENA_MAX", isolate::CHILD_VARIABLE], "{env}");
}

#[tokio::test]
async fn the_child_may_read_its_input_and_start_a_thread() {
    assert_eq!(said("echo", &attempt("echo").await), "echo");
    assert_eq!(said("thread", &attempt("thread").await), "a thread ran");
}

#[tokio::test]
async fn a_socket_a_file_a_program_or_a_process_stops_the_child() {
    for what in ["socket", "udp", "open", "create", "spawn", "exec"] {
        match attempt(what).await {
            Isolation::Stopped { reason } => {
                assert!(reason.contains("may not do"), "{what}: {reason}");
            }
            other => panic!("{what} was not stopped: {other:?}"),
        }
    }
    assert!(!std::path::Path::new("/tmp/isolate-probe-was-here").exists(), "the child created a file");
}

#[tokio::test]
async fn the_memory_limit_stops_the_child() {
    match attempt("memory").await {
        Isolation::Stopped { reason } => assert!(reason.contains("more than the 128 MB"), "{reason}"),
        other => panic!("not stopped: {other:?}"),
    }
}

#[tokio::test]
async fn the_cpu_limit_stops_the_child() {
    let started = Instant::now();
    match attempt("cpu").await {
        Isolation::Stopped { reason } => assert!(reason.contains("more than the 1 s of CPU"), "{reason}"),
        other => panic!("not stopped: {other:?}"),
    }
    // The limit, not the deadline (15 s) nor the probe's own bound (20 s), stopped it.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// The file-size limit (0) where a child could reach it: a descriptor it inherited on a regular file. The parent
/// gives a child only pipes, so this test starts the probe itself, its stdout a file.
#[test]
fn the_file_size_limit_stops_a_write_to_a_file() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let path = std::env::temp_dir().join(format!("isolate-probe-out-{}", std::process::id()));
    let out = std::fs::File::create(&path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_isolate-probe"))
        .env_clear()
        .env(isolate::CHILD_VARIABLE, PROBE)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"write").unwrap();
    let status = child.wait().unwrap();
    let written = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(status.signal(), Some(25), "SIGXFSZ expected: {status:?}");
    assert_eq!(written, 0);
}
