//! org-module against real services: handlers → PostgREST-compatible server (verifying each caller's own token
//! against the development issuer's JWKS) → PostgreSQL with the repository's migrations and Row-Level Security.
//!
//! Tenant isolation, invitations with consent, ownership by promotion only, last-owner rules over active
//! identities, the per-user organization limit, members' names, soft deletes, atomicity and races, and the tokens
//! the database itself refuses. Identities that need Okta are in `identities.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use common::{admin, db_config, insert_identity, services, su, unique, Api, User};
use module_runtime::Config;
use route_registry::modules::org;
use serde_json::{json, Value};

fn api() -> Api {
    module_runtime::logging::init_for_tests();
    Api::new(&Config { db: Some(db_config(&services().rest_url)), okta: None, ..Default::default() })
}

/// An active identity (as provisioning leaves one) with a token for it.
fn person(name: &str, tag: &str) -> User {
    let mut user = User::new(&format!("{name}-{tag}@example.com"));
    user.id = insert_identity(&user.sub, name, tag);
    user
}

async fn create_org(api: &Api, owner: &User, name: &str) -> String {
    api.expect(201, owner, "POST", "/organizations", Some(json!({ "name": name }))).await.id()
}

/// `by` invites `who` with `role`, and `who` accepts: the only way in.
async fn join(api: &Api, org: &str, by: &User, who: &User, role: &str) {
    let invitation = api
        .expect(
            201,
            by,
            "POST",
            &format!("/organizations/{org}/members"),
            Some(json!({"email": who.email, "role": role})),
        )
        .await
        .id();
    let membership = api.expect(200, who, "POST", &format!("/invitations/{invitation}/accept"), None).await;
    assert_eq!(membership.data()["role"], role);
}

