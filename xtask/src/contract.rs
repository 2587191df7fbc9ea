//! `cargo xtask okta-contract`: holds the Okta clients and the local Okta stand-in to Okta's published APIs: the
//! Users API (`xtask/contracts/okta-users-api.yaml`) and the OAuth 2.0 token endpoint the service identities use
//! (`xtask/contracts/okta-oauth-api.yaml`).
//!
//! The stand-in records every exchange of the test run (request: method, path, query, headers, body; answer:
//! status, headers, body) as JSON lines in `target/okta-contract/exchanges.jsonl`. This task validates each one
//! against the document its path belongs to (`/oauth2/…` the OAuth API, the rest the Users API) with openapi-core
//! (its own virtualenv under `target/tools/`): the request against the operation's parameters, security and request
//! body (form-encoded for the token endpoint), the answer against the declared status and schema. Answers to
//! injected faults (5xx, hangs) are outside the documents: only their requests are checked. An empty log fails, and
//! so does a log without a token exchange: a contract check that saw nothing proves nothing.

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
from urllib.parse import parse_qs, urlencode
from openapi_core import Config, OpenAPI
from openapi_core.validation.request.validators import V30RequestBodyValidator, V30RequestParametersValidator
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

# The OAuth document is used as published but not validated as a document: its schema cycle (JsonSigningWebKey and
# its RSA/EC variants) sends the document validator into unbounded recursion. Exchanges are still validated.
oauth = drop_empty_content(yaml.safe_load(open(sys.argv[3])))
specs = {"users": OpenAPI.from_dict(drop_empty_content(yaml.safe_load(open(sys.argv[1])))),
         "oauth": OpenAPI.from_dict(oauth, config=Config(spec_validator_cls=None))}
# The token endpoint's client authentication schemes are `http` schemes carried in the body (`postBody`), which
# openapi-core cannot evaluate: its parameters and body are validated by openapi-core, and `private_key_jwt` (the
# only method the platform uses) by this script, as the document describes it.
oauth_checks = [OpenAPI.from_dict(oauth, config=Config(spec_validator_cls=None, request_validator_cls=cls))
                for cls in (V30RequestParametersValidator, V30RequestBodyValidator)]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
failures, checked, requests, faults = [], 0, 0, 0
seen = {"users": 0, "oauth": 0}
for n, line in enumerate(open(sys.argv[2]), 1):
    line = line.strip()
    if not line:
        continue
    x = json.loads(line)
    which = "oauth" if x["path"].startswith("/oauth2/") else "users"
    spec = specs[which]
    seen[which] += 1
    headers = {k: v for k, v in x["headers"].items()}
    if headers.get("authorization"):
        headers["authorization"] = headers["authorization"] + " redacted-token"
    form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if x["body"] is None:
        body = None
    elif form:
        body = urlencode(x["body"]).encode()
    else:
        body = json.dumps(x["body"]).encode()
    args = {k: v[0] for k, v in parse_qs(x["query"]).items()}
    req = MockRequest("https://example.okta.com", x["method"].lower(), x["path"], args=args, headers=headers,
                      data=body, content_type=headers.get("content-type", "application/json"))
    what = f'line {n}: {x["method"]} {x["path"]}?{x["query"]} -> {x["status"]}'
    try:
        if which == "oauth":
            for check in oauth_checks:
                check.validate_request(req)
            fields = x["body"] or {}
            if fields.get("client_assertion_type") != ASSERTION_TYPE or not fields.get("client_assertion") \
                    or fields.get("client_assertion", "").count(".") != 2:
                raise ValueError("private_key_jwt: client_assertion_type and a JWS client_assertion are required")
            if "client_secret" in fields or headers.get("authorization"):
                raise ValueError("one client authentication method only (private_key_jwt)")
        else:
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
print(f"{requests} requests and {checked} answers conform ({seen['users']} Users API, {seen['oauth']} token endpoint); {faults} answers outside the documents by design (requests only); {len(failures)} failures")
if seen["oauth"] == 0:
    print("no token exchange was recorded: the tests of the service identity did not reach the stand-in")
