//! `cargo xtask bench cold-start`: every catalog function's host release binary against an emulated Lambda Runtime
//! API, with the Secrets Manager, PostgREST and JWKS stand-ins behind TLS, the floor of a function that does nothing
//! first, and the same-run variants the flags ask for (module documentation of `bench`). Queue-fed workers are
//! measured with one message, their service token included (the KMS and token-endpoint stand-ins behind the same
//! TLS); objects-created functions with one typical document in the S3 stand-in behind the same TLS (its read, the
//! isolated reader's child and the outcome recorded included); scheduled ones are not (a run needs Okta's Users API).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use stacks::triggers::EventShape;
use stacks::Env;

use crate::util::{cargo, exec, step};
use crate::{target_dir, workspace_root};

use super::measure::*;

/// A throwaway certificate authority and a `localhost` certificate it signed, made with openssl.
pub struct Certificates {
    pub ca: PathBuf,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

pub fn certificates(dir: &Path) -> Result<Certificates> {
    std::fs::create_dir_all(dir)?;
    let run = |args: &[&str]| exec(Command::new("openssl").current_dir(dir).args(args).stderr(Stdio::null()));
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=career-bench-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ])?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    Ok(Certificates {
        ca: dir.join("ca.pem"),
        cert: std::fs::read(dir.join("server.pem"))?,
        key: std::fs::read(dir.join("server.key"))?,
    })
}

/// One function's measurements.
struct ColdStarts {
    binary: &'static str,
    memory_mb: u32,
    walls: Vec<Duration>,
    cpus: Vec<Duration>,
    warm_walls: Vec<Duration>,
    warm_cpus: Vec<Duration>,
    /// Minor page faults up to the first response.
    faults: Vec<u64>,
    peak_kib: u64,
}

/// A task nobody has: a worker's message names it, so its cold start includes the database call, which refuses it.
const NO_TASK: &str = "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11";

/// The event a function receives, as its trigger kind says.
fn shape(function: &route_registry::Function) -> EventShape {
    stacks::triggers::of(&function.trigger).event()
}

/// Whether a function's cold start is measured: the HTTP functions, the authorizer, queue-fed workers and the
/// functions started by documents (a scheduled run's cold start is a worker's).
fn measured(function: &route_registry::Function) -> bool {
    shape(function) != EventShape::EventBridge
}

/// Whether the function with this binary receives `wanted`.
fn shaped(binary: &str, wanted: EventShape) -> bool {
    route_registry::all_functions().any(|f| f.binary == binary && shape(&f) == wanted)
}

fn documents_function(binary: &str) -> bool {
    shaped(binary, EventShape::S3)
}

