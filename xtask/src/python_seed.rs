//! The seed document's Python handler, measured against the same TLS stand-ins as the Rust functions, for the
//! side-by-side cold-start ratio (`cargo xtask bench cold-start --with-python-seed`; not part of the test command).
//!
//! It does the seed's work: import boto3 and supabase, read the Supabase secret through Secrets Manager, build the
//! Supabase client (`create_client`), and run one query. The query goes through postgrest-py (what the Supabase
//! client's `table()` uses) at the secret's `rest_url`, because the local PostgREST serves `/`, not Supabase's
//! `/rest/v1`. The interpreter and its packages live in `target/tools/python-seed`; bytecode is compiled once at
//! install, as it would be in a deployed package.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::python_tool_with;

/// The Python runs' figures.
pub struct PythonRuns {
    pub walls: Vec<Duration>,
    pub cpus: Vec<Duration>,
}

const HANDLER: &str = r#"
import json, os, resource
import boto3
from supabase import create_client
from postgrest import SyncPostgrestClient

client = boto3.client("secretsmanager", region_name=os.environ["REGION"], endpoint_url=os.environ["SM_URL"])
cfg = json.loads(client.get_secret_value(SecretId=os.environ["SUPABASE_SECRET_ARN"])["SecretString"])
supabase = create_client(os.environ["SUPABASE_URL"], os.environ["TOKEN"])
rest = SyncPostgrestClient(cfg["rest_url"], headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
rows = rest.from_("org").select("*").execute().data
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": len(rows), "cpu_s": u.ru_utime + u.ru_stime}))
"#;

pub fn measure(runs: usize, secrets_url: &str, rest_url: &str, ca: &Path, token: &str) -> Result<PythonRuns> {
    let python = python_tool_with("python-seed", &["boto3==1.40.*", "supabase==2.*"], "python")?;
    let mut out = PythonRuns { walls: Vec::new(), cpus: Vec::new() };
    // One run more than asked: the first warms the file cache and is not counted.
    for i in 0..=runs {
        let start = Instant::now();
        let result = Command::new(&python)
            .args(["-c", HANDLER])
            .env("REGION", "us-east-1")
            .env("SM_URL", secrets_url)
            .env(
                "SUPABASE_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-supabase-credentials-AbCdEf",
            )
            .env("SUPABASE_URL", rest_url)
            .env("TOKEN", token)
            .env("AWS_ACCESS_KEY_ID", "ASIABENCHMARKONLY")
            .env("AWS_SECRET_ACCESS_KEY", "benchmark-only")
            .env("AWS_CA_BUNDLE", ca)
            .env("SSL_CERT_FILE", ca)
            .output()
            .context("cannot run the seed's Python handler")?;
        let wall = start.elapsed();
        if !result.status.success() {
            bail!("the seed's Python handler failed: {}", String::from_utf8_lossy(&result.stderr));
        }
        let report: serde_json::Value =
            serde_json::from_slice(&result.stdout).context("the Python handler printed no report")?;
        let cpu = report["cpu_s"].as_f64().context("the Python handler reported no CPU time")?;
        if i > 0 {
            out.walls.push(wall);
            out.cpus.push(Duration::from_secs_f64(cpu));
        }
    }
    Ok(out)
}