fn deactivate_directly(user: &User) {
    su(|c| c.execute("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&user.id])).unwrap();
}

fn count(sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> i64 {
    su(|c| c.query_one(sql, params).unwrap().get(0))
}

struct Tenant {
    org: String,
    owner: User,
    admin: User,
    member: User,
}

async fn tenant(api: &Api, label: &str, tag: &str) -> Tenant {
    let owner = person(&format!("{label}owner"), tag);
    let org_admin = person(&format!("{label}admin"), tag);
    let member = person(&format!("{label}member"), tag);
    let org = create_org(api, &owner, &format!("Org {label} {tag}")).await;
    join(api, &org, &owner, &org_admin, "admin").await;
    join(api, &org, &owner, &member, "member").await;
    Tenant { org, owner, admin: org_admin, member }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_isolation_matrix() {
    let (tag, api) = (unique(), api());
    let a = tenant(&api, "a", &tag).await;
    let b = tenant(&api, "b", &tag).await;
    let loner = person("loner", &tag);
    let b_invitation = api
        .expect(
            201,
            &b.owner,
            "POST",
            &format!("/organizations/{}/members", b.org),
            Some(json!({"email": a.member.email})),
        )
        .await;
    // A's member was invited to B: the invitation is theirs to answer, but it shows nothing else of B.
    let b_state = |org: &str| -> (String, i64) {
        let name: String =
            su(|c| c.query_one("SELECT name FROM org WHERE id = $1::text::uuid", &[&org]).unwrap().get(0));
        let members =
            count("SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND deleted_at IS NULL", &[&org]);
        (name, members)
    };
    let before = b_state(&b.org);
    let never_b = |who: &str, what: &str, body: &Value| {
        let text = body.to_string();
        for secret in [&b.org, &b.owner.id, &b.admin.id, &b.member.id, &b.owner.email, &b.member.email] {
            assert!(!text.contains(secret.as_str()), "{who} saw B's data through {what}: {text}");
        }
    };
    let outsiders = [("A owner", &a.owner), ("A admin", &a.admin), ("A member", &a.member), ("no org", &loner)];
    let mut cases = 0;
    for (who, user) in outsiders {
        let checks: Vec<(&str, String, Option<Value>, u16)> = vec![
            ("GET", format!("/identities/{}", b.owner.id), None, 404),
            ("PUT", format!("/organizations/{}", b.org), Some(json!({"name": "pwned"})), 404),
            ("GET", format!("/organizations/{}/members", b.org), None, 404),
            ("POST", format!("/organizations/{}/members", b.org), Some(json!({"email": user.email})), 404),
            ("PUT", format!("/organizations/{}/members/{}", b.org, b.member.id), Some(json!({"role": "owner"})), 404),
            ("PUT", format!("/organizations/{}/members/{}", b.org, user.id), Some(json!({"role": "owner"})), 404),
            ("DELETE", format!("/organizations/{}/members/{}", b.org, b.member.id), None, 404),
            ("DELETE", format!("/organizations/{}/members/{}", b.org, user.id), None, 404),
            ("PUT", format!("/organizations/{}/owner", b.org), Some(json!({"user_id": user.id})), 403),
        ];
        for (method, path, body, status) in checks {
            let answer = api.call(Some(user), method, &path, body).await;
            assert_eq!(answer.status, status, "{who}: {method} {path} → {}", answer.body);
            never_b(who, &format!("{method} {path}"), &answer.body);
            cases += 1;
        }
        // Someone else's invitation cannot be answered, whatever its id.
        if who != "A member" {
            let id = b_invitation.id();
            for verb in ["accept", "decline"] {
                let answer = api.call(Some(user), "POST", &format!("/invitations/{id}/{verb}"), None).await;
                assert_eq!(answer.status, 404, "{who}: {verb} → {}", answer.body);
                cases += 1;
            }
        }
        // The caller's own data only.
        let me = api.expect(200, user, "GET", "/profiles/me", None).await;
        assert_eq!(me.data()["id"], user.id.as_str(), "{who}");
        let list = api.expect(200, user, "GET", "/organizations", None).await;
        never_b(who, "GET /organizations", &list.body);
        let ids: Vec<&str> = list.data().as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids, if who == "no org" { vec![] } else { vec![a.org.as_str()] }, "{who}");
        let invitations = api.expect(200, user, "GET", "/invitations", None).await;
        let expected = usize::from(who == "A member");
        assert_eq!(invitations.data().as_array().unwrap().len(), expected, "{who}: {}", invitations.body);
        cases += 3;
    }
    // No caller at all: every route is refused.
    for route in org::ROUTES {
        let path = route.fill(|p| if p == "userId" { b.member.id.clone() } else { b.org.clone() });
        let answer = api.call(None, route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!(answer.status, 401, "{} without a caller: {}", route.key(), answer.body);
        cases += 1;
    }
    assert_eq!(b_state(&b.org), before, "B is untouched");
    let list = api.expect(200, &b.member, "GET", &format!("/organizations/{}/members", b.org), None).await;
    assert_eq!(list.data().as_array().unwrap().len(), 3, "B's own members still see B");
    println!("tenant isolation: {cases} cases checked");
    assert_eq!(cases, 4 * (9 + 3) + 3 * 2 + org::ROUTES.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_need_consent_answer_alike_for_strangers_and_expire() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "i", &tag).await;
    let invitee = person("invitee", &tag);
    let members = format!("/organizations/{}/members", t.org);
    // Inviting an existing user and an address nobody has answers alike.
    let known = api.expect(201, &t.admin, "POST", &members, Some(json!({"email": invitee.email}))).await;
    let stranger = api
        .expect(
            201,
            &t.admin,
            "POST",
            &members,
            Some(json!({"email": format!("nobody-{tag}@example.com"), "role": "admin"})),
        )
        .await;
    let shape = |a: &Value| -> Vec<String> { a["data"].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(shape(&known.body), shape(&stranger.body));
    assert_eq!((&known.data()["status"], &stranger.data()["status"]), (&json!("pending"), &json!("pending")));
    assert_eq!(known.data()["role"], "member");
    // Nobody is a member before accepting.
    let listed = api.expect(200, &t.owner, "GET", &members, None).await;
    assert!(!listed.body.to_string().contains(&invitee.id), "invited is not joined: {}", listed.body);
    // Inviting again renews the same open invitation.
    let again = api.expect(201, &t.owner, "POST", &members, Some(json!({"email": invitee.email.to_uppercase()}))).await;
    assert_eq!(again.id(), known.id());
    // A plain member cannot invite; a member of the organization cannot be invited again.
    api.expect(403, &t.member, "POST", &members, Some(json!({"email": format!("x-{tag}@example.com")}))).await;
    api.expect(409, &t.owner, "POST", &members, Some(json!({"email": t.member.email}))).await;
    // The invitee sees it, with the organization's name.
    let mine = api.expect(200, &invitee, "GET", "/invitations", None).await;
    assert_eq!(mine.data().as_array().unwrap().len(), 1, "{}", mine.body);
    assert_eq!(mine.data()[0]["org_name"], format!("Org i {tag}"));
    // Accept once; the second answer is a conflict.
    let id = known.id();
    let joined = api.expect(200, &invitee, "POST", &format!("/invitations/{id}/accept"), None).await;
    assert_eq!((&joined.data()["role"], &joined.data()["user_id"]), (&json!("member"), &json!(invitee.id)));
    api.expect(409, &invitee, "POST", &format!("/invitations/{id}/accept"), None).await;
    api.expect(409, &invitee, "POST", &format!("/invitations/{id}/decline"), None).await;
    let listed = api.expect(200, &t.member, "GET", &members, None).await;
    assert!(listed.body.to_string().contains(&invitee.id));
    // Declining leaves no membership.
    let decliner = person("decliner", &tag);
    let id = api.expect(201, &t.owner, "POST", &members, Some(json!({"email": decliner.email}))).await.id();
    api.expect(200, &decliner, "POST", &format!("/invitations/{id}/decline"), None).await;
    api.expect(409, &decliner, "POST", &format!("/invitations/{id}/accept"), None).await;
    api.expect(404, &decliner, "GET", &members, None).await;
    // An expired invitation is neither listed nor accepted.
    let late = person("late", &tag);
    let id = api.expect(201, &t.owner, "POST", &members, Some(json!({"email": late.email}))).await.id();
    su(|c| {
        c.execute(
            "UPDATE org_invitation SET expires_at = now() - interval '1 second' WHERE id = $1::text::uuid",
            &[&id],
        )
    })
    .unwrap();
    let listed = api.expect(200, &late, "GET", "/invitations", None).await;
    assert_eq!(listed.data(), &json!([]));
    let answer = api.expect(409, &late, "POST", &format!("/invitations/{id}/accept"), None).await;
    assert!(answer.error().contains("expired"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_moves_only_by_promotion_and_only_active_owners_count() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "o", &tag).await;
    let members = format!("/organizations/{}/members", t.org);
    let role_of = |user: &User| format!("{members}/{}", user.id);
    // Org admins cannot change roles; owners can, and promotion is the only way to become owner.
    api.expect(403, &t.admin, "PUT", &role_of(&t.member), Some(json!({"role": "owner"}))).await;
    api.expect(409, &t.owner, "PUT", &role_of(&t.owner), Some(json!({"role": "member"}))).await;
    let promoted = api.expect(200, &t.owner, "PUT", &role_of(&t.member), Some(json!({"role": "owner"}))).await;
    assert_eq!(promoted.data()["role"], "owner");
    // Two owners, one of them deactivated: the active one is the last active owner.
    deactivate_directly(&t.member);
    let answer = api.expect(409, &t.owner, "DELETE", &role_of(&t.owner), None).await;
    assert!(answer.error().contains("last active owner"), "{}", answer.body);
    api.expect(409, &t.owner, "PUT", &role_of(&t.owner), Some(json!({"role": "admin"}))).await;
    // A deactivated member cannot be given a role.
    api.expect(404, &t.owner, "PUT", &role_of(&t.member), Some(json!({"role": "admin"}))).await;
    // The platform admin may not transfer while an active owner exists …
    let platform = admin(&tag);
    let transfer = format!("/organizations/{}/owner", t.org);
    api.expect(409, &platform, "PUT", &transfer, Some(json!({"user_id": t.admin.id}))).await;
    // … and may once every owner is inactive; org admins and owners of other organizations may not.
    deactivate_directly(&t.owner);
    api.expect(403, &t.admin, "PUT", &transfer, Some(json!({"user_id": t.admin.id}))).await;
    api.expect(404, &platform, "PUT", &transfer, Some(json!({"user_id": t.member.id}))).await;
    let moved = api.expect(200, &platform, "PUT", &transfer, Some(json!({"user_id": t.admin.id}))).await;
    assert_eq!((&moved.data()["role"], &moved.data()["user_id"]), (&json!("owner"), &json!(t.admin.id)));
    let list = api.expect(200, &t.admin, "GET", &members, None).await;
    let roles: Vec<(&str, &str)> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [(t.admin.id.as_str(), "owner")], "deactivated identities are not listed");
    // A deleted or unknown organization is 404 to the platform admin too.
    api.expect(
        404,
        &platform,
        "PUT",
        &format!("/organizations/{}/owner", uuid::Uuid::new_v4()),
        Some(json!({"user_id": t.admin.id})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_the_last_active_owner_is_refused_naming_the_organization() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "d", &tag).await;
    let platform = admin(&tag);
    let answer = api.expect(409, &platform, "DELETE", &format!("/identities/{}", t.owner.id), None).await;
    assert!(answer.error().contains(&format!("Org d {tag}")) && answer.error().contains(&t.org), "{}", answer.body);
    assert_eq!(
        count("SELECT count(*) FROM identities WHERE id = $1::text::uuid AND deactivated_at IS NULL", &[&t.owner.id]),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_identity_is_refused_everywhere_and_the_admin_group_alone_grants_nothing() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "x", &tag).await;
    deactivate_directly(&t.member);
    for route in org::ROUTES.iter().filter(|r| r.auth == route_registry::Auth::User) {
        let path = route.fill(|p| if p == "userId" { t.member.id.clone() } else { t.org.clone() });
        let answer = api
            .call(
                Some(&t.member),
                route.method.as_str(),
                &path,
                Some(json!({"name": "x", "role": "member", "email": "x@example.com"})),
            )
            .await;
        assert!(
            answer.status == 403 || (answer.status == 400 && route.request.is_some()),
            "{} as a deactivated identity: {} {}",
            route.key(),
            answer.status,
            answer.body
        );
        if answer.status == 403 {
            assert_eq!(answer.error(), "the caller has no active identity on this platform", "{}", route.key());
        }
    }
    // The admin group in a token without an active identity: refused by the database.
    let never_provisioned = User::with_groups(&format!("ghost-{tag}@example.com"), &[common::ADMIN_GROUP]);
    let deactivated_admin = admin(&format!("{tag}-old"));
    deactivate_directly(&deactivated_admin);
    for user in [&never_provisioned, &deactivated_admin] {
        let answer = api.call(Some(user), "GET", &format!("/identities/{}", t.owner.id), None).await;
        assert_eq!(answer.status, 403, "{}: {}", user.sub, answer.body);
        let answer = api.call(Some(user), "DELETE", &format!("/identities/{}", t.owner.id), None).await;
        assert_eq!(answer.status, 403, "{}: {}", user.sub, answer.body);
    }
    // An active admin reads anyone, deactivated identities included (to reactivate them).
    let platform = admin(&tag);
    let read = api.expect(200, &platform, "GET", &format!("/identities/{}", t.member.id), None).await;
    assert!(read.data()["deactivated_at"].is_string(), "{}", read.body);
    // A group in a string instead of an array is ignored by the database.
    let stringly = platform.with_token(
        dev_issuer::Claims::new(&platform.sub)
            .email(&platform.email)
            .audience(&dev_issuer::audience("dev"))
            .extra(json!({"groups": common::ADMIN_GROUP}))
            .sign()
            .unwrap(),
    );
    let answer = api.call(Some(&stringly), "GET", &format!("/identities/{}", t.owner.id), None).await;
    assert_eq!(answer.status, 404, "a caller who is not admin does not see others: {}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_each_others_names_and_nobody_else_does() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "n", &tag).await;
    api.expect(200, &t.member, "PUT", "/profiles/me", Some(json!({"first_name": "Mia", "last_name": "Member"}))).await;
    let list = api.expect(200, &t.admin, "GET", &format!("/organizations/{}/members", t.org), None).await;
    let mia = list.data().as_array().unwrap().iter().find(|m| m["user_id"] == t.member.id.as_str()).unwrap().clone();
    assert_eq!(
        (&mia["first_name"], &mia["last_name"], &mia["email"]),
        (&json!("Mia"), &json!("Member"), &json!(t.member.email))
    );
    assert!(mia["joined_at"].is_string());
    // The tables themselves show nothing of others' identities or profiles.
    let direct = reqwest::Client::new()
        .get(format!("{}/identities?select=email", services().rest_url))
        .bearer_auth(&t.admin.token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(direct, json!([{"email": t.admin.email}]));
    let outsider = person("outsider", &tag);
    api.expect(404, &outsider, "GET", &format!("/organizations/{}/members", t.org), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_may_create_up_to_the_environments_limit_of_organizations() {
    let (tag, api) = (unique(), api());
    let user = person("founder", &tag);
    let limit = count("SELECT max_orgs_per_user::bigint FROM app.settings", &[]);
    for i in 0..limit {
        create_org(&api, &user, &format!("Org {i} {tag}")).await;
    }
    let answer = api.expect(409, &user, "POST", "/organizations", Some(json!({"name": "one more"}))).await;
    assert_eq!(answer.error(), format!("you have reached the limit of {limit} organizations"));
    // Organizations created by someone else and joined do not count against the limit.
    let other = person("other", &tag);
    let theirs = create_org(&api, &other, &format!("Theirs {tag}")).await;
    join(&api, &theirs, &other, &user, "member").await;
    let list = api.expect(200, &user, "GET", "/organizations", None).await;
    assert_eq!(list.data().as_array().unwrap().len() as i64, limit + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_every_token_the_identity_provider_did_not_issue() {
    let tag = unique();
    let user = person("victim", &tag);
    let rest = services().rest_url;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = |extra: Value| {
        let mut c = json!({
            "iss": dev_issuer::ISSUER, "aud": dev_issuer::audience("dev"), "sub": user.sub, "email": user.email,
            "role": "authenticated", "iat": now, "exp": now + 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let rs256 = |kid: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(kid.into());
        h
    };
    let attacker =
        jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("../../platform-authorizer/tests/keys/attacker.pem"))
            .unwrap();
    // What the Lambdas held before this design: a shared HS256 secret that could sign any token.
    let old_secret =
        jsonwebtoken::EncodingKey::from_secret(b"super-secret-jwt-token-with-at-least-32-characters-long").unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by another key with the issuer's kid",
            jsonwebtoken::encode(&rs256(dev_issuer::KID), &claims(json!({})), &attacker).unwrap(),
        ),
        (
            "HS256 with the former shared secret",
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims(json!({})), &old_secret).unwrap(),
        ),
        (
            "expired",
            dev_issuer::sign_raw(&rs256(dev_issuer::KID), &claims(json!({"iat": now - 7200, "exp": now - 3600})))
                .unwrap(),
        ),
        (
            "another audience",
            dev_issuer::sign_raw(&rs256(dev_issuer::KID), &claims(json!({"aud": "api://career-prd"}))).unwrap(),
        ),
        (
            "role service_role",
            dev_issuer::sign_raw(&rs256(dev_issuer::KID), &claims(json!({"role": "service_role"}))).unwrap(),
        ),
        ("role postgres", dev_issuer::sign_raw(&rs256(dev_issuer::KID), &claims(json!({"role": "postgres"}))).unwrap()),
    ];
    let http = reqwest::Client::new();
    let forged_name = format!("forged {tag}");
    for (what, token) in &cases {
        for (method, path, body) in [
            ("GET", "/identities?select=id,email", None),
            ("GET", "/org?select=id", None),
            ("POST", "/rpc/create_org_with_member", Some(json!({"p_name": forged_name}))),
        ] {
            let mut req = http.request(method.parse().unwrap(), format!("{rest}{path}")).bearer_auth(token);
            if let Some(b) = &body {
                req = req.json(b);
            }
            let response = req.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            // PostgREST answers a bad token 401 and a refused role 403 (the local server 401 for both).
            assert!(matches!(status, 401 | 403), "{what}: {method} {path} → {status} {text}");
            assert!(!text.contains(&user.email), "{what}: {text}");
        }
        // And through the handlers, with the authorizer's context as if it had been fooled.
        let forged = user.with_token(token.clone());
        let answer = api().call(Some(&forged), "GET", "/organizations", None).await;
        assert!(matches!(answer.status, 401 | 403), "{what} through the API: {}", answer.body);
    }
    assert_eq!(count("SELECT count(*) FROM org WHERE name = $1", &[&forged_name]), 0, "nothing was written");
    // The genuine token works.
    api().expect(200, &user, "GET", "/organizations", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_and_owner_membership_are_atomic() {
    let (tag, api) = (unique(), api());
    let owner = person("atomic", &tag);
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
    let answer = api.call(Some(&owner), "POST", "/organizations", Some(json!({ "name": probe }))).await;
    su(|c| c.batch_execute(&format!("DROP TRIGGER {function} ON public.org_member; DROP FUNCTION {function}();")))
        .unwrap();
    assert_eq!((answer.status, answer.error()), (500, "Internal server error"));
    assert_eq!(count("SELECT count(*) FROM org WHERE name = $1", &[&probe]), 0, "no organization without its owner");
    api.expect(201, &owner, "POST", "/organizations", Some(json!({ "name": probe }))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deletes_keep_rows_and_hide_them() {
    let (tag, api) = (unique(), api());
    let t = tenant(&api, "s", &tag).await;
    // A profile: marked, then 404 everywhere for its owner.
    api.expect(200, &t.member, "DELETE", "/profiles/me", None).await;
    assert_eq!(
        count("SELECT count(*) FROM profiles WHERE id = $1::text::uuid AND deleted_at IS NOT NULL", &[&t.member.id]),
        1
    );
    api.expect(404, &t.member, "GET", "/profiles/me", None).await;
    api.expect(404, &t.member, "PUT", "/profiles/me", Some(json!({"first_name": "A", "last_name": "B"}))).await;
    api.expect(404, &t.member, "DELETE", "/profiles/me", None).await;
    // A membership: marked, gone from the list, access lost, and the person can be invited again.
    let members = format!("/organizations/{}/members", t.org);
    api.expect(200, &t.owner, "DELETE", &format!("{members}/{}", t.admin.id), None).await;
    assert_eq!(
        count(
            "SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid AND deleted_at IS NOT NULL",
            &[&t.org, &t.admin.id]
        ),
        1
    );
    let list = api.expect(200, &t.owner, "GET", &members, None).await;
    assert!(!list.body.to_string().contains(&t.admin.id));
    api.expect(404, &t.admin, "GET", &members, None).await;
    join(&api, &t.org, &t.owner, &t.admin, "member").await;
    // A member may leave by themself.
    api.expect(200, &t.member, "DELETE", &format!("{members}/{}", t.member.id), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_accepts_of_one_invitation_give_one_membership() {
    let (tag, api) = (unique(), std::sync::Arc::new(api()));
    let owner = person("conc", &tag);
    let target = person("target", &tag);
    let org = create_org(&api, &owner, &format!("Concurrent {tag}")).await;
    let id = api
        .expect(201, &owner, "POST", &format!("/organizations/{org}/members"), Some(json!({"email": target.email})))
        .await
        .id();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (api, target, path) = (api.clone(), target.clone(), format!("/invitations/{id}/accept"));
            tokio::spawn(async move { api.call(Some(&target), "POST", &path, None).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let rows = count(
        "SELECT count(*) FROM org_member WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid",
        &[&org, &target.id],
    );
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_paths_return_the_documented_shapes() {
    let (tag, api) = (unique(), api());
    let user = person("happy", &tag);
    let me = api
        .expect(
            200,
            &user,
            "PUT",
            "/profiles/me",
            Some(json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0000"})),
        )
        .await;
    assert_eq!((&me.data()["first_name"], &me.data()["phone"]), (&json!("Ada"), &json!("+44 20 7946 0000")));
    assert!(me.data()["updated_at"].as_str().unwrap() >= me.data()["created_at"].as_str().unwrap());
    let org = create_org(&api, &user, &format!("Happy {tag}")).await;
    let updated = api
        .expect(
            200,
            &user,
            "PUT",
            &format!("/organizations/{org}"),
            Some(json!({"name": "Renamed", "description": "d"})),
        )
        .await;
    assert_eq!(updated.data()["name"], "Renamed");
    assert!(updated.data().get("owner_id").is_none(), "ownership is a role, not a column: {}", updated.body);
    let members = api.expect(200, &user, "GET", &format!("/organizations/{org}/members"), None).await;
    assert_eq!((&members.data()[0]["user_id"], &members.data()[0]["role"]), (&json!(user.id), &json!("owner")));
    let ghost = uuid::Uuid::new_v4();
    api.expect(404, &user, "PUT", &format!("/organizations/{ghost}"), Some(json!({"name": "x"}))).await;
    api.expect(404, &user, "GET", &format!("/organizations/{ghost}/members"), None).await;
    // Every answer in this binary so far produced a request line CloudWatch accepts.
    for line in module_runtime::metrics::take_captured() {
        module_runtime::metrics::spec::check(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}
