//! The binary `cargo xtask` runs (the alias in `.cargo/config.toml`): `synth` runs here, in a binary built from the
//! stacks alone; any other task, `--help` and `--version` go to the task runner, built by `cargo build --workspace
//! --bin xtask` (the workspace's feature set, shared with the tests' builds), which this process becomes (on Unix it
//! is replaced, so signals and the exit status are the task's own).

#![allow(clippy::print_stdout, reason = "a command-line tool: its output is the product")]

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

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

/// Builds the task runner (`cargo build --workspace --bin xtask`, next to this binary) and becomes it (Unix) or runs
/// it and exits with its status.
fn hand_over(args: &[OsString]) -> ExitCode {
    let target = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()));
    let Some(target) = target else {
        eprintln!("error: cannot tell where this binary lives (its target directory); run `cargo xtask` again");
        return ExitCode::FAILURE;
    };
    let mut cmd = match xtask_synth::task_runner(None, &target) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    cmd.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        eprintln!("error: cannot run {cmd:?}: {e}. Build it with `cargo build --workspace --bin xtask`");
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: cannot run {cmd:?}: {e}. Build it with `cargo build --workspace --bin xtask`");
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
    fn synth_parses_here_with_the_task_runners_options() {
        let s = Synth::try_parse_from(["cargo xtask synth", "dev", "--accept-replacement", "aws_x.y"]).unwrap();
        assert_eq!(s.args.env, Some(stacks::Env::Dev));
        assert_eq!(s.args.accept_replacement, ["aws_x.y"]);
        assert!(Synth::try_parse_from(["cargo xtask synth", "dev", "--all"]).is_err(), "one environment or --all");
        assert!(Synth::try_parse_from(["cargo xtask synth", "qa"]).is_err(), "an unknown environment is refused");
    }
}
