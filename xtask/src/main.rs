//! The workspace's task runner (`cargo xtask <task>`): the glue between the product's libraries and the outside
//! world. Each task is a short, readable sequence of steps over a library (synth and check-iam over `stacks`, the
//! OpenAPI document over `route_registry`, codegen over the catalog) that says what it does and how long it took;
//! the tasks that need processes (cargo, terraform, PostgreSQL, postrust, moto, checkov, schemathesis, rustfmt)
//! start them here, and only here. `cargo xtask --help` lists the tasks; `ci` is the test command.

#![allow(clippy::print_stdout, reason = "a command-line tool: its output is the product")]
#![allow(
    rustdoc::invalid_html_tags,
    reason = "the tasks' doc comments are their --help text, where <env> and <binary> are placeholders, not HTML"
)]

mod aws;
mod bench;
mod beside;
mod bootstrap;
mod build;
mod check_iam;
mod ci;
mod codegen;
mod contract;
mod cost;
mod db;
mod deploy;
mod deploy_local;
mod dev;
mod devtoken;
mod diagram;
mod faults;
mod fuzz;
mod migration_compat;
mod migration_lint;
mod new_module;
mod openapi;
mod preview;
mod python_seed;
mod services;
mod supabase;
mod synth;
mod terraform;
#[cfg(test)]
mod tidy;
mod tiers;
mod tools;
mod util;
mod workflows;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Tasks for the career platform workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    #[command(about = xtask_synth::ABOUT, long_about = xtask_synth::LONG_ABOUT)]
    Synth(synth::SynthTask),
    /// Create an environment's Terraform state bucket (versioned, encrypted, TLS-only) and move the bootstrap
    /// root's own state into it; running it again changes nothing.
    Bootstrap(bootstrap::Args),
    /// Build every Lambda for provided.al2023 on arm64 (cargo-lambda) into reproducible
    /// target/lambda/<binary>/bootstrap.zip; prints sizes and fails over the size budget.
    Build(build::Args),
    /// Deploy this commit to an environment: build, a saved plan with its summary (refusing data loss), migrations,
    /// apply, one CodeDeploy deployment per changed function (gradual where the environment says, rolled back on an
    /// alarm), a record; `deploy status <env>` prints the record.
    Deploy(deploy::Args),
    /// The deploy rehearsal: bootstrap on a local AWS emulator (moto), apply dev with its S3 backend there, require
    /// no drift, verify against the catalog, destroy.
    DeployLocal(deploy_local::Args),
    /// Previews: a whole platform per change, from dev's settings under a name (`pr-7`) in dev's account, with its
    /// own database branch; `up`, `down` (nothing left, listed), `list`, `sweep` (the expired ones only).
    Preview(preview::Args),
    /// Least-privilege rules over the synthesized build/<env>/main.tf.json (all four by default), and with
    /// --cross-check checkov's whole check set over plan documents of the same stacks; any finding fails.
    CheckIam(check_iam::Args),
    /// Run `terraform init -backend=false` and `terraform validate` on the synthesized environments.
    ///
    /// Uses an offline provider mirror when one is found (TF_PROVIDER_MIRROR, then /opt/tf-plugins,
    /// ~/.terraform.d/plugins, /usr/share/terraform/plugins, /usr/local/share/terraform/plugins) and a normal
    /// `terraform init` otherwise, with the committed provider lock files.
    Validate(terraform::ValidateArgs),
    /// What an environment costs a month, from the model and a traffic profile (a table, or --json).
    Cost(cost::Args),
    /// Write build/<env>/diagram.md: a Mermaid picture of what synth emits for the environment.
    Diagram(diagram::Args),
    /// Regenerate the files derived from the module catalog (the catalog's module list, the all-modules crate, one
    /// binary per function); --check fails when one is stale.
    Codegen(codegen::Args),
    /// Database migrations: `db migrate` applies pending files of migrations/ (and --env's settings), `db status`
    /// lists them.
    Db(db::Args),
    /// Scaffold a CORA module from the module template: catalog entry, Lambda crate with tests, RLS migration.
    NewModule(new_module::Args),
    /// Prove the scaffold: new-module into a scratch copy, then every check the module can change, there (the test
    /// command also plans its resources in the deploy rehearsal).
    ScaffoldCheck,
    /// Run the whole backend locally: PostgreSQL, migrations, demo data, PostgREST, the Okta, SQS and KMS stand-ins,
    /// and the API with every trigger (queues, schedules) on 127.0.0.1.
    Dev(dev::Args),
    /// Run a scheduled function of the running `cargo xtask dev` now (its event, retries and dead-letter queue as in AWS)
    DevRun(dev::RunArgs),
    /// Fuzz the local API from its OpenAPI document with schemathesis (bounded): no 5xx, every answer documented.
    Fuzz(fuzz::Args),
    /// Write build/openapi.json from the module catalog, and validate it (OpenAPI 3.1).
    Openapi,
    /// Check the pipeline's workflow files (.github/workflows) with actionlint and the pipeline's rules (every command
    /// an xtask command, every job that gets AWS credentials in a GitHub environment).
    Workflows,
    /// Check every exchange the tests had with the Okta stand-in against Okta's published Users API and token endpoint.
    OktaContract,
    /// Check every exchange the Credly client's tests had with the Credly stand-in against the document written from
    /// Credly's published pages (xtask/contracts/credly-api.yaml); run after `cargo test -p module-runtime --test credly`.
    CredlyContract,
    /// Print a JWT from the local development issuer (for `curl` against the local API; never trusted by stg/prd).
    DevToken(devtoken::Args),
    /// Both test tiers with PostgreSQL and PostgREST running (as in CI): the hermetic one (what a bare `cargo test
    /// --workspace` runs) and the service one (the targets declared `test = false`). Arguments after `--` run
    /// `cargo test` with them instead, e.g. `-- -p org-module --test database`.
    Test(ci::TestArgs),
    /// Install every tool the test command uses that is missing (postrust, the Python tools, cargo-lambda and zig,
    /// the arm64 target); the test command runs this beside its first steps.
    Tools,
    /// Benchmarks; prints figures to put in BENCHMARKS.md.
    Bench(bench::Args),
    /// The full test command CI runs (README): fmt, generated files, clippy, the hermetic tests, cargo doc (those
    /// five are `--quick`), then the service tests, migrations, goldens, check-iam with checkov, the Okta contract,
    /// OpenAPI, fuzzing, terraform validate, the fault run, the scaffold check, the Lambda packages and the deploy
    /// rehearsal, with every step's time at the end. Installs what is missing and stops what it started.
    Ci(ci::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(e) = built_here() {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    let result: Result<()> = match cli.task {
        Task::Synth(args) => synth::run(&args),
        Task::Bootstrap(args) => bootstrap::run(&args),
        Task::Cost(args) => cost::run(&args),
        Task::Diagram(args) => diagram::run(&args),
        Task::Codegen(args) => codegen::run(&args),
        Task::OktaContract => contract::run(),
        Task::CredlyContract => contract::credly(),
        Task::Build(args) => build::run(&args),
        Task::CheckIam(args) => check_iam::run(&args),
        Task::Deploy(args) => deploy::run(&args),
        Task::DeployLocal(args) => deploy_local::run(&args),
        Task::Preview(args) => preview::run(&args),
        Task::Validate(args) => terraform::validate(&args),
        Task::Db(args) => db::run(&args),
        Task::Dev(args) => dev::run(&args),
        Task::DevRun(args) => dev::run_now(&args),
        Task::NewModule(args) => new_module::run(&args),
        Task::ScaffoldCheck => new_module::check().map(drop),
        Task::Tools => tools::run(),
        Task::Openapi => openapi::run(),
        Task::Workflows => workflows::run(),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::DevToken(args) => devtoken::run(&args),
        Task::Test(args) => ci::test(&args),
        Task::Bench(args) => bench::run(&args),
        Task::Ci(args) => ci::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root, found at run time from the current directory (`xtask_synth::workspace_root`).
fn workspace_root() -> PathBuf {
    xtask_synth::workspace_root()
}

/// Refuses to run a binary compiled from another checkout of this workspace (`xtask_synth::built_here`).
fn built_here() -> Result<()> {
    xtask_synth::built_here(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("..")))
}

/// Where cargo puts build output for this workspace: `CARGO_TARGET_DIR` when set, else `<root>/target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

#[cfg(test)]
mod cli_tests {
    use clap::CommandFactory;

    /// clap's own consistency checks over every task's options (duplicate names or groups, conflicts with unknown
    /// arguments), which otherwise run only when a debug build parses that task's command line.
    #[test]
    fn every_tasks_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
