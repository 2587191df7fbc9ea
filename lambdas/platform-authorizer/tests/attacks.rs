//! The authorizer's attack suite: every forged, stale, mis-addressed or malformed token is denied for the expected
//! reason; a valid one is allowed with the right context; claims with control characters are denied and `groups`
//! counts only as an array of strings; a rotated-in key is accepted after one JWKS refresh; a failed refresh never
//! hides cached keys; a JWKS that does not answer denies within the fetch bound.
//!
//! Keys come from `tests/keys/` (test-only). The JWKS is served by a small HTTP server on 127.0.0.1 that counts
//! requests and can change its answer, so fetching, caching and refreshing are the real code paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_events::{authorizer_request, ApiGatewayV2CustomAuthorizerV2Request};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform_authorizer::{Authorizer, Config, Context, Deny, JWKS_FETCH_TIMEOUT};
use serde_json::{json, Value};

const ISSUER: &str = "https://example.okta.com/oauth2/default";
const AUDIENCE: &str = "api://career";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(&key_file(&format!("{name}.jwk.json"))).unwrap()
}

/// A JWKS endpoint on loopback whose status and body the test controls.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<(u16, String)>>,
}

impl JwksServer {
    fn start(keys: &[Value]) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/keys", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new((200, json!({ "keys": keys }).to_string())));
        let (h, a) = (hits.clone(), answer.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                h.fetch_add(1, Ordering::SeqCst);
                let (status, body) = a.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        JwksServer { url, hits, answer }
    }

    fn set(&self, status: u16, body: String) {
        *self.answer.lock().unwrap() = (status, body);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Every token of this suite is signed and verified through the authorizer's ring provider, as in the Lambda.
fn ring_provider() {
    platform_authorizer::crypto::install().expect("the authorizer's ring provider is this process's");
}

fn authorizer(server: &JwksServer, min_refresh: Duration) -> Authorizer {
    ring_provider();
    let mut config = Config::new(ISSUER.into(), AUDIENCE.into(), server.url.clone());
    config.min_refresh_interval = min_refresh;
    config.failure_backoff = Duration::from_millis(200);
    Authorizer::new(config).unwrap()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "00u1alice",
        "email": "alice@example.com",
        "groups": ["admin", "staff"],
        "iat": now(),
        "exp": now() + 300,
    })
}

fn sign(key: &str, kid: &str, claims: &Value) -> String {
    ring_provider();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(key_file(&format!("{key}.pem")).as_bytes()).unwrap(),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn deny(auth: &Authorizer, header: Option<&str>) -> Deny {
    match auth.authorize(header).await {
        Ok(id) => panic!("allowed {header:?} as {id:?}"),
        Err(reason) => reason,
    }
}

/// Asserts the denial's reason, as logged, starts with `expected`.
async fn expect_deny(auth: &Authorizer, what: &str, header: Option<&str>, expected: &str) {
    let reason = deny(auth, header).await.to_string();
    assert!(reason.starts_with(expected), "{what}: denied for `{reason}`, expected `{expected}…`");
}

fn event(header: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    authorizer_request("GET", "/profiles/me", Some(header))
}

#[tokio::test]
async fn a_valid_token_is_allowed_with_the_right_context() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let token = sign("primary", "test-primary", &claims());
    let answer = auth.handle(&event(&bearer(&token))).await;
    assert!(answer.is_authorized);
    assert_eq!(
        answer.context,
        Context { sub: "00u1alice".into(), email: "alice@example.com".into(), groups: "[\"admin\",\"staff\"]".into() }
    );
    // As API Gateway reads it.
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({"isAuthorized": true, "context": {"sub": "00u1alice", "email": "alice@example.com", "groups": "[\"admin\",\"staff\"]"}})
    );
    // The handlers parse the groups back exactly.
    let groups: Vec<String> = serde_json::from_str(&answer.context.groups).unwrap();
    assert_eq!(groups, ["admin", "staff"]);
    // Lower-case scheme is accepted (auth schemes are case-insensitive); the JWKS was fetched once.
    assert!(auth.authorize(Some(&format!("bearer {token}"))).await.is_ok());
    assert_eq!(server.hits(), 1);
    // An audience array that contains ours is fine.
    let mut c = claims();
    c["aud"] = json!(["other", AUDIENCE]);
    assert!(auth.authorize(Some(&bearer(&sign("primary", "test-primary", &c)))).await.is_ok());
}