/// The bucket of the benchmark's documents, and the document every objects-created function reads: its key under the
/// function's prefix, and its version.
const BUCKET: &str = "career-bench-documents";
static DOCUMENT: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// The first GET route of a function (path parameters filled with an id nobody has), the authorizer's event, or a
/// worker's one-message batch.
fn event_for(function: route_registry::Function, token: &str) -> Result<String> {
    if shape(&function) == EventShape::S3 {
        let (key, version) = DOCUMENT.get().context("the benchmark's document is not stored")?;
        return Ok(serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-06T00:00:00.000Z", "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "AWS:bench"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "documents",
                "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "bench"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
                "object": {"key": key, "size": 0, "eTag": "e", "versionId": version, "sequencer": "01"}},
        }]})
        .to_string());
    }
    if shape(&function) == EventShape::Sqs {
        let body = serde_json::json!({"task_id": NO_TASK, "first": 1, "last": 1}).to_string();
        return Ok(serde_json::json!({"Records": [{
            "messageId": "m1", "receiptHandle": "r1", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1765000000000"},
            "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        }]})
        .to_string());
    }
    if function == route_registry::AUTHORIZER {
        let event = api_events::authorizer_request("GET", "/profiles/me", Some(&format!("Bearer {token}")));
        return Ok(serde_json::to_string(&event)?);
    }
    let route = route_registry::all_routes()
        .find(|r| r.function == function && r.method == route_registry::Method::Get)
        .with_context(|| format!("{} has no GET route to measure a cold start with", function.binary))?;
    let mut path = route.path.to_owned();
    for p in route.path_params() {
        path = path.replace(&format!("{{{p}}}"), "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11");
    }
    let bearer = format!("Bearer {token}");
    let mut event = api_events::http_request("GET", &path, &[("authorization", bearer.as_str())], None);
    api_events::authorize(
        &mut event,
        &serde_json::json!({"sub": "bench@example.com", "email": "bench@example.com", "groups": "[]"}),
    );
    Ok(serde_json::to_string(&event)?)
}

pub fn run(
    runs: usize,
    with_python_seed: bool,
    also_plain_http: bool,
    compare_with: Option<&Path>,
    also_env: bool,
) -> Result<()> {
    use standins::runtime_api::{Outcome, RuntimeApi};
    use standins::{fixed::FixedServer, secrets, tls::TlsProxy};
    let root = workspace_root();
    // For profiling: binaries from elsewhere (an unstripped build), used as they are.
    let bin_dir = std::env::var_os("COLD_START_BIN_DIR").map(PathBuf::from);
    if bin_dir.is_none() {
        step("cargo build --release (host) of the Lambda binaries", || {
            let mut cmd = cargo();
            cmd.current_dir(&root).args(["build", "--quiet", "--release"]);
            for p in crate::build::packages().into_iter().chain([FLOOR]) {
                cmd.args(["-p", p]);
            }
            exec(&mut cmd)
        })?;
    }
    let bin_dir = bin_dir.unwrap_or_else(|| target_dir().join("release"));
    let services = crate::services::Stack::start()?;
    step("an identity for the benchmark's caller", || {
        let mut client = postgres::Client::connect(&services.pg.url("postgres"), postgres::NoTls)?;
        client.batch_execute(
            "INSERT INTO identities (idp_subject, email) VALUES ('bench@example.com', 'bench@example.com');
             INSERT INTO profiles (id) SELECT id FROM identities WHERE idp_subject = 'bench@example.com';",
        )?;
        Ok(())
    })?;
    let certs =
        step("a throwaway CA and a localhost certificate (openssl)", || certificates(&target_dir().join("bench-tls")))?;
    let rest_addr: std::net::SocketAddr = services.rest.url().trim_start_matches("http://").parse()?;
    // PostgREST as the issue's baseline had it, a stand-in answering at once: the real one's answers, recorded by
    // each function's unmeasured first start and replayed; and the real one (postrust + PostgreSQL) as a variant.
    let replay = standins::replay::ReplayStandin::start(rest_addr)?;
    let rest_tls = TlsProxy::start(replay.addr, &certs.cert, &certs.key)?;
    let real_rest_tls = TlsProxy::start(rest_addr, &certs.cert, &certs.key)?;
    let secret =
        serde_json::json!({"url": "https://unused.invalid", "rest_url": rest_tls.url(), "anon_key": ""}).to_string();
    let secrets = secrets::SecretsStandin::start(secrets::Answer::Secret(secret))?;
    secrets.set_for(OKTA_SECRET_ARN, secrets::Answer::Secret(r#"{"api_token":"bench-okta-token"}"#.into()));
    let secrets_tls = TlsProxy::start(secrets.addr, &certs.cert, &certs.key)?;
    let jwks = FixedServer::start(dev_issuer::JWKS.to_owned(), "application/json")?;
    let jwks_tls = TlsProxy::start(jwks.addr, &certs.cert, &certs.key)?;
    let token = crate::devtoken::mint("bench@example.com", Some("bench@example.com"), &[], Env::Dev, 3600)?;
    // The workers' service identity: a KMS key and the token endpoint, behind the same TLS, the client registered in
    // the database. The endpoint hands a client its unexpired token again, so the replayed database answers (keyed
    // by the token) hold across starts; each start still signs an assertion and asks for the token.
    let kms = standins::kms::KmsStandin::start()?;
    let kms_tls = TlsProxy::start(kms.url.trim_start_matches("http://").parse()?, &certs.cert, &certs.key)?;
    let okta = standins::okta::OktaStandin::start("bench")?;
    let okta_tls = TlsProxy::start(okta.base_url.trim_start_matches("http://").parse()?, &certs.cert, &certs.key)?;
    okta.set_public_url(&okta_tls.url());
    okta.reuse_tokens(true);
    let service_key = kms.create_key()?;
    let client_id = |module: &str| Env::Dev.settings().service_client_id(module);
    for module in route_registry::MODULES.iter().filter(|m| m.has_service_identity()) {
        okta.register_client(&client_id(module.name), service_key.jwk.clone(), &[Env::Dev.settings().service_scope]);
        let mut client = postgres::Client::connect(&services.pg.url("postgres"), postgres::NoTls)?;
        client.execute(
            "INSERT INTO app.service_principal (client_id, module) VALUES ($1, $2)",
            &[&client_id(module.name), &module.name],
        )?;
    }
    // The document the objects-created functions read: a typical résumé (a three-page PDF), stored under each
    // function's prefix with a record that expects it (the benchmark's caller owns it, in an organization of theirs).
    let s3 = standins::s3::S3Standin::start(&[("ASIABENCHMARKONLY", "benchmark-only")])?;
    s3.create_bucket(BUCKET);
    let s3_tls = TlsProxy::start(s3.url.trim_start_matches("http://").parse()?, &certs.cert, &certs.key)?;
    let mut resets: Option<(postgres::Client, String)> = None;
    if let Some(prefix) =
        route_registry::all_functions().find(|f| shape(f) == EventShape::S3).and_then(|f| f.documents_prefix())
    {
        let mut client = postgres::Client::connect(&services.pg.url("postgres"), postgres::NoTls)?;
        let row = client.query_one(
            "WITH me AS (SELECT id FROM identities WHERE idp_subject = 'bench@example.com'),
                  o AS (INSERT INTO org (name, created_by) SELECT 'Bench', id FROM me RETURNING id)
             SELECT o.id::text, me.id::text, gen_random_uuid()::text FROM o, me",
            &[],
        )?;
        let (org, user, id): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let key = format!("{prefix}{org}/{user}/{id}");
        if prefix == "resumes/" {
            client.execute(
                "INSERT INTO resume (id, org_id, owner_id, object_key, content_type)
                 VALUES ($1::text::uuid, $2::text::uuid, $3::text::uuid, $4, 'application/pdf')",
                &[&id, &org, &user, &key],
            )?;
        }
        let text = resume_module::samples::resume_text("Bench Mark", 8);
        let document = resume_module::samples::pdf_pages(&text, 3);
        let version = s3.put_object(BUCKET, &key, document, "application/pdf");
        let _ = DOCUMENT.set((key, version));
        resets = Some((client, id));
    }
    // Every start of an objects-created function reads the document: its record goes back to `uploaded` before each
    // start (a start that found it parsed would skip the work, and measure less than a real upload costs).
    let resets = std::cell::RefCell::new(resets);
    let reset_document = || -> Result<()> {
        if let Some((client, id)) = resets.borrow_mut().as_mut() {
            client.execute(
                "UPDATE resume SET state = 'uploaded', attempts = 0, version_id = NULL, size = NULL, text = NULL,
                        sections = NULL, failure_reason = NULL, parsed_at = NULL
                 WHERE id = $1::text::uuid",
                &[id],
            )?;
        }
        Ok(())
    };

    // Where a function finds its dependencies: behind TLS (the figure), or directly over plain HTTP (the split).
    struct Endpoints {
        secrets: String,
        jwks: String,
        /// The PostgREST URL in the environment, as deployed; `None`: read from the Supabase secret instead.
        rest_from_env: Option<String>,
    }
    let tls = Endpoints {
        secrets: secrets_tls.url(),
        jwks: format!("{}/jwks", jwks_tls.url()),
        rest_from_env: Some(rest_tls.url()),
    };
    let tls_secret =
        Endpoints { secrets: secrets_tls.url(), jwks: format!("{}/jwks", jwks_tls.url()), rest_from_env: None };
    let plain_secret =
        serde_json::json!({"url": "https://unused.invalid", "rest_url": services.rest.url(), "anon_key": ""})
            .to_string();
    let plain_secrets = secrets::SecretsStandin::start(secrets::Answer::Secret(plain_secret))?;
    plain_secrets.set_for(OKTA_SECRET_ARN, secrets::Answer::Secret(r#"{"api_token":"bench-okta-token"}"#.into()));
    let plain = Endpoints {
        secrets: plain_secrets.url(),
        jwks: format!("{}/jwks", jwks.url()),
        rest_from_env: Some(replay.url()),
    };
    let real_database = Endpoints {
        secrets: secrets_tls.url(),
        jwks: format!("{}/jwks", jwks_tls.url()),
        rest_from_env: Some(real_rest_tls.url()),
    };

    // One unmeasured start first (it records what the replaying PostgREST answers, and warms the page cache for
    // every variant alike), then `runs` measured ones.
    let measure_binary = |binary: &'static str, memory_mb: u32, event: &str, at: &Endpoints, dir: &Path| {
        // A module's one binary serves the function its handler names, as in a Lambda container.
        let package = route_registry::all_functions().find(|f| f.binary == binary).map_or(binary, |f| f.package());
        let exe = dir.join(package);
        let mut r = ColdStarts {
            binary,
            memory_mb,
            walls: Vec::new(),
            cpus: Vec::new(),
            warm_walls: Vec::new(),
            warm_cpus: Vec::new(),
            faults: Vec::new(),
            peak_kib: 0,
        };
        let mut forwarded_before = 0;
        for run in 0..=runs {
            if run == 1 {
                forwarded_before = replay.forwarded();
            }
            let api = RuntimeApi::start(event.to_owned(), binary.to_owned())?;
            let mut cmd = Command::new(&exe);
            cmd.env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
                .env(module_runtime::HANDLER_VARIABLE, binary)
                .env("AWS_LAMBDA_FUNCTION_NAME", format!("dev-{binary}"))
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/dev-{binary}"))
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/30/[$LATEST]0123456789abcdef")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "ASIABENCHMARKONLY")
                .env("AWS_SECRET_ACCESS_KEY", "benchmark-only")
                .env("AWS_SESSION_TOKEN", "benchmark-only")
                .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &at.secrets)
                .env("EXTRA_CA_CERTS", &certs.ca)
                .env("ENVIRONMENT", "dev")
                .env("OKTA_API_TOKEN_SECRET_ARN", OKTA_SECRET_ARN)
                .env("OKTA_DOMAIN", "localhost:1")
                .env("OKTA_ISSUER", dev_issuer::ISSUER)
                .env("OKTA_AUDIENCE", dev_issuer::audience("dev"))
                .env("OKTA_JWKS_URL", &at.jwks)
                .env("SERVICE_KEY_ID", &service_key.arn)
                .env("OKTA_TOKEN_URL", format!("{}/oauth2/default/v1/token", okta_tls.url()))
                .env(
                    "OKTA_CLIENT_ID",
                    client_id(
                        route_registry::all_functions().find(|f| f.binary == binary).map_or("org-module", |f| f.module),
                    ),
                )
                .env("DOCUMENTS_BUCKET", BUCKET)
                .env("AWS_ENDPOINT_URL_S3", s3_tls.url())
                .env("SERVICE_SCOPE", Env::Dev.settings().service_scope)
                .env("AWS_ENDPOINT_URL_KMS", kms_tls.url())
                .env("LOG_LEVEL", "ERROR")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // Producers find the queues they send to (a GET sends nothing, so the URL is never called).
            for consumer in route_registry::all_functions().filter(|f| shape(f) == EventShape::Sqs) {
                cmd.env(consumer.queue_url_variable(), "https://sqs.us-east-1.amazonaws.com/000000000000/unused");
            }
            match &at.rest_from_env {
                Some(url) => cmd.env("POSTGREST_URL", url).env("SUPABASE_ANON_KEY", ""),
                None => cmd.env("SUPABASE_SECRET_ARN", SUPABASE_SECRET_ARN),
            };
            if documents_function(binary) {
                reset_document()?;
            }
            let start = Instant::now();
            let mut child = cmd.spawn().with_context(|| format!("cannot start {}", exe.display()))?;
            let cold = api.wait(0, Duration::from_secs(30));
            let cold_cpu = cpu_time(child.id()).unwrap_or_default();
            let cold_faults = minor_faults(child.id()).unwrap_or(0);
            let warm = cold.as_ref().ok().and_then(|_| api.wait(1, Duration::from_secs(30)).ok());
            let total_cpu = cpu_time(child.id()).unwrap_or_default();
            let peak = peak_rss_kib(child.id()).unwrap_or(0);
            let _ = child.kill();
            let _ = child.wait();
            if run == 0 {
                continue;
            }
            match cold? {
                Outcome::Response { at, body } => {
                    check_answer(binary, &body)?;
                    r.walls.push(at.duration_since(start));
                    r.cpus.push(cold_cpu);
                    r.faults.push(cold_faults);
                    r.peak_kib = r.peak_kib.max(peak);
                }
                Outcome::Error { body } => bail!("{binary} reported an invocation error: {body}"),
                Outcome::InitError { body } => bail!("{binary} failed to initialize: {body}"),
            }
            if let (Some(Outcome::Response { at, .. }), Some(sent)) = (warm, api.warm_sent_at()) {
                r.warm_walls.push(at.duration_since(sent));
                r.warm_cpus.push(total_cpu.saturating_sub(cold_cpu));
            }
        }
        let missed = replay.forwarded() - forwarded_before;
        if missed > 0 && at.rest_from_env.as_deref() != Some(real_rest_tls.url().as_str()) {
            bail!(
                "{binary}: the replaying PostgREST stand-in forwarded {missed} request(s) during measured starts, so \
                 those waited for the real PostgREST; a function's queries must be the same on every start"
            );
        }
        Ok::<_, anyhow::Error>(r)
    };
    let measure = |function: route_registry::Function, at: &Endpoints, dir: &Path| -> Result<ColdStarts> {
        measure_binary(function.binary, function.memory_mb, &event_for(function, &token)?, at, dir)
    };
    let floor_event = event_for(route_registry::AUTHORIZER, &token)?;
    let floor = measure_binary(FLOOR, 256, &floor_event, &tls, &bin_dir)?;
    let mut results = Vec::new();
    let mut real = Vec::new();
    let mut plain_results = Vec::new();
    let mut compared = Vec::new();
    let mut from_secret = Vec::new();
    let mut not_measured = Vec::new();
    for function in route_registry::all_functions() {
        if !measured(&function) {
            not_measured.push(format!("{} ({})", function.binary, function.trigger.kind()));
            continue;
        }
        results.push(measure(function, &tls, &bin_dir)?);
        if function.uses.iter().any(|u| matches!(u, route_registry::Use::Database)) {
            real.push(measure(function, &real_database, &bin_dir)?);
        }
        if also_plain_http {
            plain_results.push(measure(function, &plain, &bin_dir)?);
        }
        if let Some(dir) = compare_with {
            compared.push(measure(function, &tls, dir)?);
        }
        // The seed reads its Supabase secret; its comparison needs the functions doing the same.
        if (also_env || with_python_seed) && function.uses.iter().any(|u| matches!(u, route_registry::Use::Database)) {
            from_secret.push(measure(function, &tls_secret, &bin_dir)?);
        }
    }
    let python = if with_python_seed {
        Some(crate::python_seed::measure(runs.min(10), &secrets_tls.url(), &rest_tls.url(), &certs.ca, &token)?)
    } else {
        None
    };
    drop(services);

    println!(
        "\ncold start, host release build, {runs} starts per function (after one unmeasured), process start → first"
    );
    println!("response posted; the Secrets Manager, PostgREST and JWKS stand-ins behind TLS on loopback (PostgREST's");
    println!("answers recorded from the real one and replayed at once); CPU = user+sys of all threads:");
    println!(
        "{:<26} {:>11} {:>11} {:>11} {:>11} {:>11} {:>7} {:>9} {:>9}",
        "function", "wall p50", "wall p90", "CPU p50", "over floor", "warm p50", "faults", "peak RSS", "zip"
    );
    let floor_cpu = cpu_median(&floor);
    for r in std::iter::once(&floor).chain(&results) {
        let (wall, cpu, warm) =
            (Spread::new(r.walls.clone()), Spread::new(r.cpus.clone()), Spread::new(r.warm_walls.clone()));
        let zip = if r.binary == FLOOR {
            "-".to_owned()
        } else {
            route_registry::all_functions()
                .find(|f| f.binary == r.binary)
                .and_then(|f| std::fs::metadata(crate::build::zip_path(&f)).ok())
                .map(|m| format!("{:.2} MiB", m.len() as f64 / 1048576.0))
                .unwrap_or_else(|| "not built".into())
        };
        let mut faults = r.faults.clone();
        faults.sort_unstable();
        let over_floor = if r.binary == FLOOR { "-".to_owned() } else { ms(cpu.pct(0.5).saturating_sub(floor_cpu)) };
        println!(
            "{:<26} {:>11} {:>11} {:>11} {:>11} {:>11} {:>7} {:>5.1} MiB {:>9}",
            r.binary,
            ms(wall.pct(0.5)),
            ms(wall.pct(0.9)),
            ms(cpu.pct(0.5)),
            over_floor,
            ms(warm.pct(0.5)),
            faults.get(faults.len() / 2).copied().unwrap_or(0),
            r.peak_kib as f64 / 1024.0,
            zip
        );
    }
    println!("targets: org functions ≤ 3 ms CPU and ≤ 5 ms wall; the authorizer ≤ 1.5 ms CPU; peak RSS < 15 MiB; zip ≤ 4 MiB");
    println!(
        "(workers: one SQS message, their cold start including the service token: a KMS Sign and a token request, both over TLS;"
    );
    println!(
        " documents: one typical résumé read from S3 over TLS and parsed in the isolated child; CPU and peak RSS are the parent's)"
    );
    if !not_measured.is_empty() {
        println!("not measured here: {} (a run needs Okta's Users API or a document)", not_measured.join(", "));
    }
    println!(
        "({FLOOR}: a function that does nothing, same runtime and profile: what starting any function costs here;"
    );
    println!(
        " over floor: CPU p50 less the floor's, same run; faults: minor page faults up to the first response, median)"
    );
    variant_table(
        "PostgREST and PostgreSQL for real (postrust behind the same TLS terminator, no recording)",
        "wall change",
        &results,
        &real,
        |main, variant| format!("{:+.2} ms", variant - main),
        |r| Spread::new(r.walls.clone()).pct(0.5),
    );
    if !from_secret.is_empty() {
        variant_table(
            "same TLS stand-ins, the Supabase settings read from a secret (SUPABASE_SECRET_ARN)",
            "CPU change",
            &results,
            &from_secret,
            |deployed, secret| format!("{:+.0}%", 100.0 * (secret - deployed) / deployed.max(1e-9)),
            cpu_median,
        );
        println!("(CPU change: against the same function as deployed, its Supabase settings in the environment)");
    }
    if let Some(dir) = compare_with {
        variant_table(
            &format!("same TLS stand-ins, the binaries in {}", dir.display()),
            "CPU change",
            &results,
            &compared,
            |this, theirs| format!("{:+.0}%", 100.0 * (this - theirs) / theirs.max(1e-9)),
            cpu_median,
        );
        println!("(CPU change: this build's median against theirs)");
    }
    if also_plain_http {
        variant_table(
            "the same stand-ins reached over plain HTTP (no TLS handshake, no certificate check)",
            "TLS share of CPU",
            &results,
            &plain_results,
            |tls, plain| format!("{:.0}%", 100.0 * (tls - plain).max(0.0) / tls.max(1e-9)),
            cpu_median,
        );
    }
    if let Some(p) = python {
        let org = from_secret.iter().find(|r| r.binary == "org-orgs").context("org-orgs was not measured")?;
        let (rw, rc) = (Spread::new(org.walls.clone()).pct(0.5), Spread::new(org.cpus.clone()).pct(0.5));
        println!(
            "\nseed's Python handler (boto3 + supabase, same stand-ins, same run), {} starts: wall {}, CPU median {}",
            p.walls.len(),
            Spread::new(p.walls.clone()).show(),
            ms(Spread::new(p.cpus.clone()).pct(0.5))
        );
        println!(
            "ratio against org-orgs reading its Supabase secret too: wall ×{:.0}, CPU ×{:.0}",
            Spread::new(p.walls).pct(0.5).as_secs_f64() / rw.as_secs_f64(),
            Spread::new(p.cpus).pct(0.5).as_secs_f64() / rc.as_secs_f64()
        );
    }
    memory_table(&results);
    Ok(())
}

/// A same-run variant of the cold-start figures: each of its functions' medians, and `compare(main, variant)` of
/// the figure `basis` picks (milliseconds) against the same function in the main table.
fn variant_table(
    what: &str,
    column: &str,
    main: &[ColdStarts],
    variant: &[ColdStarts],
    compare: impl Fn(f64, f64) -> String,
    basis: impl Fn(&ColdStarts) -> Duration,
) {
    let median = |v: &[Duration]| Spread::new(v.to_vec()).pct(0.5);
    println!("\nsame run, {what}:");
    println!("{:<26} {:>11} {:>11} {:>11} {:>16}", "function", "wall p50", "CPU p50", "warm p50", column);
    for v in variant {
        let Some(m) = main.iter().find(|m| m.binary == v.binary) else { continue };
        println!(
            "{:<26} {:>11} {:>11} {:>11} {:>16}",
            v.binary,
            ms(median(&v.walls)),
            ms(median(&v.cpus)),
            ms(median(&v.warm_walls)),
            compare(basis(m).as_secs_f64() * 1000.0, basis(v).as_secs_f64() * 1000.0)
        );
    }
}

fn cpu_median(r: &ColdStarts) -> Duration {
    Spread::new(r.cpus.clone()).pct(0.5)
}

/// The floor of the cold-start figures: `support/cold-floor`, a function that does nothing.
const FLOOR: &str = "cold-floor";

/// The ARNs the benchmark's functions read (any ARN works with the stand-in; these look like real ones).
const SUPABASE_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-supabase-credentials-AbCdEf";
const OKTA_SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-okta-api-token-AbCdEf";

/// Lambda arm64 prices in us-east-1 (see `cost.rs` for the dated table).
fn memory_table(results: &[ColdStarts]) {
    let prices = stacks::cost::PRICES;
    println!("\nmemory size, from the measured CPU: Lambda gives a function CPU in proportion to memory (1 vCPU at 1,769 MB),");
    println!(
        "so a phase that needs c ms of CPU and waits w ms takes about w + c × 1769 / MB. Per million invocations:"
    );
    println!(
        "{:<26} {:>6} {:>12} {:>14} {:>12} {:>14}",
        "function", "MB", "cold (ms)", "$/1M cold", "warm (ms)", "$/1M warm"
    );
    for r in results {
        let (wall, cpu) = (Spread::new(r.walls.clone()).pct(0.5), Spread::new(r.cpus.clone()).pct(0.5));
        let (wwall, wcpu) = (Spread::new(r.warm_walls.clone()).pct(0.5), Spread::new(r.warm_cpus.clone()).pct(0.5));
        for mb in [128u32, 256, 512] {
            let predict = |wall: Duration, cpu: Duration| {
                let wait = wall.saturating_sub(cpu).as_secs_f64() * 1000.0;
                wait + cpu.as_secs_f64() * 1000.0 * 1769.0 / f64::from(mb)
            };
            let (cold_ms, warm_ms) = (predict(wall, cpu), predict(wwall, wcpu));
            let cost = |ms: f64| {
                let billed_s = ms.ceil() / 1000.0;
                1e6 * (prices.lambda_request + prices.lambda_gb_second_arm64 * f64::from(mb) / 1024.0 * billed_s)
            };
            let chosen = if mb == r.memory_mb { " ←" } else { "" };
            println!(
                "{:<26} {mb:>6} {cold_ms:>12.1} {:>14.2} {warm_ms:>12.1} {:>14.2}{chosen}",
                r.binary,
                cost(cold_ms),
                cost(warm_ms)
            );
        }
    }
    println!("(← the size the catalog sets; the reason is written where it is set)");
}

/// The answer must be a real handler answer, not a runtime failure.
fn check_answer(binary: &str, body: &str) -> Result<()> {
    let v: serde_json::Value =
        serde_json::from_str(body).with_context(|| format!("{binary} answered non-JSON: {body}"))?;
    let ok = if binary == FLOOR {
        v["floor"] == true
    } else if binary == route_registry::AUTHORIZER.binary {
        v["isAuthorized"] == true
    } else if shaped(binary, EventShape::S3) {
        // An objects-created handler answers nothing; a failure would be an invocation error.
        v.is_null()
    } else if shaped(binary, EventShape::Sqs) {
        // The message names no task: the database refused it, so the batch reports it failed, as it must.
        v["batchItemFailures"][0]["itemIdentifier"] == "m1"
    } else {
        v["statusCode"].as_u64().is_some_and(|s| s == 200 || s == 404)
            && v["body"].as_str().is_some_and(|b| b.contains("\"success\""))
    };
    if !ok {
        bail!("{binary} answered unexpectedly: {body}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------- load
