//! org-module end to end against real services: handlers → postgrest client → PostgREST-compatible server →
//! PostgreSQL with the repository's migrations and Row-Level Security.
//!
//! The test command (`cargo xtask ci`) starts the services and passes them in `CAREER_TEST_*` variables; without
//! them these tests fail (they are never skipped). Every test makes its own users and organizations with a unique
//! suffix, so tests run in parallel on one database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use std::sync::{Arc, OnceLock};

use common::{event, send, User};
use org_common::{Db, DbConfig};
use route_registry::org;
use serde_json::{json, Value};

struct Env {
    config: DbConfig,
    pg_url: String,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        org_common::logging::init_for_tests();
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!(
                    "{k} is not set: run these tests through `cargo xtask ci`, which starts PostgreSQL and PostgREST"
                )
            })
        };
        let config = DbConfig {
            rest_url: var("CAREER_TEST_POSTGREST_URL"),
            anon_key: String::new(),
            jwt_secret: var("CAREER_TEST_JWT_SECRET"),
        };
        Env { config, pg_url: var("CAREER_TEST_DATABASE_URL") }
    })
}

/// A client for one test. Each `#[tokio::test]` has its own runtime, and pooled HTTP connections belong to the
/// runtime that opened them, so clients are not shared between tests (a Lambda has a single runtime).
fn db() -> Arc<Db> {
    Arc::new(Db::new(&env().config).unwrap())
}