sys.exit(1 if failures or requests == 0 or seen["oauth"] == 0 else 0)
"#;

/// openapi-core, in its own virtualenv (installed on first use).
pub fn openapi_core() -> Result<PathBuf> {
    python_tool("openapi-core", OPENAPI_CORE, "python")
}

/// Validates recorded exchanges (the stand-ins' `Exchange`, one JSON line each) against `spec` (JSON or YAML) with
/// openapi-core, as `origin` (`https://api.credly.com`) serves it: whether all conform, and what the check said.
pub fn exchanges(spec: &std::path::Path, origin: &str, name: &str, input: &str) -> Result<(bool, String)> {
    use std::io::Write;
    let mut child = Command::new(openapi_core()?)
        .args(["-c", include_str!("openapi_contract.py")])
        .arg(spec)
        .args([origin, name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run the contract check")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok((
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    ))
}

/// Where the Credly client's tests (`module-runtime/tests/credly.rs`) leave the stand-in's exchanges.
pub fn credly_dir() -> PathBuf {
    target_dir().join("credly-contract")
}

/// `cargo xtask credly-contract`: every exchange of the Credly client's tests with the stand-in, against the document
/// written from Credly's pages (`xtask/contracts/credly-api.yaml`); and two hand-made exchanges that break it (a
/// request without the organization's token, a page without its `metadata`), which must be refused.
pub fn credly() -> Result<()> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(credly_dir()).into_iter().flatten().flatten() {
        lines
            .extend(std::fs::read_to_string(entry.path())?.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
    }
    if lines.is_empty() {
        bail!(
            "{} holds no exchange: run the Credly client's tests first (cargo test -p module-runtime --test credly)",
            credly_dir().display()
        );
    }
    let spec = workspace_root().join("xtask/contracts/credly-api.yaml");
    step(&format!("Credly contract: {} recorded exchanges against {}", lines.len(), spec.display()), || {
        let (ok, said) = exchanges(&spec, "https://api.credly.com", "Credly's web service API", &lines.join("\n"))?;
        if !ok {
            bail!("the Credly client or stand-in left the document:\n{said}");
        }
        println!("    {}", said.trim());
        let org = "1b1f4a0e-3c2d-4e5f-8a9b-0c1d2e3f4a5b";
        let bad = [
            serde_json::json!({"method": "GET", "path": format!("/v1/organizations/{org}/badges"), "query": "page=1",
                "headers": {}, "body": null, "status": 200, "response_headers": {"content-type": "application/json"},
                "response": {"data": [], "metadata": {"count": 0, "current_page": 1, "total_count": 0, "total_pages": 0,
                "per": 50, "previous_page_url": null, "next_page_url": null}}, "fault": false}),
            serde_json::json!({"method": "GET", "path": format!("/v1/organizations/{org}/badges"), "query": "page=1",
                "headers": {"authorization": "Basic"}, "body": null, "status": 200,
                "response_headers": {"content-type": "application/json"}, "response": {"data": []}, "fault": false}),
        ];
        for b in bad {
            let (ok, _) = exchanges(&spec, "https://api.credly.com", "Credly's web service API", &b.to_string())?;
            if ok {
                bail!("the contract check accepted a hand-made exchange that breaks the document: {b}");
            }
        }
        println!("    and refuses a request without the token and a page without its metadata");
        Ok(())
    })
}

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
    let python = openapi_core()?;
    let spec = workspace_root().join("xtask/contracts/okta-users-api.yaml");
    let oauth = workspace_root().join("xtask/contracts/okta-oauth-api.yaml");
    step(
        &format!("Okta contract: {exchanges} recorded exchanges against {} and {}", spec.display(), oauth.display()),
        || {
            let status = Command::new(&python)
                .args(["-c", SCRIPT])
                .arg(&spec)
                .arg(&log)
                .arg(&oauth)
                .status()
                .context("cannot run the contract check")?;
            if !status.success() {
                bail!("the Okta client or stand-in left Okta's published API (see above); fix the side that drifted");
            }
            Ok(())
        },
    )
}
