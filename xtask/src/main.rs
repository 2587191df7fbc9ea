//! The workspace's task runner (`cargo xtask <task>`): synthesizes the Terraform roots, validates them with
//! Terraform, benchmarks synth, and runs the test command CI uses.
//!
//! Only xtask shells out (to cargo and terraform); the libraries it drives stay pure. It is not a build system:
//! each task is a short, readable sequence of steps that says what it does and how long it took.

#![allow(clippy::print_stdout, reason = "a command-line tool: its output is the product")]

mod bench;
mod build;
mod check_iam;
mod ci;
mod db;
mod deploy_local;
mod dev;
mod devtoken;
mod fuzz;
mod new_module;
mod openapi;
mod runtime_api;
mod services;
mod synth;
mod terraform;
mod util;

use std::path::PathBuf;

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
    /// Write build/<env>/main.tf.json for one environment or all four.
    ///
    /// Each folder is a complete Terraform root module: `terraform -chdir=build/dev init` then `plan`/`apply`.
    Synth(synth::Args),
    /// Build every Lambda for provided.al2023 on arm64 (cargo-lambda) into reproducible
    /// target/lambda/<binary>/bootstrap.zip; prints sizes and fails over the size budget.
    Build(build::Args),
    /// The deploy rehearsal: apply dev to a local AWS emulator (moto), require no drift, verify, destroy.
    DeployLocal(deploy_local::Args),
    /// Least-privilege rules over the synthesized build/<env>/main.tf.json (all four by default); any finding fails.
    CheckIam(check_iam::Args),
    /// Run `terraform init -backend=false` and `terraform validate` on the synthesized environments.
    ///
    /// Uses an offline provider mirror when one is found (TF_PROVIDER_MIRROR, then /opt/tf-plugins,
    /// ~/.terraform.d/plugins, /usr/share/terraform/plugins, /usr/local/share/terraform/plugins) and a normal
    /// `terraform init` otherwise.
    Validate(terraform::ValidateArgs),
    /// Database migrations: `db migrate` applies pending files of migrations/, `db status` lists them.
    Db(db::Args),
    /// Scaffold a CORA module: registry routes, a Lambda crate with tests, its stack spec, an RLS migration.
    NewModule(new_module::Args),
    /// Prove the scaffold: new-module into a temporary copy, then build, test, synth, check-iam, validate, migrate.
    ScaffoldCheck,
    /// Run the whole backend locally: PostgreSQL, migrations, demo data, PostgREST and the API on 127.0.0.1.
    Dev(dev::Args),
    /// Fuzz the local API from its OpenAPI document with schemathesis (bounded): no 5xx, every answer documented.
    Fuzz(fuzz::Args),
    /// Write build/openapi.json from the route registry and types, and validate it (OpenAPI 3.1).
    Openapi,
    /// Print a JWT from the local development issuer (for `curl` against the local API; never trusted by stg/prd).
    DevToken(devtoken::Args),
    /// `cargo test` with PostgreSQL and PostgREST running (as in CI); arguments after `--` go to cargo test.
    Test(ci::TestArgs),
    /// Benchmarks; prints figures to put in BENCHMARKS.md.
    Bench(bench::Args),
    /// The full test command CI runs: fmt, clippy, tests against real PostgreSQL + PostgREST, goldens, check-iam with
    /// the checkov cross-check, terraform validate, the Lambda packages and the deploy rehearsal. Installs what is
    /// missing (PostgreSQL, postrust, cargo-lambda, checkov, moto) and stops everything it started.
    Ci(ci::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.task {
        Task::Synth(args) => synth::run(&args),
        Task::Build(args) => build::run(&args),
        Task::CheckIam(args) => check_iam::run(&args),
        Task::DeployLocal(args) => deploy_local::run(&args),
        Task::Validate(args) => terraform::validate(&args),
        Task::Db(args) => db::run(&args),
        Task::Dev(args) => dev::run(&args),
        Task::NewModule(args) => new_module::run(&args),
        Task::ScaffoldCheck => new_module::check(),
        Task::Openapi => openapi::run(),
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

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(PathBuf::from).unwrap_or(manifest_dir)
}
