//! `cargo xtask tools`: installs every tool the test command uses that a fresh machine lacks, each pinned, each
//! once: the PostgREST-compatible server (`cargo install`, the longest), the Python tools in their own virtualenvs
//! under `target/tools/` (checkov, openapi-core, openapi-spec-validator, schemathesis, squawk, actionlint, moto), cargo-lambda with its
//! zig and the arm64 Rust target. The test command runs it beside its first steps, so the installs overlap the
//! builds; each tool's own task would install it on first use anyway.

use anyhow::Result;

use crate::util::step;

pub fn run() -> Result<()> {
    step("postrust (PostgREST-compatible server)", crate::services::postrust_bin)?;
    step("checkov", crate::check_iam::checkov)?;
    step("openapi-core (the Okta contract)", crate::contract::openapi_core)?;
    step("openapi-spec-validator", crate::openapi::validator)?;
    step("schemathesis", crate::fuzz::schemathesis)?;
    step("squawk (the migration lint)", crate::migration_lint::squawk)?;
    step("actionlint (the workflow files)", crate::workflows::actionlint)?;
    step("moto (the AWS emulator)", crate::deploy_local::moto_bin)?;
    step("cargo-lambda, zig and the arm64 target", crate::build::toolchain)?;
    println!("tools: every tool the test command uses is installed");
    Ok(())
}
