//! The binary `cargo xtask` runs (the alias in `.cargo/config.toml`): `synth` runs here, in a binary built from the
//! stacks alone; any other task, `--help` and `--version` go to the task runner, `cargo run --package xtask`, which
//! this process becomes (on Unix it is replaced, so signals and the exit status are the task's own).

#![allow(clippy::print_stdout, reason = "a command-line tool: its output is the product")]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;

/// `cargo xtask synth …`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask synth", bin_name = "cargo xtask synth", version, about = xtask_synth::ABOUT,
    long_about = xtask_synth::LONG_ABOUT)]
struct Synth {
    #[command(flatten)]
    args: xtask_synth::Args,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_none_or(|a| a != "synth") {
        return hand_over(&args);
    }
    let synth = Synth::parse_from(std::env::args_os().skip(1));
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match xtask_synth::built_here(&built).and_then(|()| xtask_synth::run(&synth.args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The task runner's command line for these arguments: `cargo run --quiet --package xtask -- <args>`, with the
/// cargo that started this binary.
fn task_runner(args: &[OsString]) -> Command {
    let mut cmd = xtask_synth::cargo();
    cmd.args(["run", "--quiet", "--package", "xtask", "--"]).args(args);
    cmd
}

/// Becomes the task runner (Unix) or runs it and exits with its status.
fn hand_over(args: &[OsString]) -> ExitCode {
    let mut cmd = task_runner(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        eprintln!("error: cannot run {cmd:?}: {e}. Is cargo on PATH?");
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: cannot run {cmd:?}: {e}. Is cargo on PATH?");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Synth::command().debug_assert();
    }

    #[test]
    fn every_task_but_synth_goes_to_the_task_runner_with_its_arguments_unchanged() {
        let args: Vec<OsString> = ["check-iam", "--cross-check"].map(OsString::from).to_vec();
        let cmd = task_runner(&args);
        let got: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(got, ["run", "--quiet", "--package", "xtask", "--", "check-iam", "--cross-check"]);
    }

    #[test]
    fn synth_parses_here_with_the_task_runners_options() {
        let s = Synth::try_parse_from(["cargo xtask synth", "dev", "--accept-replacement", "aws_x.y"]).unwrap();
        assert_eq!(s.args.env, Some(stacks::Env::Dev));
        assert_eq!(s.args.accept_replacement, ["aws_x.y"]);
        assert!(Synth::try_parse_from(["cargo xtask synth", "dev", "--all"]).is_err(), "one environment or --all");
        assert!(Synth::try_parse_from(["cargo xtask synth", "qa"]).is_err(), "an unknown environment is refused");
    }
}
