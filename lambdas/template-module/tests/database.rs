//! The module's routes end to end against the test database and PostgREST, as every module's are: a member creates,
//! lists, reads, renames and deletes gizmos of their organization; someone outside it sees and changes nothing;
//! every change is queued for the indexer. And each function without a caller, handed the event its trigger
//! delivers in AWS, does its work as the module's service principal (a token from the Okta stand-in's token
//! endpoint, the assertion signed by the KMS stand-in), once however often the event comes.
//!
//! The test command applies `migrations/`; the template's own table is in `migration.sql` next to this crate
//! (`cargo xtask new-module` moves it into `migrations/`), so when the table is missing this test applies that
//! file first and waits for PostgREST to see it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::time::{Duration, Instant};

use module_runtime::aws::{Aws, AwsConfig, Service};
use module_runtime::service_identity::ServiceConfig;
use module_runtime::{events, work, Config, Container, DbConfig};
use route_registry::modules::template::{GIZMOS, GIZMO_INDEXER, GIZMO_SWEEP, GIZMO_UPLOADS, MODULE};
use serde_json::{json, Value};
use standins::sqs::SqsStandin;

fn aws(sqs: Option<&str>, kms: Option<&str>) -> AwsConfig {
    AwsConfig {
        region: "us-east-1".into(),
        access_key_id: "local".into(),
        secret_access_key: "local".into(),
        session_token: None,
        sqs_endpoint: sqs.map(str::to_owned),
        kms_endpoint: kms.map(str::to_owned),
    }
}