#[tokio::test]
async fn forged_tokens_are_denied() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let good = sign("primary", "test-primary", &claims());

    // alg none.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"test-primary"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert!(matches!(deny(&auth, Some(&bearer(&none))).await, Deny::Malformed(_) | Deny::Algorithm(_)));
    // HS256 signed with the issuer's public key as the HMAC secret.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("test-primary".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(),
        &EncodingKey::from_secret(key_file("primary.pub.pem").as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(matches!(deny(&auth, Some(&bearer(&confused))).await, Deny::Algorithm(_)));
    // RS256 by another key under the same kid.
    let forged = sign("attacker", "test-primary", &claims());
    assert!(matches!(deny(&auth, Some(&bearer(&forged))).await, Deny::Invalid(_)));
    // Tampered payload with the original signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c["groups"] = json!(["admin", "root"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(c.to_string().as_bytes()), parts[2]);
    assert!(matches!(deny(&auth, Some(&bearer(&tampered))).await, Deny::Invalid(_)));
    // Unknown kid.
    let unknown = sign("primary", "no-such-kid", &claims());
    assert_eq!(deny(&auth, Some(&bearer(&unknown))).await, Deny::UnknownKid("no-such-kid".into()));
    // No kid at all.
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(key_file("primary.pem").as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(deny(&auth, Some(&bearer(&no_kid))).await, Deny::NoKid);
}

#[tokio::test]
async fn stale_or_misaddressed_tokens_are_denied() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        bearer(&sign("primary", "test-primary", &c))
    };
    let remove = |k: &'static str| move |c: &mut Value| drop(c.as_object_mut().unwrap().remove(k));
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now() - 120)), "token rejected: ExpiredSignature"),
        ("nbf in the future", with(&|c| c["nbf"] = json!(now() + 600)), "token rejected: ImmatureSignature"),
        ("iat in the future", with(&|c| c["iat"] = json!(now() + 600)), "token issued in the future"),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example.com/oauth2/default")),
            "token rejected: InvalidIssuer",
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("api://other")), "token rejected: InvalidAudience"),
        (
            "audience array without ours",
            with(&|c| c["aud"] = json!(["api://a", "api://b"])),
            "token rejected: InvalidAudience",
        ),
        ("missing sub", with(&remove("sub")), "token rejected: Missing required claim: sub"),
        ("empty sub", with(&|c| c["sub"] = json!("")), "token has no sub"),
        ("blank sub", with(&|c| c["sub"] = json!("   ")), "token has no sub"),
        ("missing exp", with(&remove("exp")), "token rejected: Missing required claim: exp"),
        ("missing iss", with(&remove("iss")), "token rejected: Missing required claim: iss"),
        ("missing aud", with(&remove("aud")), "token rejected: Missing required claim: aud"),
    ];
    for (what, header, expected) in cases {
        expect_deny(&auth, what, Some(&header), expected).await;
    }
    // Within the leeway is fine.
    assert!(auth.authorize(Some(&with(&|c| c["exp"] = json!(now() - 10)))).await.is_ok());
}

#[tokio::test]
async fn malformed_headers_and_tokens_are_denied() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let good = sign("primary", "test-primary", &claims());
    let segments: Vec<&str> = good.split('.').collect();
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no header", None, "no Authorization header"),
        ("empty header", Some(String::new()), "Authorization header is not `Bearer <token>`"),
        ("token without scheme", Some(good.clone()), "Authorization header is not `Bearer <token>`"),
        ("Basic scheme", Some(format!("Basic {good}")), "Authorization header is not `Bearer <token>`"),
        ("Bearer without token", Some("Bearer ".into()), "Authorization header is not `Bearer <token>`"),
        ("two spaces", Some(format!("Bearer  {good}")), "Authorization header is not `Bearer <token>`"),
        ("empty token", Some("Bearer".into()), "Authorization header is not `Bearer <token>`"),
        ("truncated", Some(bearer(&good[..good.len() - 20])), "token rejected: "),
        (
            "two segments",
            Some(bearer(&format!("{}.{}", segments[0], segments[1]))),
            "malformed token: a JWT has three segments",
        ),
        ("four segments", Some(bearer(&format!("{good}.extra"))), "malformed token: a JWT has three segments"),
        ("bad base64", Some(bearer(&format!("{}.{}.{}", "%%%", segments[1], segments[2]))), "malformed token: "),
        ("garbage", Some(bearer("not-a-jwt")), "malformed token: a JWT has three segments"),
        ("over 8 KiB", Some(bearer(&format!("{good}{}", "A".repeat(9000)))), "Authorization header over 8192 bytes"),
    ];
    for (what, header, expected) in cases {
        expect_deny(&auth, what, header.as_deref(), expected).await;
    }
    // Only the well-formed token that reached key lookup fetched the JWKS.
    assert!(server.hits() <= 1);
}

