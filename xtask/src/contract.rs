//! `cargo xtask okta-contract`: holds the Okta client and the local Okta stand-in to Okta's published Users API.
//!
//! The stand-in records every exchange of the test run (request: method, path, query, headers, body; answer:
//! status, headers, body) as JSON lines in `target/okta-contract/exchanges.jsonl`. This task validates each one
//! against `xtask/contracts/okta-users-api.yaml` with openapi-core (its own virtualenv under `target/tools/`): the
//! request against the operation's parameters, security and request body, the answer against the declared status
//! and schema. Answers to injected faults (5xx, hangs) are outside the document: only their requests are checked.
//! An empty log fails: a contract check that saw nothing proves nothing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{python_tool, step};
use crate::{target_dir, workspace_root};

const OPENAPI_CORE: &str = "openapi-core==0.19.5";

/// Where the stand-in records exchanges during the test run.
pub fn log_path() -> PathBuf {
    target_dir().join("okta-contract/exchanges.jsonl")
}

/// Empties the log before a test run.
pub fn reset() -> Result<()> {
    let path = log_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, "").with_context(|| format!("cannot reset {}", path.display()))
}

const SCRIPT: &str = r#"
import json, sys
from urllib.parse import parse_qs
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
import yaml

def drop_empty_content(node):
    # `content: {}` describes no payload (OpenAPI 3.0: the map of media types is empty); openapi-core would demand
    # a body for it, so such responses are read as having no content at all, which means the same.
    if isinstance(node, dict):
        if node.get("content") == {}:
            del node["content"]
        for v in node.values():
            drop_empty_content(v)
    elif isinstance(node, list):
        for v in node:
            drop_empty_content(v)
    return node

spec = OpenAPI.from_dict(drop_empty_content(yaml.safe_load(open(sys.argv[1]))))
failures, checked, requests, faults = [], 0, 0, 0
for n, line in enumerate(open(sys.argv[2]), 1):
    line = line.strip()
    if not line:
        continue
    x = json.loads(line)
    headers = {k: v for k, v in x["headers"].items()}
    if headers.get("authorization"):
        headers["authorization"] = headers["authorization"] + " redacted-token"
    body = json.dumps(x["body"]).encode() if x["body"] is not None else None
    args = {k: v[0] for k, v in parse_qs(x["query"]).items()}
    req = MockRequest("https://example.okta.com", x["method"].lower(), x["path"], args=args, headers=headers,
                      data=body, content_type=headers.get("content-type", "application/json"))
    what = f'line {n}: {x["method"]} {x["path"]}?{x["query"]} -> {x["status"]}'
    try:
        spec.validate_request(req)
        requests += 1
    except Exception as e:
        failures.append(f"{what}: request: {e}")
        continue
    if x["fault"]:
        faults += 1
        continue
    data = json.dumps(x["response"]).encode() if x["response"] is not None else b""
    resp = MockResponse(data, status_code=x["status"], headers=x["response_headers"],
                        content_type="application/json" if data else None)
    try:
        spec.validate_response(req, resp)
        checked += 1
    except Exception as e:
        detail = getattr(e, "__cause__", None) or e
        failures.append(f"{what}: answer: {e} ({detail})")
for f in failures:
    print(f)
print(f"{requests} requests and {checked} answers conform; {faults} answers outside the document by design (requests only); {len(failures)} failures")
sys.exit(1 if failures or requests == 0 else 0)
"#;

pub fn run() -> Result<()> {
    let log = log_path();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let exchanges = text.lines().filter(|l| !l.trim().is_empty()).count();
    if exchanges == 0 {
        bail!(
            "{} holds no exchange: run the tests first (cargo xtask test), which talk to the Okta stand-in",
            log.display()
        );
    }
    let python = python_tool("openapi-core", OPENAPI_CORE, "python")?;
    let spec = workspace_root().join("xtask/contracts/okta-users-api.yaml");
    step(&format!("Okta contract: {exchanges} recorded exchanges against {}", spec.display()), || {
        let status = Command::new(&python)
            .args(["-c", SCRIPT])
            .arg(&spec)
            .arg(&log)
            .status()
            .context("cannot run the contract check")?;
        if !status.success() {
            bail!("the Okta client or stand-in left Okta's published API (see above); fix the side that drifted");
        }
        Ok(())
    })
}
