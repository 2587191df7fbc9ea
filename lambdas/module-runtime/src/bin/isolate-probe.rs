//! A test fixture, never deployed: a host of isolated work that tries, on request, each thing an isolated child may
//! not do or has too little of (`tests/isolate.rs` starts it as a function's binary is started). The input names
//! the attempt; the output is what happened, when the child lives to say it.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use module_runtime::isolate::{self, Isolated, Limits};

/// Small limits, so each is reached in a moment.
pub const LIMITS: Limits = Limits { memory_mb: 128, cpu_s: 1, stack_mb: 8 };

/// The one piece of isolated work this binary hosts.
pub const PROBE: Isolated = Isolated { run: attempt, limits: LIMITS };

/// The function name the probe answers to.
pub const NAME: &str = "isolate-probe";

fn attempt(input: &[u8]) -> Result<Vec<u8>, String> {
    let what = String::from_utf8_lossy(input);
    let said = match what.trim() {
        "echo" => "echo".to_owned(),
        "env" => std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"),
        "thread" => std::thread::spawn(|| "a thread ran".to_owned()).join().map_err(|_| "the thread panicked")?,
        "socket" => {
            format!("{:?}", std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], 9).into(), Duration::from_secs(1)))
        }
        "udp" => format!("{:?}", std::net::UdpSocket::bind("127.0.0.1:0")),
        "open" => format!("{:?}", std::fs::File::open("/etc/hostname")),
        "create" => format!("{:?}", std::fs::File::create("/tmp/isolate-probe-was-here")),
        "spawn" => format!("{:?}", std::process::Command::new("/bin/true").status()),
        "exec" => format!("{:?}", std::process::Command::new("/bin/true").exec()),
        "memory" => {
            // Twice the address space the child has, touched page by page.
            let mut held: Vec<Vec<u8>> = Vec::new();
            for _ in 0..(2 * LIMITS.memory_mb) {
                held.push(vec![1u8; 1024 * 1024]);
            }
            format!("held {} MiB", held.len())
        }
        "cpu" => {
            // Bounded by wall time too: a child that outlives this loop failed to be stopped.
            let started = Instant::now();
            let mut x = 0u64;
            while started.elapsed() < Duration::from_secs(20) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            format!("spun to {x}")
        }
        "write" => {
            // Writes to stdout: a regular file when the test makes it one, where the file-size limit stops it.
            let mut out = std::io::stdout().lock();
            let wrote = out.write_all(&[b'x'; 4096]).and_then(|()| out.flush());
            format!("{wrote:?}")
        }
        other => return Err(format!("no such attempt: {other}")),
    };
    Ok(said.into_bytes())
}

fn main() {
    let code = isolate::child(|name| (name == NAME).then_some(&PROBE));
    std::process::exit(i32::from(code.unwrap_or_else(|| {
        eprintln!(
            "isolate-probe is a test fixture: it runs only as an isolated child ({}={NAME})",
            isolate::CHILD_VARIABLE
        );
        2
    })));
}