#[tokio::test]
async fn a_rotated_in_key_is_accepted_after_one_refresh() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::ZERO);
    assert!(auth.authorize(Some(&bearer(&sign("primary", "test-primary", &claims())))).await.is_ok());
    assert_eq!(server.hits(), 1);
    // The issuer rotates: the new key appears in its JWKS.
    server.set(200, json!({ "keys": [jwk("primary"), jwk("rotated")] }).to_string());
    assert!(auth.authorize(Some(&bearer(&sign("rotated", "test-rotated", &claims())))).await.is_ok());
    assert_eq!(server.hits(), 2, "exactly one refresh");
    assert!(auth.authorize(Some(&bearer(&sign("rotated", "test-rotated", &claims())))).await.is_ok());
    assert_eq!(server.hits(), 2, "then served from the cache");
}

#[tokio::test]
async fn unknown_kids_refresh_at_most_once_per_interval() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    assert!(auth.authorize(Some(&bearer(&sign("primary", "test-primary", &claims())))).await.is_ok());
    for i in 0..20 {
        let token = sign("primary", &format!("unknown-{i}"), &claims());
        assert!(matches!(deny(&auth, Some(&bearer(&token))).await, Deny::UnknownKid(_)));
    }
    assert_eq!(server.hits(), 1, "a flood of unknown kids must not hammer the issuer");
}

#[tokio::test]
async fn jwks_failures_deny_and_are_retried_soon() {
    let server = JwksServer::start(&[jwk("primary")]);
    server.set(500, "oops".into());
    let auth = authorizer(&server, Duration::from_secs(60));
    let token = bearer(&sign("primary", "test-primary", &claims()));
    assert!(matches!(deny(&auth, Some(&token)).await, Deny::Jwks(_)));
    // During the backoff, no new fetch; still denied.
    assert!(matches!(deny(&auth, Some(&token)).await, Deny::Jwks(_)));
    assert_eq!(server.hits(), 1);
    server.set(200, "{\"keys\": \"not a list\"}".into());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(deny(&auth, Some(&token)).await, Deny::Jwks(_)), "a malformed JWKS denies");
    server.set(200, json!({ "keys": [jwk("primary")] }).to_string());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(auth.authorize(Some(&token)).await.is_ok(), "recovers once the issuer does");
    // An unreachable issuer denies too.
    let mut config = Config::new(ISSUER.into(), AUDIENCE.into(), "http://127.0.0.1:1/v1/keys".into());
    config.failure_backoff = Duration::ZERO;
    let offline = Authorizer::new(config).unwrap();
    assert!(matches!(deny(&offline, Some(&token)).await, Deny::Jwks(_)));
    // And the Lambda answer for any denial has no context.
    let answer = offline.handle(&event(&token)).await;
    assert_eq!(serde_json::to_value(&answer).unwrap(), json!({"isAuthorized": false, "context": {}}));
}