/// Runs SQL as the superuser (checks RLS would hide, fault injection). The synchronous client must not block
/// the async runtime's thread, hence `block_in_place`.
fn su<T>(f: impl FnOnce(&mut postgres::Client) -> T) -> T {
    tokio::task::block_in_place(|| {
        let mut client = postgres::Client::connect(&env().pg_url, postgres::NoTls).unwrap();
        f(&mut client)
    })
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

async fn call(db: &Db, user: Option<&User>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    send(db, event(user, method, path, body.as_deref()), org::ORGS).await
}

/// Calls and asserts the status, showing the answer when it differs.
async fn expect(db: &Db, status: u16, user: Option<&User>, method: &str, path: &str, body: Option<Value>) -> Value {
    let (got, answer) = call(db, user, method, path, body).await;
    assert_eq!(got, status, "{method} {path}: {answer}");
    answer
}

/// Provisions a user through `POST /identities` and returns it with its platform id.
async fn provision(db: &Db, admin: &User, name: &str, tag: &str) -> (User, String) {
    let user = User::new(&format!("00u-{name}-{tag}"), &format!("{name}-{tag}@example.com"));
    let (status, body) = call(
        db,
        Some(admin),
        "POST",
        "/identities",
        Some(json!({"idp_subject": user.sub, "email": user.email, "first_name": name, "last_name": tag})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (user, body["data"]["id"].as_str().unwrap().to_owned())
}

async fn create_org(db: &Db, owner: &User, name: &str) -> String {
    let (status, body) = call(db, Some(owner), "POST", "/organizations", Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

async fn add_member(db: &Db, by: &User, org: &str, user_id: &str, role: &str) {
    let (status, body) = call(
        db,
        Some(by),
        "POST",
        &format!("/organizations/{org}/members"),
        Some(json!({"user_id": user_id, "role": role})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

struct Tenant {
    org: String,
    owner: (User, String),
    admin: (User, String),
    member: (User, String),
}

async fn tenant(db: &Db, admin: &User, label: &str, tag: &str) -> Tenant {
    let owner = provision(db, admin, &format!("{label}owner"), tag).await;
    let org_admin = provision(db, admin, &format!("{label}admin"), tag).await;
    let member = provision(db, admin, &format!("{label}member"), tag).await;
    let org = create_org(db, &owner.0, &format!("Org {label} {tag}")).await;
    add_member(db, &owner.0, &org, &org_admin.1, "admin").await;
    add_member(db, &owner.0, &org, &member.1, "member").await;
    Tenant { org, owner, admin: org_admin, member }
}

fn live_members(org: &str) -> i64 {
    su(|c| {
        c.query_one("SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND deleted_at IS NULL", &[&org])
            .unwrap()
            .get(0)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_isolation_matrix() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let a = tenant(db, &admin, "a", &tag).await;
    let b = tenant(db, &admin, "b", &tag).await;
    let loner = provision(db, &admin, "loner", &tag).await;
    let org_name = |id: &str| -> String {
        su(|c| c.query_one("SELECT name FROM org WHERE id = $1::text::uuid", &[&id]).unwrap().get(0))
    };
    let b_name_before = org_name(&b.org);
    let b_members_before = live_members(&b.org);

    let outsiders: Vec<(&str, &User, &str)> = vec![
        ("A owner", &a.owner.0, &a.owner.1),
        ("A admin", &a.admin.0, &a.admin.1),
        ("A member", &a.member.0, &a.member.1),
        ("no org", &loner.0, &loner.1),
    ];
    let mut cases = 0;
    let never_b = |who: &str, what: &str, body: &Value| {
        let text = body.to_string();
        for secret in [&b.org, &b.owner.1, &b.admin.1, &b.member.1, &b.owner.0.email] {
            assert!(!text.contains(secret.as_str()), "{who} saw B's data through {what}: {text}");
        }
    };
    for (who, user, own_id) in &outsiders {
        let checks: Vec<(&str, String, Option<Value>, &[u16])> = vec![
            (
                "POST",
                "/identities".into(),
                Some(json!({"idp_subject": format!("x-{tag}-{who}"), "email": "x@example.com"})),
                &[403],
            ),
            ("GET", format!("/identities/{}", b.owner.1), None, &[404]),
            ("DELETE", format!("/identities/{}", b.member.1), None, &[403]),
            ("PUT", format!("/organizations/{}", b.org), Some(json!({"name": "pwned"})), &[404]),
            ("GET", format!("/organizations/{}/members", b.org), None, &[404]),
            ("POST", format!("/organizations/{}/members", b.org), Some(json!({"user_id": own_id})), &[404]),
            ("DELETE", format!("/organizations/{}/members/{}", b.org, b.member.1), None, &[404]),
        ];
        for (method, path, body, allowed) in checks {
            let (status, answer) = call(db, Some(user), method, &path, body).await;
            assert!(allowed.contains(&status), "{who}: {method} {path} → {status} {answer}");
            never_b(who, &format!("{method} {path}"), &answer);
            cases += 1;
        }
        // The "me" routes and the list act on the caller's own data only.
        let (status, me) = call(db, Some(user), "GET", "/profiles/me", None).await;
        assert_eq!((status, me["data"]["id"].as_str()), (200, Some(*own_id)), "{who}");
        never_b(who, "GET /profiles/me", &me);
        let (status, updated) =
            call(db, Some(user), "PUT", "/profiles/me", Some(json!({"first_name": "Eve", "last_name": who}))).await;
        assert_eq!((status, updated["data"]["id"].as_str()), (200, Some(*own_id)), "{who}");
        let (status, list) = call(db, Some(user), "GET", "/organizations", None).await;
        assert_eq!(status, 200);
        never_b(who, "GET /organizations", &list);
        let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
        if *who == "no org" {
            assert!(ids.is_empty(), "{who} sees organizations: {ids:?}");
        } else {
            assert_eq!(ids, [a.org.as_str()], "{who}");
        }
        let (status, created) =
            call(db, Some(user), "POST", "/organizations", Some(json!({"name": format!("{who} new {tag}")}))).await;
        assert_eq!((status, created["data"]["owner_id"].as_str()), (201, Some(*own_id)), "{who}");
        cases += 4;
    }
    // DELETE /profiles/me by an A user removes only their own profile.
    let (a_temp, _) = provision(db, &admin, "atemp", &tag).await;
    expect(db, 200, Some(&a_temp), "DELETE", "/profiles/me", None).await;
    let (status, b_profile) = call(db, Some(&b.member.0), "GET", "/profiles/me", None).await;
    assert_eq!(status, 200, "B's profile must survive: {b_profile}");
    cases += 1;

    // No identity at all: every route is refused.
    for route in org::ROUTES {
        let path = route.path.replace("{id}", &b.org).replace("{userId}", &b.member.1);
        let (status, answer) = call(db, None, route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!(status, 401, "{} without identity: {answer}", route.key());
        cases += 1;
    }

    // B is untouched.
    assert_eq!(org_name(&b.org), b_name_before);
    assert_eq!(live_members(&b.org), b_members_before);
    // B's own members still see B.
    let (status, list) = call(db, Some(&b.member.0), "GET", &format!("/organizations/{}/members", b.org), None).await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(3)));

    println!("tenant isolation: {cases} cases checked");
    assert_eq!(cases, 4 * 11 + 1 + 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_rules() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let t = tenant(db, &admin, "r", &tag).await;
    let (extra, extra_id) = provision(db, &admin, "extra", &tag).await;
    let org_path = format!("/organizations/{}", t.org);
    let members = format!("{org_path}/members");

    // A plain member cannot update the organization or manage members.
    expect(db, 403, Some(&t.member.0), "PUT", &org_path, Some(json!({"name": "x"}))).await;
    expect(db, 403, Some(&t.member.0), "POST", &members, Some(json!({"user_id": extra_id}))).await;
    expect(db, 403, Some(&t.member.0), "DELETE", &format!("{members}/{}", t.admin.1), None).await;
    // An org admin can update and add members, but not owners.
    let (status, updated) =
        call(db, Some(&t.admin.0), "PUT", &org_path, Some(json!({"description": "by admin"}))).await;
    assert_eq!((status, updated["data"]["description"].as_str()), (200, Some("by admin")));
    expect(db, 403, Some(&t.admin.0), "POST", &members, Some(json!({"user_id": extra_id, "role": "owner"}))).await;
    let (status, added) = call(db, Some(&t.admin.0), "POST", &members, Some(json!({"email": extra.email}))).await;
    assert_eq!((status, added["data"]["role"].as_str()), (201, Some("member")), "{added}");
    // Adding an existing member is a conflict.
    expect(db, 409, Some(&t.owner.0), "POST", &members, Some(json!({"user_id": extra_id}))).await;
    // An unknown user is 404.
    expect(db, 404, Some(&t.owner.0), "POST", &members, Some(json!({"email": "ghost@example.com"}))).await;
    // The last owner cannot leave; a member can.
    let (status, answer) = call(db, Some(&t.owner.0), "DELETE", &format!("{members}/{}", t.owner.1), None).await;
    assert_eq!(status, 409, "{answer}");
    expect(db, 200, Some(&extra), "DELETE", &format!("{members}/{extra_id}"), None).await;
    // With a second owner, one owner may go.
    let (_, coowner_id) = provision(db, &admin, "coowner", &tag).await;
    add_member(db, &t.owner.0, &t.org, &coowner_id, "owner").await;
    expect(db, 200, Some(&t.owner.0), "DELETE", &format!("{members}/{}", t.owner.1), None).await;
    // Identity rules: self or admin.
    expect(db, 200, Some(&t.member.0), "GET", &format!("/identities/{}", t.member.1), None).await;
    expect(db, 404, Some(&t.member.0), "GET", &format!("/identities/{}", t.admin.1), None).await;
    expect(db, 200, Some(&admin), "GET", &format!("/identities/{}", t.admin.1), None).await;
    // Duplicate provisioning is a conflict.
    let (status, _) = call(
        db,
        Some(&admin),
        "POST",
        "/identities",
        Some(json!({"idp_subject": t.member.0.sub, "email": "other@example.com"})),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_and_owner_membership_are_atomic() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let (owner, _) = provision(db, &admin, "atomic", &tag).await;
    let probe = format!("atomicity probe {tag}");
    let function = format!("fail_member_{tag}");
    su(|c| {
        c.batch_execute(&format!(
            "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF (SELECT name FROM public.org WHERE id = NEW.org_id) = '{probe}' THEN
             RAISE EXCEPTION 'forced failure of the membership insert';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER {function} BEFORE INSERT ON public.org_member FOR EACH ROW EXECUTE FUNCTION {function}();"
        ))
    })
    .unwrap();
    let (status, body) = call(db, Some(&owner), "POST", "/organizations", Some(json!({ "name": probe }))).await;
    su(|c| c.batch_execute(&format!("DROP TRIGGER {function} ON public.org_member; DROP FUNCTION {function}();")))
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (500, Some("Internal server error")));
    let orgs: i64 = su(|c| c.query_one("SELECT count(*) FROM org WHERE name = $1", &[&probe]).unwrap().get(0));
    assert_eq!(orgs, 0, "the organization must not exist without its owner membership");
    // And the same request works once the fault is gone.
    expect(db, 201, Some(&owner), "POST", "/organizations", Some(json!({ "name": probe }))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deletes_keep_rows_and_hide_them() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let t = tenant(db, &admin, "s", &tag).await;

    // Deactivate an identity: row and profile stay, marked; no endpoint returns them.
    let (victim, victim_id) = provision(db, &admin, "victim", &tag).await;
    expect(db, 200, Some(&admin), "DELETE", &format!("/identities/{victim_id}"), None).await;
    let marked: (bool, bool) = su(|c| {
        let row = c
            .query_one(
                "SELECT i.deactivated_at IS NOT NULL, p.deleted_at IS NOT NULL FROM identities i JOIN profiles p USING (id) WHERE i.id = $1::text::uuid",
                &[&victim_id],
            )
            .unwrap();
        (row.get(0), row.get(1))
    });
    assert_eq!(marked, (true, true));
    expect(db, 404, Some(&admin), "GET", &format!("/identities/{victim_id}"), None).await;
    expect(db, 404, Some(&victim), "GET", &format!("/identities/{victim_id}"), None).await;
    expect(db, 404, Some(&victim), "GET", "/profiles/me", None).await;
    expect(db, 404, Some(&admin), "DELETE", &format!("/identities/{victim_id}"), None).await;

    // Delete a profile.
    expect(db, 200, Some(&t.member.0), "DELETE", "/profiles/me", None).await;
    let deleted: bool = su(|c| {
        c.query_one("SELECT deleted_at IS NOT NULL FROM profiles WHERE id = $1::text::uuid", &[&t.member.1])
            .unwrap()
            .get(0)
    });
    assert!(deleted);
    expect(db, 404, Some(&t.member.0), "GET", "/profiles/me", None).await;
    expect(db, 404, Some(&t.member.0), "PUT", "/profiles/me", Some(json!({"first_name": "A", "last_name": "B"}))).await;
    expect(db, 404, Some(&t.member.0), "DELETE", "/profiles/me", None).await;

    // Remove a member: the membership row stays, marked, and the list no longer shows it.
    let members = format!("/organizations/{}/members", t.org);
    expect(db, 200, Some(&t.owner.0), "DELETE", &format!("{members}/{}", t.admin.1), None).await;
    let rows: i64 = su(|c| {
        c.query_one(
            "SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid AND deleted_at IS NOT NULL",
            &[&t.org, &t.admin.1],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(rows, 1);
    let (_, list) = call(db, Some(&t.owner.0), "GET", &members, None).await;
    assert!(!list.to_string().contains(&t.admin.1));
    // The removed admin lost access.
    expect(db, 404, Some(&t.admin.0), "GET", &members, None).await;
    // And can be added again (history does not block).
    add_member(db, &t.owner.0, &t.org, &t.admin.1, "member").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_adds_of_one_user_give_one_201_and_nineteen_409() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let (owner, _) = provision(db, &admin, "conc", &tag).await;
    let (_, target) = provision(db, &admin, "target", &tag).await;
    let org = create_org(db, &owner, &format!("Concurrent {tag}")).await;
    let path = format!("/organizations/{org}/members");
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (db, owner, path, target) = (Arc::clone(db), owner.clone(), path.clone(), target.clone());
            tokio::spawn(
                async move { call(&db, Some(&owner), "POST", &path, Some(json!({"user_id": target}))).await.0 },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let rows: i64 = su(|c| {
        c.query_one(
            "SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid",
            &[&org, &target],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_paths_return_the_documented_shapes() {
    let tag = unique();
    let db = &db();
    let admin = User::admin(&format!("00u-admin-{tag}"));
    let (user, id) = provision(db, &admin, "happy", &tag).await;
    let (status, me) = call(
        db,
        Some(&user),
        "PUT",
        "/profiles/me",
        Some(json!({"first_name": " Ada ", "last_name": "Lovelace", "phone": "+44 20 7946 0000"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["first_name"], "Ada");
    assert_eq!(me["data"]["phone"], "+44 20 7946 0000");
    assert!(me["data"]["updated_at"].as_str().unwrap() >= me["data"]["created_at"].as_str().unwrap());
    let org = create_org(db, &user, &format!("Happy {tag}")).await;
    let (status, updated) = call(
        db,
        Some(&user),
        "PUT",
        &format!("/organizations/{org}"),
        Some(json!({"name": "Renamed", "description": "d"})),
    )
    .await;
    assert_eq!((status, updated["data"]["name"].as_str()), (200, Some("Renamed")));
    let (status, members) = call(db, Some(&user), "GET", &format!("/organizations/{org}/members"), None).await;
    assert_eq!(status, 200);
    assert_eq!(members["data"][0]["user_id"].as_str(), Some(id.as_str()));
    assert_eq!(members["data"][0]["role"], "owner");
    // An unknown organization is 404, not 403 or 500.
    let ghost = uuid::Uuid::new_v4();
    expect(db, 404, Some(&user), "PUT", &format!("/organizations/{ghost}"), Some(json!({"name": "x"}))).await;
    expect(db, 404, Some(&user), "GET", &format!("/organizations/{ghost}/members"), None).await;
}
