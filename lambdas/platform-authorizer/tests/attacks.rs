//! The authorizer's attack suite: every forged, stale, mis-addressed or malformed token is denied; a valid one is
//! allowed with the right context; a rotated-in key is accepted after one JWKS refresh; JWKS failures deny.
//!
//! Keys come from `tests/keys/` (test-only). The JWKS is served by a small HTTP server on 127.0.0.1 that counts
//! requests and can change its answer, so fetching, caching and refreshing are the real code paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform_authorizer::{Authorizer, Config, Deny};
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

fn authorizer(server: &JwksServer, min_refresh: Duration) -> Authorizer {
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

#[tokio::test]
async fn a_valid_token_is_allowed_with_the_right_context() {
    let server = JwksServer::start(&[jwk("primary")]);
    let auth = authorizer(&server, Duration::from_secs(60));
    let token = sign("primary", "test-primary", &claims());
    let event = json!({
        "version": "2.0", "type": "REQUEST", "routeKey": "GET /profiles/me",
        "headers": { "authorization": bearer(&token) },
        "requestContext": { "requestId": "r1" }
    });
    let answer = auth.handle(&event).await;
    assert_eq!(
        answer,
        json!({"isAuthorized": true, "context": {"sub": "00u1alice", "email": "alice@example.com", "groups": "[\"admin\",\"staff\"]"}})
    );
    // The handlers parse the groups back exactly.
    let groups: Vec<String> = serde_json::from_str(answer["context"]["groups"].as_str().unwrap()).unwrap();
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
    let cases: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now() - 120))),
        ("nbf in the future", with(&|c| c["nbf"] = json!(now() + 600))),
        ("iat in the future", with(&|c| c["iat"] = json!(now() + 600))),
        ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.example.com/oauth2/default"))),
        ("wrong audience", with(&|c| c["aud"] = json!("api://other"))),
        ("audience array without ours", with(&|c| c["aud"] = json!(["api://a", "api://b"]))),
        ("missing sub", with(&|c| c.as_object_mut().unwrap().remove("sub").map(drop).unwrap_or(()))),
        ("empty sub", with(&|c| c["sub"] = json!(""))),
        ("missing exp", with(&|c| c.as_object_mut().unwrap().remove("exp").map(drop).unwrap_or(()))),
        ("missing iss", with(&|c| c.as_object_mut().unwrap().remove("iss").map(drop).unwrap_or(()))),
        ("missing aud", with(&|c| c.as_object_mut().unwrap().remove("aud").map(drop).unwrap_or(()))),
    ];
    for (what, header) in cases {
        let reason = deny(&auth, Some(&header)).await;
        println!("{what}: {reason}");
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
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty header", Some(String::new())),
        ("token without scheme", Some(good.clone())),
        ("Basic scheme", Some(format!("Basic {good}"))),
        ("Bearer without token", Some("Bearer ".into())),
        ("two spaces", Some(format!("Bearer  {good}"))),
        ("empty token", Some("Bearer".into())),
        ("truncated", Some(bearer(&good[..good.len() - 20]))),
        ("two segments", Some(bearer(&format!("{}.{}", segments[0], segments[1])))),
        ("four segments", Some(bearer(&format!("{good}.extra")))),
        ("bad base64", Some(bearer(&format!("{}.{}.{}", "%%%", segments[1], segments[2])))),
        ("garbage", Some(bearer("not-a-jwt"))),
        ("over 8 KiB", Some(bearer(&format!("{good}{}", "A".repeat(9000))))),
    ];
    for (what, header) in cases {
        let reason = deny(&auth, header.as_deref()).await;
        println!("{what}: {reason}");
    }
    assert_eq!(deny(&auth, Some(&bearer(&"a".repeat(9000)))).await, Deny::TooLarge);
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
    let answer = offline.handle(&json!({"headers": {"authorization": token}})).await;
    assert_eq!(answer, json!({"isAuthorized": false}));
}
