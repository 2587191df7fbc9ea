//! The queue benchmark (`cargo xtask bench queue`, which starts PostgreSQL and PostgREST and runs this with
//! `CAREER_TEST_*` set): what a queue-fed function costs per message, and what one worker does in a second.
//!
//! 1. **Per-message overhead** of the runtime (`module_runtime::work::queue_batch`: the typed `SqsEvent`, the
//!    deadline, the handler call, the partial batch response, the EMF line) with a handler that does nothing, at
//!    batch sizes 1 and 10.
//! 2. **One worker's throughput**: org-module's invitation-import, as in `cargo xtask dev` (the SQS stand-in, the
//!    local event source mapping receiving, handing over and deleting, the service identity's token, PostgREST and
//!    PostgreSQL), at batch sizes 1 and 10 with one import line per message, then the catalog's 200 lines per message.
//! 3. **The service token**: a cold one (a KMS `Sign` and a token request) against a cached one.
//!
//! Wall time is the loop's; CPU is the worker thread's own (`/proc/thread-self/schedstat`: the handler, the runtime
//! and its clients), not the stand-ins' threads or the database's processes. Everything on loopback over plain HTTP
//! (no TLS). Medians of 5 rounds with min–max, after one unmeasured round.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, reason = "a benchmark")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use module_runtime::aws::{Aws, AwsConfig, Service};
use module_runtime::service_identity::{ServiceConfig, ServiceIdentity};
use module_runtime::{work, Config, Container, DbConfig, OnMessage};
use route_registry::modules::org::{IMPORT_LINES_PER_MESSAGE, INVITATION_IMPORT};
use serde_json::{json, Value};
use standins::kms::KmsStandin;
use standins::okta::OktaStandin;
use standins::sqs::SqsStandin;

const ROUNDS: usize = 5;

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run this through `cargo xtask bench queue`"))
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// Median and min–max of a round's figure.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

fn aws(sqs: &str, kms: &str) -> AwsConfig {
    AwsConfig {
        region: "us-east-1".into(),
        access_key_id: "local".into(),
        secret_access_key: "local".into(),
        session_token: None,
        sqs_endpoint: Some(sqs.to_owned()),
        kms_endpoint: Some(kms.to_owned()),
    }
}

fn sqs_event(n: usize, body: &str) -> lambda_http::aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({"messageId": format!("m{i}"), "receiptHandle": format!("r{i}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1765000000000"},
                   "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).unwrap()
}

/// One statement as the superuser, on a thread of its own (the synchronous client must not block the runtime).
fn sql(statement: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Vec<postgres::Row> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
            c.query(statement, params).unwrap()
        })
        .join()
        .unwrap()
    })
}

