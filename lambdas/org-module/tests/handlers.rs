//! Handler tests that need no services: identity (401), the routes' auth requirement (403 before any dependency is
//! asked), every bad input answering 400 naming the field, what an
//! unreachable database answers, and the request line of each of them against the EMF specification.
//!
//! The database and Okta clients point at a closed port, so a request that wrongly reached either would answer
//! 503 and fail its test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use common::{Api, User, ADMIN_GROUP};
use module_runtime::{metrics, Config, DbConfig, OktaConfig};
use route_registry::modules::org;
use serde_json::Value;

const CLOSED: &str = "http://127.0.0.1:1";
const ID: &str = "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11";

fn offline() -> Api {
    Api::new(&Config {
        db: Some(DbConfig { rest_url: CLOSED.into(), anon_key: String::new() }),
        okta: Some(OktaConfig {
            base_url: CLOSED.into(),
            token: "t".into(),
            timeout: std::time::Duration::from_secs(1),
        }),
        ..Default::default()
    })
}

fn alice() -> User {
    User::new("alice@example.com")
}

fn admin() -> User {
    User::with_groups("admin@example.com", &[ADMIN_GROUP])
}

#[tokio::test]
async fn requests_without_a_caller_are_401_on_every_route() {
    let api = offline();
    for route in org::ROUTES {
        let path = route.fill(|_| ID.to_owned());
        let answer = api.send(None, route.method.as_str(), &path, Some("{}"), org::ORGS).await;
        assert_eq!((answer.status, answer.error()), (401, "Missing caller identity"), "{}", route.key());
    }
}

#[tokio::test]
async fn admin_routes_are_403_for_everyone_outside_the_admin_group_before_any_dependency_is_asked() {
    let api = offline();
    // A group literally named `admin` is not the platform admin group.
    let pretender = User::with_groups("eve@example.com", &["admin", "Admin", "career-platform-admins "]);
    let admin_routes: Vec<_> = org::ROUTES.iter().filter(|r| r.auth == route_registry::Auth::Admin).collect();
    assert!(!admin_routes.is_empty(), "the catalog has admin routes to check");
    for user in [alice(), pretender] {
        for route in &admin_routes {
            let path = route.fill(|_| ID.to_owned());
            let answer = api.send(Some(&user), route.method.as_str(), &path, Some("{}"), org::ORGS).await;
            assert_eq!(
                (answer.status, answer.error()),
                (403, "Platform admin access required"),
                "{} as {:?}",
                route.key(),
                user.groups
            );
        }
    }
}

