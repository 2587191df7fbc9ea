//! `cargo xtask openapi`: writes `build/openapi.json` (from the route registry and the request/response types,
//! `route_registry::openapi`) and validates it against the OpenAPI 3.1 schema with openapi-spec-validator.

use std::process::Command;

use anyhow::Result;

use crate::util::{exec, python_tool, step};
use crate::workspace_root;

const VALIDATOR: &str = "openapi-spec-validator==0.9.0";

/// The validator, in its own virtualenv.
pub fn validator() -> Result<std::path::PathBuf> {
    python_tool("openapi", VALIDATOR, "python")
}

pub fn run() -> Result<()> {
    let root = workspace_root();
    let out = step("generate build/openapi.json", || {
        Ok(format!(
            "{:#}\n",
            route_registry::openapi::document(&format!("http://127.0.0.1:{}", crate::dev::DEFAULT_PORT))
        ))
    })?;
    let path = root.join("build/openapi.json");
    std::fs::write(&path, &out)?;
    let python = validator()?;
    step("validate against the OpenAPI 3.1 schema (openapi-spec-validator)", || {
        let script = "import json,sys\nfrom openapi_spec_validator import validate\nfrom openapi_spec_validator import OpenAPIV31SpecValidator\nvalidate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\nprint('valid OpenAPI 3.1')";
        exec(Command::new(&python).args(["-c", script]).arg(&path))
    })?;
    println!("wrote build/openapi.json");
    Ok(())
}
