//! A stand-in for the KMS JSON API (`awsJson1_1`, `X-Amz-Target: TrentService.<Operation>`) for asymmetric signing
//! keys, the part a module's service identity uses: `Sign` (ECDSA_SHA_256 over a RAW message, the signature in DER
//! as KMS returns it) and `GetPublicKey` (DER SubjectPublicKeyInfo). Keys are ECC_NIST_P256 pairs made by
//! [`KmsStandin::create_key`]; no signature of the request is checked. It counts `Sign` calls, so a test can see a
//! cached token spare them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A key of the stand-in, as a test or the local tools need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedKey {
    /// `arn:aws:kms:us-east-1:000000000000:key/<uuid>`.
    pub arn: String,
    /// The key's id (the last part of the ARN).
    pub id: String,
    /// The public key as a JWK (`kty` EC, `crv` P-256, `x`, `y`, `kid` the key id), to register with the identity
    /// provider.
    pub jwk: Value,
}

struct Key {
    arn: String,
    id: String,
    pair: EcdsaKeyPair,
}

#[derive(Default)]
struct State {
    keys: Vec<Key>,
}

/// A running stand-in; stopped when dropped.
pub struct KmsStandin {
    pub url: String,
    state: Arc<Mutex<State>>,
    signs: Arc<AtomicUsize>,
    /// Serves until dropped.
    _server: crate::server::Server,
}

impl std::fmt::Debug for KmsStandin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsStandin").field("url", &self.url).finish_non_exhaustive()
    }
}

impl KmsStandin {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<KmsStandin> {
        let state = Arc::new(Mutex::new(State::default()));
        let signs = Arc::new(AtomicUsize::new(0));
        let (shared, counted) = (state.clone(), signs.clone());
        let server = crate::server::Server::start(move |req| {
            let (state, signs) = (shared.clone(), counted.clone());
            async move { serve(&state, &signs, req).await }
        })?;
        Ok(KmsStandin { url: server.url(), state, signs, _server: server })
    }

    /// Makes a new ECC_NIST_P256 signing key.
    pub fn create_key(&self) -> std::io::Result<CreatedKey> {
        let rng = SystemRandom::new();
        let failed = |what: &str| std::io::Error::other(format!("cannot {what} a P-256 key"));
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).map_err(|_| failed("make"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| failed("read"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "kid": id,
            "use": "sig",
            "alg": "ES256",
        });
        if let Ok(mut s) = self.state.lock() {
            s.keys.push(Key { arn: arn.clone(), id: id.clone(), pair });
        }
        Ok(CreatedKey { arn, id, jwk })
    }

    /// `Sign` calls answered so far.
    pub fn signs(&self) -> usize {
        self.signs.load(Ordering::SeqCst)
    }
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"__type": code, "message": message}))
}

async fn serve(state: &Mutex<State>, signs: &AtomicUsize, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let (status, answer) = match state.lock() {
        Ok(s) => handle(&s, signs, target.strip_prefix("TrentService.").unwrap_or(""), &body),
        Err(_) => error(500, "KMSInternalException", "the stand-in's state is poisoned"),
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"));
    response
}

fn handle(s: &State, signs: &AtomicUsize, operation: &str, body: &Value) -> (u16, Value) {
    let wanted = body["KeyId"].as_str().unwrap_or_default();
    let Some(key) = s.keys.iter().find(|k| k.arn == wanted || k.id == wanted) else {
        return error(400, "NotFoundException", &format!("Key '{wanted}' does not exist"));
    };
    match operation {
        "Sign" => {
            if body["SigningAlgorithm"] != "ECDSA_SHA_256" {
                return error(400, "InvalidKeyUsageException", "the key signs with ECDSA_SHA_256 only");
            }
            if body["MessageType"].as_str().is_some_and(|t| t != "RAW") {
                return error(400, "ValidationException", "the stand-in signs RAW messages only");
            }
            let Some(message) = body["Message"].as_str().and_then(|m| STANDARD.decode(m).ok()) else {
                return error(400, "ValidationException", "Message must be base64");
            };
            if message.is_empty() || message.len() > 4096 {
                return error(400, "ValidationException", "Message is 1 to 4096 bytes");
            }
            match key.pair.sign(&SystemRandom::new(), &message) {
                Ok(signature) => {
                    signs.fetch_add(1, Ordering::SeqCst);
                    (
                        200,
                        json!({
                            "KeyId": key.arn,
                            "Signature": STANDARD.encode(signature.as_ref()),
                            "SigningAlgorithm": "ECDSA_SHA_256",
                        }),
                    )
                }
                Err(_) => error(500, "KMSInternalException", "signing failed"),
            }
        }
        "GetPublicKey" => {
            let mut der = P256_SPKI_PREFIX.to_vec();
            der.extend_from_slice(key.pair.public_key().as_ref());
            (
                200,
                json!({
                    "KeyId": key.arn,
                    "PublicKey": STANDARD.encode(der),
                    "KeySpec": "ECC_NIST_P256",
                    "KeyUsage": "SIGN_VERIFY",
                    "SigningAlgorithms": ["ECDSA_SHA_256"],
                }),
            )
        }
        other => error(400, "UnsupportedOperationException", &format!("the stand-in does not implement {other}")),
    }
}
