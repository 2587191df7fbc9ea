//! `cargo xtask openapi`: writes `build/openapi.json` (from the route registry and the request/response types, via
//! `local-api --openapi`) and validates it against the OpenAPI 3.1 schema with openapi-spec-validator.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, python_tool, step};
use crate::workspace_root;

const VALIDATOR: &str = "openapi-spec-validator==0.9.0";

pub fn run() -> Result<()> {
    let root = workspace_root();
    let out = step("generate build/openapi.json", || {
        let out = cargo()
            .current_dir(&root)
            .args(["run", "--quiet", "-p", "local-api", "--", "--openapi"])
            .output()
            .context("cannot run local-api --openapi")?;
        if !out.status.success() {
            bail!("local-api --openapi failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(out.stdout)
    })?;
    let path = root.join("build/openapi.json");
    std::fs::write(&path, &out)?;
    let python = python_tool("openapi", VALIDATOR, "python")?;
    step("validate against the OpenAPI 3.1 schema (openapi-spec-validator)", || {
        let script = "import json,sys\nfrom openapi_spec_validator import validate\nfrom openapi_spec_validator import OpenAPIV31SpecValidator\nvalidate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\nprint('valid OpenAPI 3.1')";
        exec(Command::new(&python).args(["-c", script]).arg(&path))
    })?;
    println!("wrote build/openapi.json");
    Ok(())
}
