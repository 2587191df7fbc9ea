//! Handler tests that need no database: registry coverage, routing (404/405), identity (401), and every bad-input
//! case answering 400 naming the field. The database client points at a closed port, so any request that
//! wrongly reached the database would answer 500 and fail its test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use common::{event, fixture, send, User};
use org_common::{Db, DbConfig};
use route_registry::org;
use serde_json::Value;

fn offline_db() -> Db {
    Db::new(&DbConfig { rest_url: "http://127.0.0.1:1".into(), anon_key: String::new(), jwt_secret: "t".repeat(32) })
        .unwrap()
}

fn alice() -> User {
    User::new("00u-alice", "alice@example.com")
}

fn admin() -> User {
    User::admin("00u-admin")
}

async fn status_and_error(user: Option<&User>, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let (status, body) = send(&offline_db(), event(user, method, path, body), org::ORGS).await;
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

const ID: &str = "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11";

#[test]
fn every_registry_route_has_exactly_one_handler_and_no_other_routes_are_served() {
    let served = org_module::served_routes();
    for route in org::ROUTES {
        let owners: Vec<_> = served.iter().filter(|(r, _)| r == route).collect();
        assert_eq!(owners.len(), 1, "{} must have exactly one handler", route.key());
        assert_eq!(owners[0].1, route.function, "{} is served by the wrong function", route.key());
    }
    for (route, _) in &served {
        assert!(org::ROUTES.contains(route), "{} is served but not in the registry", route.key());
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_in_the_envelope() {
    let db = offline_db();
    for function in org::FUNCTIONS {
        let (status, body) = send(&db, event(Some(&alice()), "GET", "/no/such/path", None), *function).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("Not found")), "{}", function.name);
    }
    assert_eq!(status_and_error(Some(&alice()), "PATCH", "/profiles/me", None).await.0, 404, "no route in registry");
    let (status, body) = send(&db, event(Some(&alice()), "POST", "/profiles/me", None), org::PROFILES).await;
    assert_eq!((status, body["error"].as_str()), (405, Some("Method not allowed")));
}

#[tokio::test]
async fn requests_without_an_identity_are_401_on_every_route() {
    for route in org::ROUTES {
        let path = route.path.replace("{id}", ID).replace("{userId}", ID);
        let (status, error) = status_and_error(None, route.method.as_str(), &path, Some("{}")).await;
        assert_eq!((status, error.as_str()), (401, "Missing caller identity"), "{}", route.key());
    }
    // The fixture without an authorizer block, as API Gateway would never send it.
    let req = lambda_http::request::from_str(&fixture("delete-member-no-authorizer.json")).unwrap();
    let (status, _) = send(&offline_db(), req, org::MEMBERS).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn admin_only_routes_are_403_for_others() {
    let body = r#"{"idp_subject":"00u-x","email":"x@example.com"}"#;
    assert_eq!(status_and_error(Some(&alice()), "POST", "/identities", Some(body)).await.0, 403);
    assert_eq!(status_and_error(Some(&alice()), "DELETE", &format!("/identities/{ID}"), None).await.0, 403);
}

#[tokio::test]
async fn bad_bodies_and_paths_are_400_naming_the_field() {
    let a = Some(alice());
    let adm = Some(admin());
    let long = "x".repeat(201);
    let cases: Vec<(Option<User>, &str, String, String, &str)> = vec![
        (adm.clone(), "POST", "/identities".into(), "not json".into(), "The request body is not valid JSON"),
        (adm.clone(), "POST", "/identities".into(), "".into(), "A JSON request body is required"),
        (
            adm.clone(),
            "POST",
            "/identities".into(),
            r#"{"email":"x@example.com"}"#.into(),
            "missing field `idp_subject`",
        ),
        (
            adm.clone(),
            "POST",
            "/identities".into(),
            r#"{"idp_subject":"a b","email":"x@example.com"}"#.into(),
            "idp_subject: must be an identity-provider subject without spaces",
        ),
        (
            adm.clone(),
            "POST",
            "/identities".into(),
            r#"{"idp_subject":"s","email":"nope"}"#.into(),
            "email: must be an e-mail address",
        ),
        (
            adm.clone(),
            "POST",
            "/identities".into(),
            r#"{"idp_subject":"s","email":"x@example.com","first_name":7}"#.into(),
            "first_name: invalid type: integer `7`, expected a string",
        ),
        (adm.clone(), "GET", "/identities/42".into(), String::new(), "id: must be a UUID"),
        (adm.clone(), "DELETE", "/identities/not-a-uuid".into(), String::new(), "id: must be a UUID"),
        (a.clone(), "PUT", "/profiles/me".into(), r#"{"first_name":"A"}"#.into(), "missing field `last_name`"),
        (
            a.clone(),
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":"A","last_name":"B","phone":"call me maybe"}"#.into(),
            "phone: must be a phone number (digits, spaces, parentheses, dashes, optional leading +)",
        ),
        (
            a.clone(),
            "PUT",
            "/profiles/me".into(),
            r#"{"first_name":"","last_name":"B"}"#.into(),
            "first_name: must be 1 to 100 characters",
        ),
        (
            a.clone(),
            "POST",
            "/organizations".into(),
            format!(r#"{{"name":"{long}"}}"#),
            "name: must be 1 to 200 characters",
        ),
        (
            a.clone(),
            "POST",
            "/organizations".into(),
            r#"{"name":"Acme","created_at":"2020-01-01"}"#.into(),
            "unknown field `created_at`",
        ),
        (a.clone(), "PUT", format!("/organizations/{ID}"), "{}".into(), "Give at least one of name, description"),
        (a.clone(), "PUT", "/organizations/123".into(), r#"{"name":"x"}"#.into(), "id: must be a UUID"),
        (a.clone(), "GET", "/organizations/123/members".into(), String::new(), "id: must be a UUID"),
        (
            a.clone(),
            "POST",
            format!("/organizations/{ID}/members"),
            r#"{"user_id":"6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11","email":"x@example.com"}"#.into(),
            "Give exactly one of user_id, email",
        ),
        (
            a.clone(),
            "POST",
            format!("/organizations/{ID}/members"),
            r#"{"email":"x@example.com","role":"emperor"}"#.into(),
            "role: unknown variant `emperor`, expected one of `owner`, `admin`, `member`",
        ),
        (
            a.clone(),
            "POST",
            format!("/organizations/{ID}/members"),
            r#"{"user_id":"nope"}"#.into(),
            "user_id: UUID parsing failed",
        ),
        (a.clone(), "DELETE", format!("/organizations/{ID}/members/bob"), String::new(), "userId: must be a UUID"),
    ];
    for (user, method, path, body, expected) in cases {
        let body = (!body.is_empty() || method != "GET" && method != "DELETE").then_some(body.as_str());
        let (status, error) = status_and_error(user.as_ref(), method, &path, body).await;
        assert_eq!(status, 400, "{method} {path} {body:?}: {error}");
        assert!(error.contains(expected), "{method} {path} {body:?}: got `{error}`, want `{expected}`");
    }
}

#[tokio::test]
async fn fixture_event_with_unreachable_database_is_a_generic_500() {
    let req = lambda_http::request::from_str(&fixture("put-profile-me.json")).unwrap();
    let (status, body) = send(&offline_db(), req, org::PROFILES).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], Value::from("Internal server error"), "no detail may leak: {body}");
}
