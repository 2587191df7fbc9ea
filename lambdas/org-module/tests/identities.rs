//! identities-management with Okta: the Okta stand-in (which speaks Okta's published Users API; every exchange is
//! recorded for the contract check when `OKTA_CONTRACT_LOG` is set) and the real database.
//!
//! Provisioning creates the Okta user and then the identity; a retry after a failed database step completes it
//! without a second Okta user; deactivation deprovisions in Okta and refuses the identity everywhere; provisioning
//! again or the reactivate route brings it back; Okta's failures answer 400/502/503/504 within their bounds, and
//! none of them leaves a half-written identity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use std::time::Duration;

use common::{admin, db_config, okta_config, services, su, unique, Api, User};
use module_runtime::Config;
use serde_json::{json, Value};
use standins::okta::{Fault, OktaStandin};

struct World {
    api: Api,
    okta: OktaStandin,
    admin: User,
    tag: String,
}

fn world_with_timeout(timeout: Duration) -> World {
    module_runtime::logging::init_for_tests();
    let okta = OktaStandin::start("test-okta-token").unwrap();
    let mut okta_cfg = okta_config(&okta);
    okta_cfg.timeout = timeout;
    let api =
        Api::new(&Config { db: Some(db_config(&services().rest_url)), okta: Some(okta_cfg), ..Default::default() });
    let tag = unique();
    World { api, okta, admin: admin(&tag), tag }
}

fn world() -> World {
    world_with_timeout(Duration::from_secs(5))
}

fn identities_with_email(email: &str) -> i64 {
    su(|c| c.query_one("SELECT count(*) FROM identities WHERE lower(email) = lower($1)", &[&email]).unwrap().get(0))
}

impl World {
    fn login(&self, name: &str) -> String {
        format!("{name}-{}@example.com", self.tag)
    }

