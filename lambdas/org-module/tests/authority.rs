//! Invitations and identities against look-alike addresses and stale authority, each finding of the attack run
//! reproduced and now refused: through the handlers and straight against PostgREST with valid tokens, on the real
//! database. (What needs the Okta stand-in — provisioning look-alikes, caller checks before Okta, re-provisioning —
//! is in `identities.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use common::{db_config, insert_identity, services, su, unique, Api, User, ADMIN_GROUP};
use module_runtime::Config;
use serde_json::{json, Value};

fn api() -> Api {
    module_runtime::logging::init_for_tests();
    Api::new(&Config { db: Some(db_config(&services().rest_url)), okta: None, ..Default::default() })
}

fn person(name: &str, tag: &str) -> User {
    let mut user = User::new(&format!("{name}-{tag}@example.com"));
    user.id = insert_identity(&user.sub, name, tag);
    user
}

/// An organization of `owner` with `admin` as an org admin (invited and accepted).
async fn org_with_admin(api: &Api, owner: &User, admin: &User, tag: &str) -> String {
    let org = api.expect(201, owner, "POST", "/organizations", Some(json!({"name": format!("Org {tag}")}))).await.id();
    let invitation = invite(api, &org, owner, &admin.email, "admin").await;
    api.expect(200, admin, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    org
}

async fn invite(api: &Api, org: &str, by: &User, email: &str, role: &str) -> String {
    api.expect(201, by, "POST", &format!("/organizations/{org}/members"), Some(json!({"email": email, "role": role})))
        .await
        .id()
}

/// PostgREST itself, as a client with a valid token would call it.
async fn rest(user: &User, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/{path}", services().rest_url))
        .bearer_auth(&user.token)
        .header("content-type", "application/json");
    if let Some(b) = body {
        request = request.body(b.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_address_is_refused_and_ascii_case_alone_matches() {
    let (tag, api) = (unique(), api());
    let owner = person("owner", &tag);
    let org = api.expect(201, &owner, "POST", "/organizations", Some(json!({"name": format!("K {tag}")}))).await.id();
    // The invitation is to kelvin-…; the Kelvin sign (U+212A), which Unicode lowercases to `k`, is no address here.
    let real = format!("kelvin-{tag}@example.com");
    invite(&api, &org, &owner, &real, "admin").await;
    let look_alike = format!("\u{212a}elvin-{tag}@example.com");
    let refused = api
        .call(Some(&owner), "POST", &format!("/organizations/{org}/members"), Some(json!({"email": look_alike})))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.error().contains("ASCII"), "{}", refused.body);
    // Nor can such an identity be written, whoever writes it: the column's rule refuses it.
    let written = su(|c| {
        c.execute("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&look_alike])
            .map_err(|e| e.code().cloned())
    });
    assert_eq!(written.unwrap_err(), Some(postgres::error::SqlState::CHECK_VIOLATION));
    // ASCII case is all that folds: the invitee whose address differs in case finds and accepts the invitation.
    let mut invitee = User::new(&format!("KELVIN-{tag}@Example.COM"));
    invitee.id = insert_identity(&invitee.sub, "Kel", "Vin");
    let mine = api.expect(200, &invitee, "GET", "/invitations", None).await;
    assert_eq!(mine.data().as_array().unwrap().len(), 1, "{}", mine.body);
    // Uniqueness uses the same key: another identity whose address differs only in case is refused.
    let twin = su(|c| {
        c.execute("INSERT INTO identities (idp_subject, email) VALUES ($1, $2)", &[&format!("twin-{tag}"), &real])
            .map_err(|e| e.code().cloned())
    });
    assert_eq!(twin.unwrap_err(), Some(postgres::error::SqlState::UNIQUE_VIOLATION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_does_not_outlive_its_senders_authority() {
    let (tag, api) = (unique(), api());
    let owner = person("owner", &tag);
    let org_admin = person("admin", &tag);
    let org = org_with_admin(&api, &owner, &org_admin, &tag).await;
    let members = format!("/organizations/{org}/members");

    // Removed: the admin's open invitation is withdrawn in the same transaction.
    let removed = person("removed", &tag);
    let first = invite(&api, &org, &org_admin, &removed.email, "admin").await;
    api.expect(200, &owner, "DELETE", &format!("{members}/{}", org_admin.id), None).await;
    let answer = api.call(Some(&removed), "POST", &format!("/invitations/{first}/accept"), None).await;
    assert_eq!((answer.status, answer.error()), (409, "the invitation was withdrawn"), "{}", answer.body);
    assert!(api.expect(200, &removed, "GET", "/invitations", None).await.data().as_array().unwrap().is_empty());

    // Demoted to member: the same.
    let second_admin = person("second", &tag);
    let invitation = invite(&api, &org, &owner, &second_admin.email, "admin").await;
    api.expect(200, &second_admin, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    let demoted = person("demoted", &tag);
    let second = invite(&api, &org, &second_admin, &demoted.email, "admin").await;
    api.expect(200, &owner, "PUT", &format!("{members}/{}", second_admin.id), Some(json!({"role": "member"}))).await;
    let answer = api.call(Some(&demoted), "POST", &format!("/invitations/{second}/accept"), None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);

    // Deactivated by the platform: the same, for every organization.
    let third_admin = person("third", &tag);
    let invitation = invite(&api, &org, &owner, &third_admin.email, "admin").await;
    api.expect(200, &third_admin, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    let deactivated = person("deactivated", &tag);
    let third = invite(&api, &org, &third_admin, &deactivated.email, "member").await;
    su(|c| c.execute("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&third_admin.id]))
        .unwrap();
    let answer = api.call(Some(&deactivated), "POST", &format!("/invitations/{third}/accept"), None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);

    // And when the sender lost the right some way that withdrew nothing (a membership changed with triggers off),
    // accepting checks again and refuses.
    let fourth_admin = person("fourth", &tag);
    let invitation = invite(&api, &org, &owner, &fourth_admin.email, "admin").await;
    api.expect(200, &fourth_admin, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    let late = person("late", &tag);
    let fourth = invite(&api, &org, &fourth_admin, &late.email, "admin").await;
    su(|c| {
        c.batch_execute(&format!(
            "BEGIN; SET LOCAL session_replication_role = replica;
             UPDATE org_member SET deleted_at = now() WHERE org_id = '{org}' AND user_id = '{}'; COMMIT;",
            fourth_admin.id
        ))
    })
    .unwrap();
    let answer = api.call(Some(&late), "POST", &format!("/invitations/{fourth}/accept"), None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(answer.error().contains("no longer valid"), "{}", answer.body);
    let members_now = api.expect(200, &owner, "GET", &members, None).await;
    assert!(!members_now.body.to_string().contains(&late.email), "nobody joined on a stale invitation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_admins_see_and_withdraw_open_invitations_and_invitees_see_who_sent_them() {
    let (tag, api) = (unique(), api());
    let owner = person("owner", &tag);
    let org_admin = person("admin", &tag);
    let org = org_with_admin(&api, &owner, &org_admin, &tag).await;
    let invitee = person("invitee", &tag);
    let id = invite(&api, &org, &org_admin, &invitee.email, "member").await;
    let list = format!("/organizations/{org}/invitations");
    for manager in [&owner, &org_admin] {
        let open = api.expect(200, manager, "GET", &list, None).await;
        let open = open.data().as_array().unwrap().clone();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0]["invited_by"]["email"], org_admin.email.as_str());
        assert!(open[0]["sent_at"].is_string() && open[0]["expires_at"].is_string());
    }
    let mine = api.expect(200, &invitee, "GET", "/invitations", None).await;
    assert_eq!(mine.data()[0]["invited_by"]["email"], org_admin.email.as_str(), "who invited them");
    // A member who is neither owner nor admin may not; someone outside sees nothing.
    let member = person("member", &tag);
    let invitation = invite(&api, &org, &owner, &member.email, "member").await;
    api.expect(200, &member, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    assert_eq!(api.call(Some(&member), "GET", &list, None).await.status, 403);
    let stranger = person("stranger", &tag);
    assert_eq!(api.call(Some(&stranger), "GET", &list, None).await.status, 404);
    assert_eq!(api.call(Some(&stranger), "DELETE", &format!("{list}/{id}"), None).await.status, 404);
    // Withdrawn: gone from both lists, refused when accepted, and a second withdrawal finds nothing.
    let revoked = api.expect(200, &owner, "DELETE", &format!("{list}/{id}"), None).await;
    assert_eq!(revoked.data()["status"], "revoked");
    assert!(api.expect(200, &owner, "GET", &list, None).await.data().as_array().unwrap().is_empty());
    assert!(api.expect(200, &invitee, "GET", "/invitations", None).await.data().as_array().unwrap().is_empty());
    assert_eq!(api.call(Some(&invitee), "POST", &format!("/invitations/{id}/accept"), None).await.status, 409);
    assert_eq!(api.call(Some(&owner), "DELETE", &format!("{list}/{id}"), None).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_renew_instead_of_piling_up_and_have_limits() {
    let (tag, api) = (unique(), api());
    let owner = person("owner", &tag);
    let org = api.expect(201, &owner, "POST", "/organizations", Some(json!({"name": format!("L {tag}")}))).await.id();
    // The same address again, in another ASCII case: one invitation, renewed.
    let first = invite(&api, &org, &owner, &format!("pat-{tag}@example.com"), "member").await;
    let again = invite(&api, &org, &owner, &format!("PAT-{tag}@EXAMPLE.com"), "admin").await;
    assert_eq!(first, again);
    let open = api.expect(200, &owner, "GET", &format!("/organizations/{org}/invitations"), None).await;
    assert_eq!(open.data().as_array().unwrap().len(), 1);
    assert_eq!(open.data()[0]["role"], "admin", "renewed with the new role");

    // Sent per hour: the ones already sent this hour count (written here directly, to stay fast); past the limit,
    // 429 with Retry-After, and nothing is written.
    let hourly: i32 = su(|c| c.query_one("SELECT max_invitations_per_hour FROM app.settings", &[]).unwrap().get(0));
    su(|c| {
        c.execute(
            "INSERT INTO org_invitation (org_id, email, invited_by, expires_at, sent_at)
             SELECT $1::text::uuid, format('bulk-%s-%s@example.com', $3::text, n), $2::text::uuid, now() + interval '7 days', now()
             FROM generate_series(1, $4::int) n",
            &[&org, &owner.id, &tag, &(hourly - 2)],
        )
    })
    .unwrap();
    invite(&api, &org, &owner, &format!("last-{tag}@example.com"), "member").await;
    let limited = api
        .call(
            Some(&owner),
            "POST",
            &format!("/organizations/{org}/members"),
            Some(json!({"email": format!("over-{tag}@example.com")})),
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.error().contains("in the last hour"), "{}", limited.body);
    let wait: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");

    // Open per organization: sent long ago (outside the hour), so only the organization's limit applies.
    let per_org: i32 =
        su(|c| c.query_one("SELECT max_open_invitations_per_org FROM app.settings", &[]).unwrap().get(0));
    let other = person("other", &tag);
    let org2 = api.expect(201, &other, "POST", "/organizations", Some(json!({"name": format!("M {tag}")}))).await.id();
    su(|c| {
        c.execute(
            "INSERT INTO org_invitation (org_id, email, invited_by, expires_at, sent_at)
             SELECT $1::text::uuid, format('open-%s-%s@example.com', $3::text, n), $2::text::uuid, now() + interval '7 days',
                    now() - interval '2 hours'
             FROM generate_series(1, $4::int) n",
            &[&org2, &other.id, &tag, &per_org],
        )
    })
    .unwrap();
    let full = api
        .call(
            Some(&other),
            "POST",
            &format!("/organizations/{org2}/members"),
            Some(json!({"email": format!("one-more-{tag}@example.com")})),
        )
        .await;
    assert_eq!(full.status, 409, "{}", full.body);
    assert!(full.error().contains("open invitations, the most it may have"), "{}", full.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgrest_itself_answers_as_the_api_does() {
    let (tag, api) = (unique(), api());
    let owner = person("owner", &tag);
    let org = api.expect(201, &owner, "POST", "/organizations", Some(json!({"name": format!("P {tag}")}))).await.id();
    let member = person("member", &tag);
    let invitation = invite(&api, &org, &owner, &member.email, "member").await;
    api.expect(200, &member, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    let post = reqwest::Method::POST;

    // The refusals are the client's: 4xx from PostgREST too, with the API's message.
    let (status, body) =
        rest(&owner, post.clone(), "rpc/get_identity", Some(json!({"p_id": uuid::Uuid::new_v4()}))).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        rest(&owner, post.clone(), "rpc/remove_org_member", Some(json!({"p_org_id": org, "p_user_id": owner.id})))
            .await;
    assert_eq!(status, 409, "the last owner: {body}");
    let (status, body) = rest(
        &member,
        post.clone(),
        "rpc/change_member_role",
        Some(json!({"p_org_id": org, "p_user_id": owner.id, "p_role": "member"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // Deactivated members are hidden from PostgREST's own view of memberships, as from the API's list.
    su(|c| c.execute("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&member.id])).unwrap();
    let (status, rows) =
        rest(&owner, reqwest::Method::GET, &format!("org_member?org_id=eq.{org}&select=user_id"), None).await;
    assert_eq!(status, 200);
    assert_eq!(rows, json!([{"user_id": owner.id}]), "only the active owner");

    // One rule for admin: `groups` with anything but strings names no group, in the database as in the API.
    let mut pretender = User::with_groups(&format!("pretender-{tag}@example.com"), &[]);
    pretender.id = insert_identity(&pretender.sub, "Pre", "Tender");
    pretender.token = dev_issuer::Claims::new(&pretender.sub)
        .email(&pretender.email)
        .extra(json!({"groups": [ADMIN_GROUP, 1]}))
        .sign()
        .unwrap();
    let (_, visible) = rest(&pretender, reqwest::Method::GET, "identities?select=id", None).await;
    assert_eq!(visible, json!([{"id": pretender.id}]), "sees itself only, as a non-admin does");
    let answer = api.call(Some(&pretender), "GET", &format!("/identities/{}", owner.id), None).await;
    assert_eq!(answer.status, 404, "the API refuses it too: {}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_database_message_reaches_a_client() {
    let (tag, api) = (unique(), api());
    let user = person("norole", &tag);
    // A token without a `role` claim acts as `anon` in PostgREST, which is granted nothing.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(dev_issuer::KID.into());
    let claims = json!({"iss": dev_issuer::ISSUER, "aud": dev_issuer::audience("dev"), "sub": user.sub,
                        "email": user.email, "iat": now, "exp": now + 600});
    let token = dev_issuer::sign_raw(&header, &claims).unwrap();
    let answer = api.call(Some(&user.with_token(token)), "GET", "/organizations", None).await;
    assert_eq!((answer.status, answer.error()), (403, "Forbidden"), "{}", answer.body);
}

/// The database's own invariants: every API function raises PostgREST's status codes (never the platform's former
/// P0002/P0409/42501/23505, which PostgREST answers with 500 or by its own rules), and the API role may execute only
/// the `app` helpers its policies and the pre-request check evaluate as the caller.
#[test]
fn the_database_keeps_its_codes_and_its_helpers_to_itself() {
    let mut client = postgres::Client::connect(&services().pg_url, postgres::NoTls).unwrap();
    let stale: Vec<String> = client
        .query(
            "SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN ('public', 'app') AND p.prosrc ~ 'ERRCODE = ''(P0002|P0409|42501|23505)'''",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(stale.is_empty(), "functions raising codes PostgREST does not answer as 4xx: {stale:?}");
    let executable: Vec<String> = client
        .query(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'app' AND has_function_privilege('authenticated', p.oid, 'EXECUTE') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        executable,
        [
            "check_request",
            "current_subject",
            "current_user_id",
            "is_active_identity",
            "is_admin",
            "jwt_claims",
            "my_org_ids",
            "org_role",
            "share_holds",
        ],
        "only what policies and the pre-request check call as the caller"
    );
}