#[tokio::test]
async fn claims_with_control_characters_are_denied_and_groups_count_only_as_an_array_of_strings() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        bearer(&sign("primary", "test-primary", &c))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("NUL in sub", with(&|c| c["sub"] = json!("00u1\u{0}alice")), "claim sub holds a control character"),
        ("newline in sub", with(&|c| c["sub"] = json!("00u1alice\nadmin")), "claim sub holds a control character"),
        ("NUL in email", with(&|c| c["email"] = json!("a\u{0}@example.com")), "claim email holds a control character"),
        (
            "C1 control in email",
            with(&|c| c["email"] = json!("a\u{85}@example.com")),
            "claim email holds a control character",
        ),
        (
            "tab in a group",
            with(&|c| c["groups"] = json!(["staff", "career-platform-\tadmins"])),
            "claim groups holds a control character",
        ),
    ];
    for (what, header, expected) in cases {
        expect_deny(&auth, what, Some(&header), expected).await;
    }
    // Anything but an array of strings is no groups at all (never an admin).
    for odd in [
        json!("career-platform-admins"),
        json!(["career-platform-admins", 1]),
        json!({"0": "career-platform-admins"}),
        json!(7),
    ] {
        let id = auth.authorize(Some(&with(&|c| c["groups"] = odd.clone()))).await.unwrap();
        assert!(id.groups.is_empty(), "{odd} gave {:?}", id.groups);
    }
}

#[tokio::test]
async fn a_token_for_another_environment_is_denied() {
    let server = JwksServer::start(&[jwk("primary")]);
    let mut config = Config::new(ISSUER.into(), "api://career-prd".into(), server.url.clone());
    config.failure_backoff = Duration::ZERO;
    let prd = Authorizer::new(config).unwrap();
    let mut c = claims();
    c["aud"] = json!("api://career-dev");
    expect_deny(
        &prd,
        "a dev token at prd",
        Some(&bearer(&sign("primary", "test-primary", &c))),
        "token rejected: InvalidAudience",
    )
    .await;
    c["aud"] = json!("api://career-prd");
    assert!(prd.authorize(Some(&bearer(&sign("primary", "test-primary", &c)))).await.is_ok());
}

#[tokio::test]
async fn a_failed_refresh_never_hides_cached_keys() {
    let server = JwksServer::start(&[jwk("primary")]);
    let mut config = Config::new(ISSUER.into(), AUDIENCE.into(), server.url.clone());
    config.max_key_age = Duration::from_millis(100);
    config.min_refresh_interval = Duration::ZERO;
    let auth = Authorizer::new(config).unwrap();
    let token = bearer(&sign("primary", "test-primary", &claims()));
    assert!(auth.authorize(Some(&token)).await.is_ok());
    // The issuer fails; the keys age past their refresh time; anyone triggers refreshes with unknown kids.
    server.set(500, "down".into());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let unknown = bearer(&sign("primary", "no-such-kid", &claims()));
    expect_deny(&auth, "unknown kid while the issuer fails", Some(&unknown), "JWKS unavailable: HTTP 500").await;
    let hits = server.hits();
    for _ in 0..5 {
        assert!(auth.authorize(Some(&token)).await.is_ok(), "a cached key still verifies during the back-off");
        expect_deny(&auth, "unknown kid during the back-off", Some(&unknown), "JWKS unavailable: recent fetch failed")
            .await;
    }
    assert_eq!(server.hits(), hits, "no fetch during the back-off");
    // The issuer is back: the next due refresh succeeds and everything continues.
    server.set(200, json!({ "keys": [jwk("primary")] }).to_string());
    assert!(auth.authorize(Some(&token)).await.is_ok());
}

#[tokio::test]
async fn a_jwks_endpoint_that_never_answers_denies_within_the_fetch_bound() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/keys", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // accepted, read by nobody, never answered
        }
    });
    let auth = Authorizer::new(Config::new(ISSUER.into(), AUDIENCE.into(), url)).unwrap();
    let token = bearer(&sign("primary", "test-primary", &claims()));
    let start = std::time::Instant::now();
    expect_deny(&auth, "hanging JWKS", Some(&token), "JWKS unavailable: ").await;
    let took = start.elapsed();
    assert!(took >= JWKS_FETCH_TIMEOUT && took <= JWKS_FETCH_TIMEOUT + Duration::from_millis(750), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_wait_for_one_fetch_instead_of_being_denied() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = Arc::new(authorizer(&server, Duration::from_secs(60)));
    let token = bearer(&sign("primary", "test-primary", &claims()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (auth, token) = (auth.clone(), token.clone());
            tokio::spawn(async move { auth.authorize(Some(&token)).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(()));
    }
    assert_eq!(server.hits(), 1, "one fetch served them all");
}
