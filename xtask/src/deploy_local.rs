//! `cargo xtask deploy-local`: the deploy rehearsal. Synthesizes `dev` for a local AWS emulator (moto) into
//! `build/local/` (never `build/dev`), applies it, requires a second plan to show no changes, checks what was
//! created against the route registry and the stacks' promises, then destroys it and stops the emulator, also
//! when a step fails. Every step prints its time; a failure names the step and the resource.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use stacks::{Env, Issuer, Target};

use crate::services::free_port;
use crate::synth::write_if_changed;
use crate::terraform::{init, terraform};
use crate::util::{exec, human, step};
use crate::workspace_root;

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Keep the emulator's resources (skip `terraform destroy`); the emulator still stops.
    #[arg(long)]
    no_destroy: bool,
}

/// A moto server on 127.0.0.1; killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start(log: &Path) -> Result<Moto> {
        let bin = moto_bin()?;
        let port = free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = moto.child.try_wait()? {
                bail!("moto exited during start-up ({status}); see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("moto did not listen on 127.0.0.1:{port} within 60 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server`: from target/tools/moto, else PATH, else installed into target/tools/moto.
fn moto_bin() -> Result<PathBuf> {
    let in_venv = workspace_root().join("target/tools/moto/bin/moto_server");
    if in_venv.is_file() {
        return Ok(in_venv);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|p| p.is_file()));
    if let Some(bin) = on_path {
        if Command::new(&bin)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Ok(bin);
        }
    }
    crate::util::python_tool("moto", "moto[server]==5.2.1", "moto_server")
}

pub fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let root = workspace_root();
    let dir = root.join("build/local");
    std::fs::create_dir_all(&dir)?;
    let moto = step("1. start moto (AWS emulator on 127.0.0.1)", || Moto::start(&dir.join("moto.log")))?;
    if !crate::build::binaries().iter().all(|b| crate::build::zip_path(b).is_file()) {
        step("1. cargo xtask build (the Lambda packages are missing)", || {
            crate::build::run(&crate::build::Args::default())
        })?;
    }
    step("2. synth dev for the emulator into build/local", || {
        for stale in ["terraform.tfstate", "terraform.tfstate.backup", ".terraform.lock.hcl"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
        let target = Target::Emulator { endpoint: moto.endpoint.clone() };
        let synthesized = stacks::synth_with_issuer(Env::Dev, &target, Issuer::Development)?;
        write_if_changed(&dir.join("main.tf.json"), &synthesized.text)
    })?;
    step("3. terraform init", || init(&dir, true))?;

    let rehearsal = (|| -> Result<()> {
        step("3. terraform apply", || tf(&dir, &["apply", "-auto-approve", "-input=false", "-no-color"]))?;
        step("4. terraform plan -detailed-exitcode (must show no changes)", || no_drift(&dir))?;
        step("5. check what was created", || verify(&dir))
    })();

    let destroyed = if args.no_destroy {
        println!("    --no-destroy: leaving the resources in the emulator (which stops now)");
        Ok(())
    } else {
        step("6. terraform destroy", || tf(&dir, &["destroy", "-auto-approve", "-input=false", "-no-color"]))
    };
    drop(moto);
    rehearsal?;
    destroyed?;
    for (ty, why) in stacks::module::EMULATOR_OMITS {
        println!("    not rehearsed: every {ty} ({why})");
    }
    println!("deploy-local: applied, no drift, verified and destroyed in {}", human(start.elapsed()));
    Ok(())
}

fn tf(dir: &Path, args: &[&str]) -> Result<()> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", dir.display())).args(args).stdout(Stdio::null());
    exec(&mut cmd).with_context(|| format!("terraform {} failed; its messages above name the resource", args[0]))
}

fn no_drift(dir: &Path) -> Result<()> {
    let mut cmd = terraform()?;
    let out = cmd
        .arg(format!("-chdir={}", dir.display()))
        .args(["plan", "-detailed-exitcode", "-input=false", "-no-color"])
        .output()
        .context("cannot run terraform plan")?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(2) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let changes: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("# ")).collect();
            bail!(
                "drift: a plan right after apply wants changes (a bug in the DSL or the stacks):\n{}\n{text}",
                changes.join("\n")
            )
        }
        _ => bail!("terraform plan failed:\n{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// The applied state, checked against the registry and the stacks' promises.
fn verify(dir: &Path) -> Result<()> {
    let mut cmd = terraform()?;
    let out = cmd.arg(format!("-chdir={}", dir.display())).args(["show", "-json"]).output()?;
    if !out.status.success() {
        bail!("terraform show failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let state: Value = serde_json::from_slice(&out.stdout).context("terraform show printed no JSON")?;
    let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
    let of =
        |ty: &str| -> Vec<&Value> { resources.iter().filter(|r| r["type"] == ty && r["mode"] == "managed").collect() };
    let by_name = |ty: &str, name: &str| -> Result<&Value> {
        resources
            .iter()
            .find(|r| r["type"] == ty && r["name"] == name)
            .map(|r| &r["values"])
            .with_context(|| format!("{ty}.{name} is not in the state"))
    };
    let mut problems = Vec::new();

    let api = by_name("aws_apigatewayv2_api", "main")?;
    let authorizer = by_name("aws_apigatewayv2_authorizer", "okta")?;
    let routes = of("aws_apigatewayv2_route");
    let registry: Vec<_> = route_registry::all_routes().collect();
    if routes.len() != registry.len() {
        problems.push(format!("{} routes in the emulator, {} in the registry", routes.len(), registry.len()));
    }
    for route in &registry {
        let Some(r) = routes.iter().find(|r| r["values"]["route_key"] == route.key()) else {
            problems.push(format!("route {} is missing", route.key()));
            continue;
        };
        let v = &r["values"];
        let address = format!("aws_apigatewayv2_route.{}", r["name"].as_str().unwrap_or_default());
        if v["authorization_type"] != "CUSTOM" || v["authorizer_id"] != authorizer["id"] {
            problems.push(format!("{address}: not CUSTOM with the okta authorizer"));
        }
        let integration = by_name("aws_apigatewayv2_integration", &route.function.binary.replace('-', "_"))?;
        let lambda = by_name("aws_lambda_function", &route.function.binary.replace('-', "_"))?;
        if v["target"].as_str() != Some(&format!("integrations/{}", integration["id"].as_str().unwrap_or_default())) {
            problems.push(format!("{address}: does not target its function's integration"));
        }
        if integration["integration_uri"] != lambda["invoke_arn"] {
            problems.push(format!("{address}: the integration does not invoke {}", route.function.binary));
        }
    }

    let settings = Env::Dev.settings();
    for binary in crate::build::binaries() {
        let local = binary.replace('-', "_");
        let f = by_name("aws_lambda_function", &local)?;
        let role = by_name("aws_iam_role", &local)?;
        let address = format!("aws_lambda_function.{local}");
        if f["role"] != role["arn"] {
            problems.push(format!("{address}: not using its own role"));
        }
        if f["architectures"] != serde_json::json!(["arm64"]) || f["runtime"] != "provided.al2023" {
            problems.push(format!("{address}: not provided.al2023 on arm64"));
        }
        let vars = &f["environment"][0]["variables"];
        for key in ["REGION", "ENVIRONMENT", "LOG_LEVEL"] {
            if vars[key].is_null() {
                problems.push(format!("{address}: environment variable {key} missing"));
            }
        }
        if binary != route_registry::AUTHORIZER.binary {
            let memory = settings.lambda_memory_mb.unwrap_or(stacks::modules::ORG_FUNCTION_MEMORY_MB);
            if f["memory_size"] != memory || f["timeout"] != 30 {
                problems.push(format!(
                    "{address}: memory {} / timeout {}, expected {memory} / 30",
                    f["memory_size"], f["timeout"]
                ));
            }
            if vars["SUPABASE_SECRET_ARN"] != by_name("aws_secretsmanager_secret", "supabase")?["arn"] {
                problems.push(format!("{address}: SUPABASE_SECRET_ARN is not the secret's ARN"));
            }
        }
        let name = f["function_name"].as_str().unwrap_or_default();
        let group = by_name("aws_cloudwatch_log_group", &local)?;
        if group["name"].as_str() != Some(&format!("/aws/lambda/{name}")) {
            problems.push(format!("aws_cloudwatch_log_group.{local}: not /aws/lambda/{name}"));
        }
        let alarms = of("aws_cloudwatch_metric_alarm")
            .into_iter()
            .filter(|a| a["name"].as_str().is_some_and(|n| n.starts_with(&format!("{local}_"))))
            .count();
        if alarms != 3 {
            problems.push(format!("{address}: {alarms} alarms instead of 3"));
        }
    }
    let execution_arn = api["execution_arn"].as_str().unwrap_or_default();
    for p in of("aws_lambda_permission") {
        if !p["values"]["source_arn"].as_str().is_some_and(|s| s.starts_with(&format!("{execution_arn}/"))) {
            problems.push(format!(
                "aws_lambda_permission.{}: source_arn not under this API",
                p["name"].as_str().unwrap_or_default()
            ));
        }
    }
    if !problems.is_empty() {
        bail!("the emulator's resources differ from what the stacks promise:\n{}", problems.join("\n"));
    }
    println!(
        "    {} resources: {} routes (CUSTOM, right integrations), {} functions with their roles, log groups and alarms, {} permissions under the API",
        resources.iter().filter(|r| r["mode"] == "managed").count(),
        routes.len(),
        crate::build::binaries().len(),
        of("aws_lambda_permission").len()
    );
    Ok(())
}