fn main() {
    module_runtime::metrics::capture();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    // 1. The runtime's own cost per message.
    static NOTHING: OnMessage = OnMessage { run: |_, _| Box::pin(async { Ok(0) }) };
    let idle =
        Container::with_config(INVITATION_IMPORT, module_runtime::http_client::client().unwrap(), Config::default());
    println!(
        "queue benchmark: medians of {ROUNDS} rounds (min–max), loopback, plain HTTP, CPU = the worker thread's\n"
    );
    println!("1. per-message overhead of the runtime, a handler that does nothing, 20,000 messages a round:");
    println!("{:<12} {:>22} {:>22}", "batch size", "wall µs/message", "CPU µs/message");
    for batch in [1usize, 10] {
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for round in 0..=ROUNDS {
            let (start, cpu) = (Instant::now(), thread_cpu());
            for _ in 0..20_000 / batch {
                let deadline = Instant::now() + Duration::from_secs(30);
                let answer = work::queue_batch(&NOTHING, &idle, sqs_event(batch, "{}"), deadline).await;
                assert!(answer.batch_item_failures.is_empty());
            }
            let _ = module_runtime::metrics::take_captured();
            if round > 0 {
                walls.push(start.elapsed().as_secs_f64() * 1e6 / 20_000.0);
                cpus.push((thread_cpu() - cpu).as_secs_f64() * 1e6 / 20_000.0);
            }
        }
        let ((w, w0, w1), (c, c0, c1)) = (spread(walls), spread(cpus));
        println!("{batch:<12} {:>22} {:>22}", format!("{w:.1} ({w0:.1}–{w1:.1})"), format!("{c:.1} ({c0:.1}–{c1:.1})"));
    }

    // The local services of a worker: the queue, the KMS key, the token endpoint; the database's principal.
    let (okta, sqs, kms) =
        (OktaStandin::start("bench").unwrap(), SqsStandin::start().unwrap(), KmsStandin::start().unwrap());
    let key = kms.create_key().unwrap();
    let client = format!("bench-{}", uuid::Uuid::new_v4().simple());
    okta.register_client(&client, key.jwk.clone(), &["career.service"]);
    sql("INSERT INTO app.service_principal (client_id, module) VALUES ($1, 'org-module')", &[&client]);
    let service = ServiceConfig {
        token_url: okta.token_url(),
        client_id: client.clone(),
        key_id: key.arn.clone(),
        scope: "career.service".into(),
    };

    // 3. The service token.
    println!("\n3. the service token (KMS Sign and a token request against the stand-ins), 50 a round:");
    println!("{:<12} {:>22} {:>22}", "token", "wall ms", "CPU ms");
    let http = module_runtime::http_client::client().unwrap();
    for cold in [true, false] {
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        let shared =
            ServiceIdentity::new(http.clone(), Aws::new(http.clone(), aws(&sqs.url, &kms.url)), service.clone());
        for round in 0..=ROUNDS {
            let (start, cpu) = (Instant::now(), thread_cpu());
            for _ in 0..50 {
                let deadline = Instant::now() + Duration::from_secs(10);
                if cold {
                    let fresh = ServiceIdentity::new(
                        http.clone(),
                        Aws::new(http.clone(), aws(&sqs.url, &kms.url)),
                        service.clone(),
                    );
                    fresh.token(deadline).await.unwrap();
                } else {
                    shared.token(deadline).await.unwrap();
                }
            }
            if round > 0 {
                walls.push(start.elapsed().as_secs_f64() * 1e3 / 50.0);
                cpus.push((thread_cpu() - cpu).as_secs_f64() * 1e3 / 50.0);
            }
        }
        let ((w, w0, w1), (c, c0, c1)) = (spread(walls), spread(cpus));
        println!(
            "{:<12} {:>22} {:>22}",
            if cold { "cold" } else { "cached" },
            format!("{w:.3} ({w0:.3}–{w1:.3})"),
            format!("{c:.3} ({c0:.3}–{c1:.3})")
        );
    }

    // 2. One worker.
    let mut triggers = local_api::triggers::Triggers {
        aws: aws(&sqs.url, &kms.url),
        token_url: okta.token_url(),
        service_keys: vec![("org-module".into(), key.arn.clone())],
        visibility_timeout_s: 30,
        fire_schedules: false,
        queues: Vec::new(),
        dlqs: Vec::new(),
        documents: None,
    };
    triggers.create_queues(&reqwest::Client::new()).await.unwrap();
    let url = triggers.queue_url(&INVITATION_IMPORT).unwrap().to_owned();
    let config = Config {
        db: Some(DbConfig { rest_url: var("CAREER_TEST_POSTGREST_URL"), anon_key: String::new() }),
        ..Default::default()
    };
    // The worker's container must act as dev's client id; the bench registers its own, so it replaces the id.
    sql(
        "INSERT INTO app.service_principal (client_id, module) VALUES ($1, 'org-module') ON CONFLICT (client_id) DO NOTHING",
        &[&settings::Env::Dev.settings().service_client_id("org-module")],
    );
    okta.register_client(
        &settings::Env::Dev.settings().service_client_id("org-module"),
        key.jwk.clone(),
        &["career.service"],
    );
    let app = Arc::new(local_api::App::new("127.0.0.1:9".parse().unwrap(), &config, Some(triggers)).unwrap());
    let sender = Aws::new(reqwest::Client::new(), aws(&sqs.url, &kms.url));
    let owner = format!("bench-owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let org: String = {
        let rows = sql(
            "WITH i AS (INSERT INTO identities (idp_subject, email) VALUES ($1, $1) RETURNING id),
                  o AS (INSERT INTO org (name, created_by) SELECT 'Bench', id FROM i RETURNING id, created_by)
             INSERT INTO org_member (org_id, user_id, role, created_by) SELECT id, created_by, 'owner', created_by FROM o
             RETURNING org_id::text",
            &[&owner],
        );
        rows[0].get(0)
    };
    let token = dev_issuer::Claims::new(&owner).email(&owner).sign().unwrap();
    let rest = var("CAREER_TEST_POSTGREST_URL");
    let mut serial = 0;
    let mut import = |lines: usize| {
        serial += 1;
        let lines: Vec<Value> = (1..=lines)
            .map(|n| json!({"line": n, "address": format!("bench-{serial}-{n}-{}@example.com", &org[..8])}))
            .collect();
        let (rest, token, org) = (rest.clone(), token.clone(), org.clone());
        async move {
            let answer: Value = reqwest::Client::new()
                .post(format!("{rest}/rpc/start_invitation_import"))
                .bearer_auth(token)
                .json(&json!({"p_org_id": org, "p_lines": lines}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["id"].as_str().unwrap_or_else(|| panic!("no import: {answer}")).to_owned()
        }
    };
    println!("\n2. one worker (invitation-import: receive, hand over, database, delete), 200 messages a round:");
    println!(
        "{:<28} {:>18} {:>18} {:>16}",
        "batch size, lines/message", "messages/s", "wall ms/message", "CPU ms/message"
    );
    for (batch, per_message) in [(1u32, 1usize), (10, 1), (10, IMPORT_LINES_PER_MESSAGE)] {
        let messages = if per_message == 1 { 200 } else { 10 };
        let (mut rates, mut walls, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..=ROUNDS {
            let task = import(messages * per_message).await;
            let bodies: Vec<Value> = (0..messages)
                .map(|i| {
                    json!({"Id": i.to_string(), "MessageBody": json!({"task_id": task, "first": i * per_message + 1,
                            "last": (i + 1) * per_message}).to_string()})
                })
                .collect();
            for chunk in bodies.chunks(10) {
                sender
                    .call(
                        Service::Sqs,
                        "SendMessageBatch",
                        &json!({"QueueUrl": url, "Entries": chunk}),
                        Duration::from_secs(5),
                        Instant::now() + Duration::from_secs(10),
                    )
                    .await
                    .unwrap();
            }
            let (start, cpu) = (Instant::now(), thread_cpu());
            let mut handled = 0;
            while handled < messages {
                let (got, failed) = app.poll_once(&INVITATION_IMPORT, batch, 1).await.unwrap();
                assert_eq!(failed, 0, "a message failed");
                handled += got;
            }
            let (wall, busy) = (start.elapsed(), thread_cpu() - cpu);
            let _ = module_runtime::metrics::take_captured();
            let state: String = sql("SELECT state::text FROM task WHERE id = $1::text::uuid", &[&task])[0].get(0);
            assert_eq!(state, "succeeded");
            if round > 0 {
                rates.push(messages as f64 / wall.as_secs_f64());
                walls.push(wall.as_secs_f64() * 1e3 / messages as f64);
                cpus.push(busy.as_secs_f64() * 1e3 / messages as f64);
            }
        }
        let ((r, r0, r1), (w, w0, w1), (c, c0, c1)) = (spread(rates), spread(walls), spread(cpus));
        println!(
            "{:<28} {:>18} {:>18} {:>16}",
            format!("{batch}, {per_message}"),
            format!("{r:.0} ({r0:.0}–{r1:.0})"),
            format!("{w:.2} ({w0:.2}–{w1:.2})"),
            format!("{c:.2} ({c0:.2}–{c1:.2})")
        );
    }
    println!(
        "\n(the org's invitations: {} created by the benchmark)",
        sql("SELECT count(*) FROM org_invitation WHERE org_id = $1::text::uuid", &[&org])[0].get::<_, i64>(0)
    );
}