/// The indexer's queue in an SQS stand-in: its URL.
async fn indexer_queue(sqs: &SqsStandin) -> String {
    let answer = Aws::new(reqwest::Client::new(), aws(Some(&sqs.url), None))
        .call(
            Service::Sqs,
            "CreateQueue",
            &json!({"QueueName": GIZMO_INDEXER.binary}),
            Duration::from_secs(2),
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap();
    answer["QueueUrl"].as_str().unwrap().to_owned()
}

fn var(k: &str) -> String {
    std::env::var(k)
        .unwrap_or_else(|_| panic!("{k} is not set: run this through `cargo xtask test` or `cargo xtask ci`"))
}

fn su<T>(f: impl FnOnce(&mut postgres::Client) -> T) -> T {
    tokio::task::block_in_place(|| {
        f(&mut postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap())
    })
}

struct Person {
    login: String,
    token: String,
}

fn person(name: &str, org: Option<&str>) -> (Person, String) {
    let login = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
    let token = dev_issuer::Claims::new(&login).email(&login).audience(&dev_issuer::audience("dev")).sign().unwrap();
    let org = su(|c| {
        let id: String = c
            .query_one("INSERT INTO identities (idp_subject, email) VALUES ($1, $1) RETURNING id::text", &[&login])
            .unwrap()
            .get(0);
        let org: String = match org {
            Some(o) => o.to_owned(),
            None => c
                .query_one(
                    "INSERT INTO org (name, created_by) VALUES ($1, $2::text::uuid) RETURNING id::text",
                    &[&format!("Org of {name}"), &id],
                )
                .unwrap()
                .get(0),
        };
        c.execute("INSERT INTO org_member (org_id, user_id, role, created_by) VALUES ($1::text::uuid, $2::text::uuid, 'member', $2::text::uuid)", &[&org, &id])
            .unwrap();
        org
    });
    (Person { login, token }, org)
}

async fn ensure_table(rest: &str) {
    let missing: bool = su(|c| c.query_one("SELECT to_regclass('public.gizmos') IS NULL", &[]).unwrap().get(0));
    if missing {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migration.sql");
        let sql = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the table is missing and {path} cannot be read: {e}"));
        su(|c| {
            // Tests of this file run at once: one applies the file, the others wait for it and find the table.
            let mut tx = c.transaction().unwrap();
            tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('template-migration'))").unwrap();
            let still: bool = tx.query_one("SELECT to_regclass('public.gizmos') IS NULL", &[]).unwrap().get(0);
            if still {
                tx.batch_execute(&sql).unwrap();
                tx.batch_execute("NOTIFY pgrst, 'reload schema'").unwrap();
            }
            tx.commit().unwrap();
        });
    }
    // PostgREST answers for the table once its schema cache has it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = reqwest::get(format!("{rest}/gizmos?limit=0")).await.map(|r| r.status().as_u16()).unwrap_or(0);
        if status != 404 {
            return;
        }
        assert!(Instant::now() < deadline, "PostgREST did not load the gizmos table within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn send(container: &Container, who: &Person, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("Bearer {}", who.token);
    let mut event = events::http_request(
        method,
        path,
        &[("authorization", &auth), ("content-type", "application/json")],
        body.map(|b| b.to_string()),
    );
    events::authorize(&mut event, &json!({"sub": who.login, "email": who.login, "groups": "[]"}));
    let response = module_runtime::registration::handle_http(
        template_module::FUNCTIONS,
        route_registry::modules::template::GIZMOS,
        container,
        events::into_request(event),
    )
    .await
    .expect("gizmos is a template-module function");
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_work_with_their_organizations_gizmos_and_nobody_else_can() {
    module_runtime::metrics::capture();
    let rest = var("CAREER_TEST_POSTGREST_URL");
    ensure_table(&rest).await;
    let sqs = SqsStandin::start().unwrap();
    let queue = indexer_queue(&sqs).await;
    let config = Config {
        db: Some(DbConfig { rest_url: rest, anon_key: String::new() }),
        queues: vec![(GIZMO_INDEXER.binary.to_owned(), queue)],
        aws: Some(aws(Some(&sqs.url), None)),
        ..Default::default()
    };
    let container = Container::with_config(GIZMOS, module_runtime::http_client::client().unwrap(), config);
    let (member, org) = person("member", None);
    let (colleague, _) = person("colleague", Some(&org));
    let (outsider, other_org) = person("outsider", None);

    let (status, created) =
        send(&container, &member, "POST", "/gizmos", Some(json!({"org_id": org, "name": "Widget"}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/gizmos/{id}");
    let (status, list) = send(&container, &colleague, "GET", "/gizmos", None).await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(1)), "{list}");
    let (status, renamed) = send(&container, &colleague, "PUT", &path, Some(json!({"name": "Gadget"}))).await;
    assert_eq!((status, &renamed["data"]["name"]), (200, &json!("Gadget")));
    // Both changes were queued for the indexer.
    assert_eq!(
        sqs.bodies(GIZMO_INDEXER.binary),
        [json!({"gizmo_id": id}).to_string(), json!({"gizmo_id": id}).to_string()]
    );

    // Outside the organization: nothing to see, change or delete, and no writing into it.
    assert_eq!(send(&container, &outsider, "GET", &path, None).await.0, 404);
    assert_eq!(send(&container, &outsider, "PUT", &path, Some(json!({"name": "Pwned"}))).await.0, 404);
    assert_eq!(send(&container, &outsider, "DELETE", &path, None).await.0, 404);
    let (status, list) = send(&container, &outsider, "GET", "/gizmos", None).await;
    assert_eq!((status, &list["data"]), (200, &json!([])));
    let (status, body) =
        send(&container, &outsider, "POST", "/gizmos", Some(json!({"org_id": org, "name": "Intruder"}))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        send(&container, &outsider, "POST", "/gizmos", Some(json!({"org_id": other_org, "name": "Mine"}))).await.0,
        201
    );

    // Deleted: gone for everyone, kept in the table.
    assert_eq!(send(&container, &member, "DELETE", &path, None).await.0, 200);
    assert_eq!(send(&container, &colleague, "GET", &path, None).await.0, 404);
    let kept: i64 = su(|c| {
        c.query_one("SELECT count(*) FROM gizmos WHERE id = $1::text::uuid AND deleted_at IS NOT NULL", &[&id])
            .unwrap()
            .get(0)
    });
    assert_eq!(kept, 1);
}

/// A container of a function without a caller, acting as the module's service principal.
fn worker(
    function: route_registry::Function,
    okta: &standins::okta::OktaStandin,
    kms: &standins::kms::KmsStandin,
) -> Container {
    let key = kms.create_key().unwrap();
    let client_id = format!("svc-{}-{}", MODULE.name, uuid::Uuid::new_v4().simple());
    okta.register_client(&client_id, key.jwk.clone(), &["career.service"]);
    su(|c| {
        c.execute("INSERT INTO app.service_principal (client_id, module) VALUES ($1, $2)", &[&client_id, &MODULE.name])
    })
    .unwrap();
    let config = Config {
        db: Some(DbConfig { rest_url: var("CAREER_TEST_POSTGREST_URL"), anon_key: String::new() }),
        service: Some(ServiceConfig {
            token_url: okta.token_url(),
            client_id,
            key_id: key.arn,
            scope: "career.service".into(),
        }),
        aws: Some(aws(None, Some(&kms.url))),
        ..Default::default()
    };
    Container::with_config(function, module_runtime::http_client::client().unwrap(), config)
}

fn registered(function: route_registry::Function) -> module_runtime::Handler {
    template_module::FUNCTIONS.iter().find(|r| r.function == function).unwrap().handler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_does_its_work_once_as_the_module_service_principal() {
    module_runtime::metrics::capture();
    ensure_table(&var("CAREER_TEST_POSTGREST_URL")).await;
    let okta = standins::okta::OktaStandin::start("template").unwrap();
    let kms = standins::kms::KmsStandin::start().unwrap();
    let (_, org) = person("owner", None);
    let gizmo = |deleted_days_ago: Option<i32>| -> String {
        su(|c| {
            c.query_one(
                "INSERT INTO gizmos (org_id, name, deleted_at) VALUES ($1::text::uuid, 'G', now() - make_interval(days => $2))
                 RETURNING id::text",
                &[&org, &deleted_days_ago],
            )
            .unwrap()
            .get(0)
        })
    };
    let soon = || Instant::now() + Duration::from_secs(20);

    // The indexer: a batch with the same message twice and one that is not a change; only the bad one fails.
    let live = gizmo(None);
    let module_runtime::Handler::Queue(on) = registered(GIZMO_INDEXER) else { panic!("a queue handler") };
    let indexer = worker(GIZMO_INDEXER, &okta, &kms);
    let record = |id: &str, body: &str, receives: u32| {
        json!({"messageId": id, "receiptHandle": id, "body": body,
               "attributes": {"ApproximateReceiveCount": receives.to_string(), "SentTimestamp": "1765000000000"},
               "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
    };
    let change = json!({"gizmo_id": live}).to_string();
    let event = serde_json::from_value(json!({"Records": [
        record("m1", &change, 1), record("m1", &change, 2), record("m2", "not json", 1),
    ]}))
    .unwrap();
    let answer = work::queue_batch(on, &indexer, event, soon()).await;
    let failed: Vec<&str> = answer.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m2"]);
    let indexed: bool = su(|c| {
        c.query_one("SELECT indexed_at IS NOT NULL FROM gizmos WHERE id = $1::text::uuid", &[&live]).unwrap().get(0)
    });
    assert!(indexed);

    // The sweep: what was deleted over 30 days ago goes; what was deleted yesterday stays.
    let (old, recent) = (gizmo(Some(40)), gizmo(Some(1)));
    let module_runtime::Handler::Schedule(on) = registered(GIZMO_SWEEP) else { panic!("a schedule handler") };
    let sweeper = worker(GIZMO_SWEEP, &okta, &kms);
    let run = serde_json::from_value(json!({
        "version": "0", "id": "run-1", "detail-type": "Scheduled Event", "source": "aws.scheduler",
        "account": "000000000000", "time": "2026-12-06T03:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"attempt": "1"},
    }))
    .unwrap();
    work::scheduled(on, &sweeper, run, soon()).await.unwrap();
    let left: Vec<String> = su(|c| {
        c.query("SELECT id::text FROM gizmos WHERE id = ANY($1::text[]::uuid[])", &[&vec![old.clone(), recent.clone()]])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert_eq!(left, [recent]);

    // The uploads: a created document recorded once, however often the event comes; its key form-decoded.
    let key = format!("gizmos/{}/a+report.pdf", uuid::Uuid::new_v4().simple());
    let module_runtime::Handler::ObjectsCreated(on) = registered(GIZMO_UPLOADS) else { panic!("an objects handler") };
    let uploads = worker(GIZMO_UPLOADS, &okta, &kms);
    let created = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-06T10:00:00.000Z", "eventName": "ObjectCreated:Post",
        "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": "documents", "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::documents"},
            "object": {"key": key, "size": 10, "eTag": "e", "sequencer": "1"}},
    }]});
    for _ in 0..2 {
        work::objects(on, &uploads, serde_json::from_value(created.clone()).unwrap(), soon()).await.unwrap();
    }
    let decoded = key.replace('+', " ");
    let recorded: i64 =
        su(|c| c.query_one("SELECT count(*) FROM gizmo_uploads WHERE key = $1", &[&decoded]).unwrap().get(0));
    assert_eq!(recorded, 1);

    // A user's token cannot call the module's service functions.
    let (person, _) = person("user", None);
    let refused = reqwest::Client::new()
        .post(format!("{}/rpc/sweep_gizmos", var("CAREER_TEST_POSTGREST_URL")))
        .bearer_auth(&person.token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(matches!(refused, 401 | 403 | 404), "{refused}");
}