#[tokio::test]
async fn bad_bodies_and_paths_are_400_naming_the_field() {
    let api = offline();
    let (a, adm) = (alice(), admin());
    let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(201));
    let members = format!("/organizations/{ID}/members");
    let cases: Vec<(&User, &str, String, &str, &str)> = vec![
        (&adm, "POST", "/identities".into(), "not json", "The request body is not valid JSON"),
        (&adm, "POST", "/identities".into(), "", "A JSON request body is required"),
        (&adm, "POST", "/identities".into(), r#"{"first_name":"A","last_name":"B"}"#, "missing field `email`"),
        (
            &adm,
            "POST",
            "/identities".into(),
            r#"{"email":"nope@","first_name":"A","last_name":"B"}"#,
            "email: must be an e-mail address",
        ),
        (
            &adm,
            "POST",
            "/identities".into(),
            r#"{"email":"x@example.com","first_name":7,"last_name":"B"}"#,
            "first_name: invalid type: integer `7`, expected a string",
        ),
        (
            &adm,
            "POST",
            "/identities".into(),
            r#"{"email":"x@example.com","first_name":"A","last_name":"B","login":"a b@example.com"}"#,
            "login: must not contain spaces",
        ),
        (
            &adm,
            "POST",
            "/identities".into(),
            r#"{"email":"x@example.com","first_name":"Ad\u200bmin","last_name":"B"}"#,
            "first_name: must not contain control, bidirectional-control or zero-width characters",
        ),
        (
            &adm,
            "POST",
            "/identities".into(),
            r#"{"email":"x@example.com","first_name":"Anna-Maria-Anna-Maria-Anna-Maria-Anna-Maria-Anna-Maria","last_name":"B"}"#,
            "first_name: must be 1 to 50 characters",
        ),
        (&adm, "POST", "/identities/link".into(), "{}", "missing field `login`"),
        (&adm, "GET", "/identities/42".into(), "", "id: must be a UUID"),
        (&adm, "DELETE", "/identities/not-a-uuid".into(), "", "id: must be a UUID"),
        (&adm, "POST", "/identities/nope/reactivate".into(), "", "id: must be a UUID"),
        (&adm, "PUT", "/organizations/x/owner".into(), r#"{"user_id":"x"}"#, "id: must be a UUID"),
        (&adm, "PUT", format!("/organizations/{ID}/owner"), r#"{"user_id":"x"}"#, "user_id: UUID parsing failed"),
        (&a, "PUT", "/profiles/me".into(), r#"{"first_name":"A"}"#, "missing field `last_name`"),
        (
            &a,
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":"A","last_name":"B","phone":"call me maybe"}"#,
            "phone: must be a phone number",
        ),
        (
            &a,
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":"","last_name":"B"}"#,
            "first_name: must be 1 to 100 characters",
        ),
        (
            &a,
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":"Eve\u202e","last_name":"B"}"#,
            "first_name: must not contain control, bidirectional-control or zero-width characters",
        ),
        (
            &a,
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":" Ada","last_name":"B"}"#,
            "first_name: must not start or end with a space",
        ),
        (&a, "POST", "/organizations".into(), &long, "name: must be 1 to 200 characters"),
        (&a, "POST", "/organizations".into(), r#"{"name":"Acme","owner_id":"x"}"#, "unknown field `owner_id`"),
        (&a, "PUT", format!("/organizations/{ID}"), "{}", "Give at least one of name, description"),
        (&a, "PUT", "/organizations/123".into(), r#"{"name":"x"}"#, "id: must be a UUID"),
        (&a, "GET", "/organizations/123/members".into(), "", "id: must be a UUID"),
        (
            &a,
            "POST",
            members.clone(),
            r#"{"user_id":"6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11"}"#,
            "unknown field `user_id`",
        ),
        (
            &a,
            "POST",
            members.clone(),
            r#"{"email":"x@example.com","role":"owner"}"#,
            "role: unknown variant `owner`, expected `admin` or `member`",
        ),
        (&a, "PUT", format!("{members}/{ID}"), r#"{"role":"emperor"}"#, "role: unknown variant `emperor`"),
        (&a, "DELETE", format!("{members}/bob"), "", "userId: must be a UUID"),
        (&a, "POST", "/invitations/x/accept".into(), "", "id: must be a UUID"),
        (&a, "POST", "/invitations/x/decline".into(), "", "id: must be a UUID"),
    ];
    for (user, method, path, body, expected) in cases {
        let body = (!body.is_empty() || !matches!(method, "GET" | "DELETE")).then_some(body);
        let answer = api.send(Some(user), method, &path, body, org::ORGS).await;
        assert_eq!(answer.status, 400, "{method} {path} {body:?}: {}", answer.body);
        assert!(
            answer.error().contains(expected),
            "{method} {path} {body:?}: got `{}`, want `{expected}`",
            answer.error()
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after_naming_only_the_dependency_class() {
    let api = offline();
    let answer = api.call(Some(&alice()), "GET", "/profiles/me", None).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.error(), "the database is unavailable; retry in 5 s");
    assert_eq!(answer.retry_after.as_deref(), Some("5"));
    assert!(!answer.body.to_string().contains("127.0.0.1"), "no detail may leak: {}", answer.body);
    // Okta too, for the function that uses it (an admin's provisioning asks the database first, so the database
    // fails first: nothing reaches Okta before the prechecks pass).
    let answer = api
        .call(
            Some(&admin()),
            "POST",
            "/identities",
            Some(serde_json::json!({"email": "x@example.com", "first_name": "A", "last_name": "B"})),
        )
        .await;
    assert_eq!((answer.status, answer.error()), (503, "the database is unavailable; retry in 5 s"));
}

#[tokio::test]
async fn every_request_line_is_valid_emf_and_counts_the_answer_in_its_class() {
    metrics::capture();
    let api = offline();
    let answers = [
        api.call(Some(&alice()), "GET", "/no/such/path", None).await.status,
        api.call(None, "GET", "/organizations", None).await.status,
        api.call(Some(&alice()), "PUT", "/profiles/me", Some(serde_json::json!({}))).await.status,
        api.call(Some(&alice()), "GET", "/organizations", None).await.status,
    ];
    assert_eq!(answers, [404, 401, 400, 503]);
    let lines: Vec<Value> = metrics::take_captured()
        .iter()
        .map(|l| {
            metrics::spec::check(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            serde_json::from_str(l).unwrap()
        })
        .collect();
    // Other tests of this binary may run meanwhile; pick this test's lines by their statuses and routes.
    let find = |status: u64, route: &str| {
        lines
            .iter()
            .find(|l| l["status"] == status && l["Route"] == route)
            .unwrap_or_else(|| panic!("no line for {status} {route} in {lines:#?}"))
    };
    let dependency = find(503, "GET /organizations");
    assert_eq!(
        (&dependency["5xx"], &dependency["DependencyErrors"], &dependency["4xx"], &dependency["Requests"]),
        (&Value::from(1), &Value::from(1), &Value::from(0), &Value::from(1))
    );
    assert_eq!(dependency["Function"], "orgs");
    assert_eq!(dependency["Module"], "org-module");
    let refused = find(400, "PUT /profiles/me");
    assert_eq!(
        (&refused["4xx"], &refused["5xx"], &refused["level"]),
        (&Value::from(1), &Value::from(0), &Value::from("WARN"))
    );
    let unmatched = find(404, "unmatched");
    assert_eq!(unmatched["4xx"], 1);
    assert!(
        lines.iter().all(|l| l.get("token").is_none() && !l.to_string().contains(&alice().token)),
        "no token is logged"
    );
}
