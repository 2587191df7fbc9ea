//! The module's routes end to end against the test database and PostgREST, as every module's are: a member creates,
//! lists, reads, renames and deletes gizmos of their organization; someone outside it sees and changes nothing.
//!
//! The test command applies `migrations/`; the template's own table is in `migration.sql` next to this crate
//! (`cargo xtask new-module` moves it into `migrations/`), so when the table is missing this test applies that
//! file first and waits for PostgREST to see it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::time::{Duration, Instant};

use module_runtime::{events, Config, Container, DbConfig};
use route_registry::modules::template::GIZMOS;
use serde_json::{json, Value};

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
            let mut tx = c.transaction().unwrap();
            tx.batch_execute(&sql).unwrap();
            tx.batch_execute("NOTIFY pgrst, 'reload schema'").unwrap();
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
    let response = module_runtime::function::handle_http(
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
    let config =
        Config { db: Some(DbConfig { rest_url: rest, anon_key: String::new() }), okta: None, ..Default::default() };
    let container = Container::with_config(GIZMOS, module_runtime::http::client().unwrap(), config);
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
