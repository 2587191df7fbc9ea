//! What the benchmarks measure with: order statistics of durations, and a process's CPU time, peak memory and
//! page faults from `/proc`.

use std::time::Duration;

/// Order statistics of durations.
pub struct Spread {
    sorted: Vec<Duration>,
}

impl Spread {
    pub fn new(mut samples: Vec<Duration>) -> Spread {
        samples.sort();
        Spread { sorted: samples }
    }

    pub fn pct(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        self.sorted[((self.sorted.len() - 1) as f64 * p).round() as usize]
    }

    /// `median 4.12 ms (p10 3.9, p90 4.6)`.
    pub fn show(&self) -> String {
        format!("median {} (p10 {}, p90 {})", ms(self.pct(0.5)), ms(self.pct(0.1)), ms(self.pct(0.9)))
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A process's peak resident set size (VmHWM), in KiB; `std::process::id()` for this one.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a live process has used (user + system, all its threads), from the scheduler's nanosecond counters
/// (`/proc/<pid>/task/*/schedstat`), which are exact where `/proc/<pid>/stat`'s ticks are 10 ms coarse.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Minor page faults of a live process so far (all its threads), from `/proc/<pid>/stat`: at a cold start, mostly
/// first touches of the binary's code and data, each a trap into the kernel.
pub fn minor_faults(pid: u32) -> Option<u64> {
    minflt_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn minflt_of(stat: &str) -> Option<u64> {
    // After `pid (comm) ` (a command name may hold spaces and parentheses): state, ppid, pgrp, session, tty_nr,
    // tpgid, flags, minflt.
    stat.rsplit_once(") ")?.1.split_whitespace().nth(7)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------------- synth

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_faults_are_read_after_the_command_name_whatever_it_holds() {
        let stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 377 0 0 0 12 3 0 0 20 0 1 0 99 1000 200";
        assert_eq!(minflt_of(stat), Some(377));
        assert_eq!(minflt_of("4242 (cut short"), None);
        assert!(minor_faults(std::process::id()).is_some_and(|n| n > 0));
    }
}