    async fn provision(&self, login: &str) -> (User, Value) {
        let answer = self
            .api
            .expect(
                201,
                &self.admin,
                "POST",
                "/identities",
                Some(json!({"email": login, "first_name": "Pat", "last_name": "Doe"})),
            )
            .await;
        let mut user = User::new(login);
        user.id = answer.id();
        (user, answer.data().clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_creates_the_okta_user_then_the_identity_and_the_user_is_in() {
    let w = world();
    let login = w.login("new");
    let (user, identity) = w.provision(&login).await;
    assert_eq!(identity["idp_subject"], login.as_str(), "the subject is the Okta login, as Okta's tokens carry it");
    // Activated without credentials, as Okta does it: PROVISIONED until the user sets a password from Okta's e-mail.
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("PROVISIONED"));
    let okta_id = identity["okta_id"].as_str().unwrap();
    assert!(okta_id.starts_with("00u"), "{identity}");
    let me = w.api.expect(200, &user, "GET", "/profiles/me", None).await;
    assert_eq!((&me.data()["first_name"], &me.data()["last_name"]), (&json!("Pat"), &json!("Doe")));
    // The same request again (a client retry) changes nothing and makes no second Okta user.
    let users = w.okta.user_count();
    let again = w
        .api
        .expect(
            201,
            &w.admin,
            "POST",
            "/identities",
            Some(json!({"email": login, "first_name": "Pat", "last_name": "Doe"})),
        )
        .await;
    assert_eq!(again.id(), user.id);
    assert_eq!(w.okta.user_count(), users);
    // A staged user: `activate: false` leaves them for Okta's own activation flow.
    let staged = w.login("staged");
    w.api
        .expect(
            201,
            &w.admin,
            "POST",
            "/identities",
            Some(json!({"email": staged, "first_name": "S", "last_name": "T", "activate": false})),
        )
        .await;
    assert_eq!(w.okta.status_of(&staged).as_deref(), Some("STAGED"));
    // An active identity with this e-mail under another login is refused before Okta is asked.
    let exchanges = w.okta.exchanges().len();
    let clash = w
        .api
        .call(
            Some(&w.admin),
            "POST",
            "/identities",
            Some(json!({"email": login, "login": w.login("other"), "first_name": "P", "last_name": "D"})),
        )
        .await;
    assert_eq!(clash.status, 409, "{}", clash.body);
    assert_eq!(w.okta.exchanges().len(), exchanges, "Okta was not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_database_step_failed_completes_without_a_second_okta_user() {
    let w = world();
    let login = w.login("retry");
    let function = format!("fail_identity_{}", w.tag);
    su(|c| {
        c.batch_execute(&format!(
            "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.idp_subject = '{login}' THEN RAISE EXCEPTION 'forced failure of the identity insert'; END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER {function} BEFORE INSERT ON public.identities FOR EACH ROW EXECUTE FUNCTION {function}();"
        ))
    })
    .unwrap();
    let body = json!({"email": login, "first_name": "Re", "last_name": "Try"});
    let failed = w.api.call(Some(&w.admin), "POST", "/identities", Some(body.clone())).await;
    su(|c| c.batch_execute(&format!("DROP TRIGGER {function} ON public.identities; DROP FUNCTION {function}();")))
        .unwrap();
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("PROVISIONED"), "Okta went first");
    assert_eq!(identities_with_email(&login), 0, "nothing half-written in the database");
    let users = w.okta.user_count();
    let done = w.api.expect(201, &w.admin, "POST", "/identities", Some(body)).await;
    assert_eq!(w.okta.user_count(), users, "the Okta user was linked, not made twice");
    assert_eq!(identities_with_email(&login), 1);
    assert!(done.data()["okta_id"].as_str().unwrap().starts_with("00u"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_is_reversible_and_refuses_the_identity_everywhere_meanwhile() {
    let w = world();
    let login = w.login("leaver");
    let (user, _) = w.provision(&login).await;
    let path = format!("/identities/{}", user.id);
    w.api.expect(200, &w.admin, "DELETE", &path, None).await;
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("DEPROVISIONED"));
    let refused = w.api.expect(403, &user, "GET", "/profiles/me", None).await;
    assert_eq!(refused.error(), "the caller has no active identity on this platform");
    w.api.expect(403, &user, "POST", "/organizations", Some(json!({"name": "x"}))).await;
    // The same request again completes nothing new and fails nothing.
    w.api.expect(200, &w.admin, "DELETE", &path, None).await;
    // Provisioning the same login again brings the same identity back, in Okta too.
    let (back, _) = w.provision(&login).await;
    assert_eq!(back.id, user.id);
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("PROVISIONED"));
    w.api.expect(200, &user, "GET", "/profiles/me", None).await;
    // The explicit route does the same.
    w.api.expect(200, &w.admin, "DELETE", &path, None).await;
    let reactivated = w.api.expect(200, &w.admin, "POST", &format!("{path}/reactivate"), None).await;
    assert_eq!(reactivated.data()["deactivated_at"], Value::Null);
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("PROVISIONED"));
    w.api.expect(200, &user, "GET", "/profiles/me", None).await;
    // Reactivating an active identity changes nothing in Okta and answers the identity as it is.
    let exchanges = w.okta.exchanges().iter().filter(|e| e.method == "POST").count();
    let again = w.api.expect(200, &w.admin, "POST", &format!("{path}/reactivate"), None).await;
    assert_eq!(again.data()["deactivated_at"], Value::Null);
    assert_eq!(w.okta.exchanges().iter().filter(|e| e.method == "POST").count(), exchanges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniqueness_holds_over_active_identities_only() {
    let w = world();
    let email = w.login("shared");
    let (first, _) = w.provision(&email).await;
    w.api.expect(200, &w.admin, "DELETE", &format!("/identities/{}", first.id), None).await;
    // The e-mail is free again: someone else, under another login, may have it.
    let second = w
        .api
        .expect(
            201,
            &w.admin,
            "POST",
            "/identities",
            Some(json!({"email": email, "login": w.login("newcomer"), "first_name": "N", "last_name": "C"})),
        )
        .await;
    assert_ne!(second.id(), first.id);
    // So the first one cannot come back while the second holds the e-mail.
    let answer = w.api.expect(409, &w.admin, "POST", &format!("/identities/{}/reactivate", first.id), None).await;
    assert!(answer.error().contains("subject or e-mail"), "{}", answer.body);
    assert_eq!(w.okta.status_of(&email).as_deref(), Some("DEPROVISIONED"), "refused before Okta was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_okta_user_is_linked_by_login() {
    let w = world();
    let login = w.login("existing");
    w.okta.add_user(&login, &login, "Ex", "Isting", "ACTIVE");
    let linked = w.api.expect(201, &w.admin, "POST", "/identities/link", Some(json!({"login": login}))).await;
    assert_eq!(linked.data()["idp_subject"], login.as_str());
    w.api.expect(200, &User::new(&login), "GET", "/profiles/me", None).await;
    w.api.expect(404, &w.admin, "POST", "/identities/link", Some(json!({"login": w.login("nobody")}))).await;
    let gone = w.login("gone");
    w.okta.add_user(&gone, &gone, "Go", "Ne", "DEPROVISIONED");
    w.api.expect(409, &w.admin, "POST", "/identities/link", Some(json!({"login": gone}))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_failures_answer_honest_statuses_within_their_bounds_and_write_nothing() {
    let bound = Duration::from_millis(1500);
    let w = world_with_timeout(bound);
    let margin = Duration::from_millis(750);
    let cases: Vec<(&str, Fault, u16, &str)> = vec![
        ("rate limited", Fault::RateLimited { reset_in_s: 7 }, 503, "the identity provider is unavailable; retry in"),
        ("5xx", Fault::ServerError, 502, "the identity provider answered with an error"),
        (
            "slower than the bound",
            Fault::Slow(Duration::from_secs(4)),
            504,
            "the identity provider did not answer in time",
        ),
        ("hanging", Fault::Hang, 504, "the identity provider did not answer in time"),
    ];
    for (what, fault, status, message) in cases {
        w.okta.set_fault(fault);
        let email = w.login(&what.replace(' ', "-"));
        let answer = w
            .api
            .call(
                Some(&w.admin),
                "POST",
                "/identities",
                Some(json!({"email": email, "first_name": "F", "last_name": "L"})),
            )
            .await;
        w.okta.set_fault(Fault::None);
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert!(answer.error().starts_with(message), "{what}: {}", answer.error());
        assert!(answer.elapsed <= bound + margin, "{what}: answered after {:?}", answer.elapsed);
        assert_eq!(identities_with_email(&email), 0, "{what}: nothing written");
        if status == 503 {
            let retry: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
            assert!((5..=8).contains(&retry), "{what}: Retry-After {retry} follows X-Rate-Limit-Reset");
        }
    }
    // Okta's own validation (an org whose profile policy is stricter than Okta's defaults) comes back as a 400
    // with Okta's summary and causes.
    w.okta.set_fault(Fault::Refuse("firstName"));
    let email = w.login("refused");
    let answer = w
        .api
        .call(Some(&w.admin), "POST", "/identities", Some(json!({"email": email, "first_name": "F", "last_name": "L"})))
        .await;
    w.okta.set_fault(Fault::None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.error().starts_with("Okta refused the request: Api validation failed: firstName"),
        "{}",
        answer.error()
    );
    assert!(answer.error().contains("profile policy"), "{}", answer.error());
    assert_eq!(identities_with_email(&email), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_okta_or_a_refused_api_token_is_503() {
    module_runtime::logging::init_for_tests();
    let tag = unique();
    let platform = admin(&tag);
    let closed = module_runtime::OktaConfig {
        base_url: "http://127.0.0.1:1".into(),
        token: "t".into(),
        timeout: Duration::from_secs(1),
    };
    let api = Api::new(&Config { db: Some(db_config(&services().rest_url)), okta: Some(closed), ..Default::default() });
    let email = format!("unreachable-{tag}@example.com");
    let answer = api
        .call(
            Some(&platform),
            "POST",
            "/identities",
            Some(json!({"email": email, "first_name": "U", "last_name": "R"})),
        )
        .await;
    assert_eq!((answer.status, answer.retry_after.as_deref()), (503, Some("5")), "{}", answer.body);
    // A token Okta refuses (rotated) is 503, not a client error.
    let okta = OktaStandin::start("the-new-token").unwrap();
    let mut stale = okta_config(&okta);
    stale.token = "the-old-token".into();
    let api = Api::new(&Config { db: Some(db_config(&services().rest_url)), okta: Some(stale), ..Default::default() });
    let answer = api
        .call(
            Some(&platform),
            "POST",
            "/identities",
            Some(json!({"email": email, "first_name": "U", "last_name": "R"})),
        )
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(identities_with_email(&email), 0);
}

/// Every route of identities-management that needs a platform admin answers 403 to anyone else before Okta is asked
/// anything: a token naming the admin group without an identity on the platform, and a deactivated admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_checks_come_before_any_okta_request() {
    let w = world();
    let existing = w.login("existing");
    w.okta.add_user(&existing, &existing, "Ex", "Isting", "ACTIVE");
    let (target, _) = w.provision(&w.login("target")).await;
    let unprovisioned = User::with_groups(&w.login("outsider"), &[common::ADMIN_GROUP]);
    let deactivated = common::admin(&format!("{}-old", w.tag));
    su(|c| c.execute("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&deactivated.id]))
        .unwrap();
    let admin_routes: Vec<_> = route_registry::modules::org::ROUTES
        .iter()
        .filter(|r| {
            r.function == route_registry::modules::org::IDENTITIES_MANAGEMENT && r.auth == route_registry::Auth::Admin
        })
        .collect();
    assert!(!admin_routes.is_empty());
    for caller in [&unprovisioned, &deactivated] {
        for route in &admin_routes {
            let before = w.okta.exchanges().len();
            // A body the route takes, so what refuses is the caller, not the request.
            let body = match route.path {
                "/identities/link" => Some(json!({"login": existing})),
                "/identities" => Some(json!({"email": w.login("probe"), "first_name": "P", "last_name": "Q"})),
                _ => None,
            };
            let path = route.fill(|_| target.id.clone());
            let answer = w.api.call(Some(caller), route.method.as_str(), &path, body).await;
            assert_eq!(answer.status, 403, "{} as {}: {}", route.key(), caller.sub, answer.body);
            assert_eq!(w.okta.exchanges().len(), before, "{} as {} asked Okta", route.key(), caller.sub);
        }
    }
}

/// A deactivated identity comes back only through reactivate or a provisioning request that matches its e-mail
/// and Okta user; a mismatch is 409 naming the conflict, and Okta's user stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprovisioning_a_deactivated_login_matches_or_refuses() {
    let w = world();
    let login = w.login("returning");
    let (user, identity) = w.provision(&login).await;
    w.api.expect(200, &w.admin, "DELETE", &format!("/identities/{}", user.id), None).await;
    let other_email = w.login("elsewhere");
    let answer = w
        .api
        .expect(
            409,
            &w.admin,
            "POST",
            "/identities",
            Some(json!({"email": other_email, "login": login, "first_name": "R", "last_name": "T"})),
        )
        .await;
    assert!(answer.error().contains(&format!("deactivated identity {}", user.id)), "{}", answer.body);
    assert!(answer.error().contains("reactivate"), "the fix is named: {}", answer.body);
    assert_eq!(w.okta.status_of(&login).as_deref(), Some("DEPROVISIONED"), "Okta was not touched");
    // The database function refuses another Okta user for the login too (a direct caller of PostgREST).
    let direct = reqwest::Client::new()
        .post(format!("{}/rpc/provision_identity", common::services().rest_url))
        .bearer_auth(&w.admin.token)
        .json(&json!({"p_idp_subject": login, "p_email": login, "p_okta_id": "00uSomeoneElse0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status().as_u16(), 409, "{}", direct.text().await.unwrap());
    // The matching request brings it back, with its own Okta user.
    let (back, again) = w.provision(&login).await;
    assert_eq!((back.id, &again["okta_id"]), (user.id, &identity["okta_id"]));
}

/// An address Okta would not take as it is (a letter that only looks like ASCII) is refused at provisioning with 400,
/// before Okta or the database is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_address_is_refused_at_provisioning() {
    let w = world();
    let before = w.okta.exchanges().len();
    let look_alike = format!("\u{212a}elvin-{}@example.com", w.tag);
    let answer = w
        .api
        .expect(
            400,
            &w.admin,
            "POST",
            "/identities",
            Some(json!({"email": look_alike, "first_name": "K", "last_name": "V"})),
        )
        .await;
    assert!(answer.error().starts_with("email:") && answer.error().contains("ASCII"), "{}", answer.body);
    assert_eq!(w.okta.exchanges().len(), before);
}
