//! A stand-in for the part of S3 the documents bucket needs, path-style (`<url>/<bucket>/<key>`), versioned:
//!
//! - **POST uploads with a policy** (browser-form uploads, what a pre-signed upload is), checked as S3 checks them:
//!   the Signature Version 4 signature of the base64 policy with the credential's signing key, the policy's
//!   expiration, every condition (`bucket`, `eq`, `starts-with`, `content-length-range`), and no form field the
//!   policy does not cover. A failed check is S3's error document with its status (403 `AccessDenied`, 400
//!   `EntityTooLarge`, `EntityTooSmall`, 403 `SignatureDoesNotMatch`) and nothing is stored.
//! - GET, HEAD, PUT and DELETE of an object (`versionId` too), and `ListObjectVersions` (`?versions&prefix=`), each
//!   with its Signature Version 4 `Authorization` header verified (canonical request, string to sign, signature).
//! - After each object is created, an `S3Event` (`ObjectCreated:Post` or `ObjectCreated:Put`, the key form-encoded
//!   as S3 writes it) POSTed to the URL [`S3Standin::notify_to`] names: what the bucket's notification does for the
//!   functions subscribed to it.
//!
//! Credentials are the ones given at start. Not implemented: virtual-hosted addressing, multipart uploads, ACLs,
//! checksums other than `x-amz-content-sha256`, server-side encryption headers (accepted, not applied).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::time::now_ms;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use ring::{digest, hmac};
use serde_json::{json, Value};

/// The largest request body the stand-in reads (a 5 MiB document and its form fit; S3's own single-request limit is
/// 5 GB, so a larger body here is refused by the transport, not by a policy).
pub const MAX_REQUEST: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Version {
    key: String,
    id: String,
    body: Vec<u8>,
    content_type: String,
    etag: String,
    modified_ms: u64,
    delete_marker: bool,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, Vec<Version>>,
    credentials: Vec<(String, String)>,
    notify: Option<String>,
    sequence: u64,
    refusals: Vec<String>,
}

/// A running stand-in; stopped when dropped.
#[derive(Debug)]
pub struct S3Standin {
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Serves until dropped.
    _server: crate::server::Server,
    runtime: tokio::runtime::Handle,
}

impl S3Standin {
    /// Starts the stand-in on a free port of 127.0.0.1, accepting these `(access key id, secret access key)` pairs.
    pub fn start(credentials: &[(&str, &str)]) -> std::io::Result<S3Standin> {
        let state = Arc::new(Mutex::new(State {
            credentials: credentials.iter().map(|(a, s)| ((*a).to_owned(), (*s).to_owned())).collect(),
            ..State::default()
        }));
        let shared = state.clone();
        let server = crate::server::Server::start(move |req| {
            let state = shared.clone();
            async move { serve(&state, req).await }
        })?;
        let handle = server.runtime().clone();
        Ok(S3Standin { url: server.url(), state, _server: server, runtime: handle })
    }

    /// Creates a (versioned) bucket.
    pub fn create_bucket(&self, name: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.buckets.entry(name.to_owned()).or_default();
        }
    }

    /// From now on, POST an `S3Event` to `url` for each object created.
    pub fn notify_to(&self, url: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.notify = Some(url.to_owned());
        }
    }

    /// Every version (and delete marker) under `prefix`: `(key, version id, is a delete marker)`.
    pub fn versions(&self, bucket: &str, prefix: &str) -> Vec<(String, String, bool)> {
        self.state
            .lock()
            .ok()
            .and_then(|s| {
                s.buckets.get(bucket).map(|v| {
                    v.iter()
                        .filter(|x| x.key.starts_with(prefix))
                        .map(|x| (x.key.clone(), x.id.clone(), x.delete_marker))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Stores an object as a holder of the bucket's credentials would with `PutObject`, unsigned and unchecked (tests
    /// put what an upload form would refuse, to see what the functions make of it); reported as any other. Its
    /// version id.
    pub fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> String {
        let Ok(mut s) = self.state.lock() else { return String::new() };
        let (id, event, notify) = store(&mut s, bucket, key, body, content_type, "ObjectCreated:Put");
        if let (Some(url), Some(event)) = (notify, event) {
            self.runtime.spawn(deliver(url, event));
        }
        id
    }

    /// The reasons of the uploads refused so far (tests read why).
    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().map(|s| s.refusals.clone()).unwrap_or_default()
    }
}

/// S3's error document.
fn error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>local</RequestId></Error>",
        xml_escape(message)
    );
    respond(status, body.into_bytes(), "application/xml")
}

fn respond(status: u16, body: Vec<u8>, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Signature Version 4 signing key of a secret for a date, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

/// SigV4's URI encoding: unreserved characters kept, everything else `%XX` (upper case); `/` kept in paths.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An S3 event's key: form-encoded (`+` for a space).
fn form_encode(s: &str) -> String {
    uri_encode(s, true).replace("%20", "+")
}

/// Verifies a request's `Authorization: AWS4-HMAC-SHA256 …` header; the reason when it does not hold.
fn verify_header_signature(
    credentials: &[(String, String)],
    method: &str,
    path: &str,
    query: &str,
    headers: &hyper::HeaderMap,
) -> Result<(), String> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let authorization = header("authorization");
    let rest =
        authorization.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("the request is not signed with AWS4-HMAC-SHA256")?;
    let mut parts = BTreeMap::new();
    for p in rest.split(',') {
        if let Some((k, v)) = p.trim().split_once('=') {
            parts.insert(k.to_owned(), v.to_owned());
        }
    }
    let credential = parts.get("Credential").ok_or("no Credential")?;
    let signed = parts.get("SignedHeaders").ok_or("no SignedHeaders")?;
    let signature = parts.get("Signature").ok_or("no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err("a malformed Credential".into());
    };
    let secret = credentials
        .iter()
        .find(|(a, _)| a == access_key)
        .map(|(_, s)| s.clone())
        .ok_or("the access key id is not known (InvalidAccessKeyId)")?;
    let amz_date = header("x-amz-date");
    if !amz_date.starts_with(*date) {
        return Err("x-amz-date is not the Credential's date".into());
    }
    let payload = header("x-amz-content-sha256");
    if payload.is_empty() {
        return Err("no x-amz-content-sha256".into());
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                uri_encode(&crate::http1::percent_decode(k), false),
                uri_encode(&crate::http1::percent_decode(v), false),
            ),
            None => (uri_encode(&crate::http1::percent_decode(p), false), String::new()),
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_headers: String = signed
        .split(';')
        .map(|h| format!("{h}:{}\n", header(h).split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    let canonical_request = format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let expected = hex(hmac::sign(&signing_key(&secret, date, region, service), string_to_sign.as_bytes()).as_ref());
    if expected != *signature {
        return Err("SignatureDoesNotMatch".into());
    }
    Ok(())
}

async fn serve(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = req.headers().clone();
    let Ok(collected) = Limited::new(req.into_body(), MAX_REQUEST).collect().await else {
        return error(400, "MaxMessageLengthExceeded", "Your request was too big.");
    };
    let body = collected.to_bytes().to_vec();
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let bucket = crate::http1::percent_decode(segments.first().copied().unwrap_or(""));
    let key = segments.get(1).map(|k| crate::http1::percent_decode(k)).unwrap_or_default();
    if method == "POST" && key.is_empty() {
        return post_object(state, &bucket, &headers, &body).await;
    }
    let credentials = state.lock().map(|s| s.credentials.clone()).unwrap_or_default();
    if let Err(why) = verify_header_signature(&credentials, &method, &path, &query, &headers) {
        let code = if why == "SignatureDoesNotMatch" { "SignatureDoesNotMatch" } else { "AccessDenied" };
        return error(403, code, &why);
    }
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('=').or(Some((p, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| crate::http1::percent_decode(v))
    };
    let Ok(mut s) = state.lock() else { return error(500, "InternalError", "state poisoned") };
    let Some(versions) = s.buckets.get_mut(&bucket) else {
        return error(404, "NoSuchBucket", "The specified bucket does not exist");
    };
    match (method.as_str(), key.is_empty()) {
        ("GET", true) if param("versions").is_some() => {
            let prefix = param("prefix").unwrap_or_default();
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
            );
            xml.push_str(&format!(
                "<Name>{}</Name><Prefix>{}</Prefix><IsTruncated>false</IsTruncated>",
                xml_escape(&bucket),
                xml_escape(&prefix)
            ));
            let latest: BTreeMap<&str, &str> = versions.iter().map(|v| (v.key.as_str(), v.id.as_str())).collect();
            for v in versions.iter().filter(|v| v.key.starts_with(&prefix)) {
                let is_latest = latest.get(v.key.as_str()) == Some(&v.id.as_str());
                let element = if v.delete_marker { "DeleteMarker" } else { "Version" };
                xml.push_str(&format!(
                    "<{element}><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{is_latest}</IsLatest><LastModified>{}</LastModified><Size>{}</Size><ETag>{}</ETag></{element}>",
                    xml_escape(&v.key),
                    v.id,
                    crate::time::rfc3339_ms(v.modified_ms),
                    v.body.len(),
                    v.etag
                ));
            }
            xml.push_str("</ListVersionsResult>");
            respond(200, xml.into_bytes(), "application/xml")
        }
        ("GET" | "HEAD", false) => {
            let wanted = param("versionId");
            let found = match &wanted {
                Some(id) => versions.iter().find(|v| v.key == key && v.id == *id),
                None => versions.iter().rev().find(|v| v.key == key),
            };
            match found {
                Some(v) if !v.delete_marker => {
                    let body = if method == "HEAD" { Vec::new() } else { v.body.clone() };
                    let mut r = respond(200, body, &v.content_type);
                    if let Ok(id) = hyper::header::HeaderValue::from_str(&v.id) {
                        r.headers_mut().insert("x-amz-version-id", id);
                    }
                    if let Ok(etag) = hyper::header::HeaderValue::from_str(&v.etag) {
                        r.headers_mut().insert(hyper::header::ETAG, etag);
                    }
                    r
                }
                _ => error(404, "NoSuchKey", "The specified key does not exist."),
            }
        }
        ("PUT", false) => {
            let content_type =
                headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("binary/octet-stream").to_owned();
            let stored = store(&mut s, &bucket, &key, body, &content_type, "ObjectCreated:Put");
            let (id, event, notify) = stored;
            if let (Some(url), Some(event)) = (notify, event) {
                tokio::spawn(deliver(url, event));
            }
            let mut r = respond(200, Vec::new(), "application/xml");
            if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
                r.headers_mut().insert("x-amz-version-id", v);
            }
            r
        }
        ("DELETE", false) => {
            match param("versionId") {
                Some(id) => versions.retain(|v| !(v.key == key && v.id == id)),
                None => {
                    let marker = Version {
                        key: key.clone(),
                        id: uuid::Uuid::new_v4().simple().to_string(),
                        body: Vec::new(),
                        content_type: String::new(),
                        etag: String::new(),
                        modified_ms: now_ms(),
                        delete_marker: true,
                    };
                    versions.push(marker);
                }
            }
            respond(204, Vec::new(), "application/xml")
        }
        _ => error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."),
    }
}

/// Stores a new version; the event to deliver, if anyone is told.
fn store(
    s: &mut State,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    event_name: &str,
) -> (String, Option<Value>, Option<String>) {
    s.sequence += 1;
    let sequence = s.sequence;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let etag = format!("\"{}\"", hex(&digest::digest(&digest::SHA256, &body).as_ref()[..16]));
    let size = body.len();
    let version = Version {
        key: key.to_owned(),
        id: id.clone(),
        body,
        content_type: content_type.to_owned(),
        etag: etag.clone(),
        modified_ms: now_ms(),
        delete_marker: false,
    };
    s.buckets.entry(bucket.to_owned()).or_default().push(version);
    let event = json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": crate::time::rfc3339_ms(now_ms()),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": format!("local{sequence}"), "x-amz-id-2": "local"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "documents",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": form_encode(key), "size": size, "eTag": etag.trim_matches('"'), "versionId": id,
                       "sequencer": format!("{sequence:016X}")},
        },
    }]});
    (id, Some(event), s.notify.clone())
}

async fn deliver(url: String, event: Value) {
    let Some(rest) = url.strip_prefix("http://") else { return };
    let (host, path) =
        rest.split_once('/').map(|(h, p)| (h.to_owned(), format!("/{p}"))).unwrap_or((rest.to_owned(), "/".into()));
    let body = event.to_string();
    // One plain HTTP/1.1 request; the answer is read and dropped (S3 does not wait for the function either).
    let Ok(mut stream) = tokio::net::TcpStream::connect(&host).await else { return };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).await.is_ok() {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    }
}

/// A form's fields, in order, and its file.
type Form = (Vec<(String, String)>, Vec<u8>);

/// A multipart/form-data body: its fields in order, the file's content last.
fn multipart(content_type: &str, body: &[u8]) -> Result<Form, String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .ok_or("the POST is not multipart/form-data with a boundary")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut file = None;
    let mut parts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], &delimiter) {
        parts.push(at + found);
        at += found + delimiter.len();
    }
    for pair in parts.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else { return Err("a form part without headers".into()) };
        let head = String::from_utf8_lossy(&part[..split]).into_owned();
        let content = &part[split + 4..];
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name=").map(|n| n.trim_matches('"').to_owned()))
            .ok_or("a form part without a name")?;
        if file.is_some() {
            return Err("fields after the file are ignored by S3: the file must be the last field".into());
        }
        if name.eq_ignore_ascii_case("file") {
            file = Some(content.to_vec());
        } else {
            fields.push((name, String::from_utf8_lossy(content).into_owned()));
        }
    }
    Ok((fields, file.ok_or("the POST has no file field")?))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A browser-form upload, checked against its policy as S3 checks it.
async fn post_object(
    state: &Mutex<State>,
    bucket: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let (fields, file) = match multipart(content_type, body) {
        Ok(x) => x,
        Err(why) => return error(400, "MalformedPOSTRequest", &why),
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let refuse = |status: u16, code: &str, why: String| {
        if let Ok(mut s) = state.lock() {
            s.refusals.push(format!("{code}: {why}"));
        }
        error(status, code, &why)
    };
    let credentials = state.lock().map(|s| s.credentials.clone()).unwrap_or_default();
    let (Some(key), Some(policy_b64), Some(credential), Some(amz_date), Some(signature)) =
        (field("key"), field("policy"), field("x-amz-credential"), field("x-amz-date"), field("x-amz-signature"))
    else {
        return refuse(
            400,
            "InvalidArgument",
            "a signed POST needs key, policy, x-amz-credential, x-amz-date and x-amz-signature".into(),
        );
    };
    if field("x-amz-algorithm").as_deref() != Some("AWS4-HMAC-SHA256") {
        return refuse(400, "InvalidArgument", "x-amz-algorithm must be AWS4-HMAC-SHA256".into());
    }
    // The signature: the base64 policy, signed with the credential's key.
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, "s3", "aws4_request"] = scope.as_slice() else {
        return refuse(400, "InvalidArgument", "a malformed x-amz-credential".into());
    };
    let Some(secret) = credentials.iter().find(|(a, _)| a == access_key).map(|(_, s)| s.clone()) else {
        return refuse(
            403,
            "InvalidAccessKeyId",
            "The AWS access key Id you provided does not exist in our records.".into(),
        );
    };
    if !amz_date.starts_with(*date) {
        return refuse(400, "InvalidArgument", "x-amz-date is not the credential's date".into());
    }
    let expected = hex(hmac::sign(&signing_key(&secret, date, region, "s3"), policy_b64.as_bytes()).as_ref());
    if expected != signature {
        return refuse(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.".into(),
        );
    }
    let Some(policy) =
        STANDARD.decode(policy_b64.as_bytes()).ok().and_then(|p| serde_json::from_slice::<Value>(&p).ok())
    else {
        return refuse(400, "InvalidPolicyDocument", "Invalid Policy: not base64 JSON".into());
    };
    // Expired?
    let now = (now_ms() / 1000) as i64;
    match policy["expiration"].as_str().and_then(crate::time::parse_rfc3339) {
        Some(until) if until > now => {}
        Some(_) => return refuse(403, "AccessDenied", "Invalid according to Policy: Policy expired.".into()),
        None => return refuse(400, "InvalidPolicyDocument", "Invalid Policy: no valid expiration".into()),
    }
    // Every condition.
    let mut covered: Vec<String> = Vec::new();
    let value_of = |name: &str| -> Option<String> {
        if name.eq_ignore_ascii_case("bucket") {
            return Some(bucket.to_owned());
        }
        field(name)
    };
    for condition in policy["conditions"].as_array().into_iter().flatten() {
        let failed = |c: &Value| format!("Invalid according to Policy: Policy Condition failed: {c}");
        match condition {
            Value::Object(map) => {
                for (name, want) in map {
                    covered.push(name.to_ascii_lowercase());
                    if value_of(name).as_deref() != want.as_str() {
                        return refuse(403, "AccessDenied", failed(condition));
                    }
                }
            }
            Value::Array(items) => {
                let op = items.first().and_then(Value::as_str).unwrap_or("");
                if op.eq_ignore_ascii_case("content-length-range") {
                    let (min, max) = (
                        items.get(1).and_then(Value::as_u64).unwrap_or(0),
                        items.get(2).and_then(Value::as_u64).unwrap_or(0),
                    );
                    let size = file.len() as u64;
                    if size > max {
                        return refuse(
                            400,
                            "EntityTooLarge",
                            format!("Your proposed upload exceeds the maximum allowed size ({size} > {max})"),
                        );
                    }
                    if size < min {
                        return refuse(
                            400,
                            "EntityTooSmall",
                            format!("Your proposed upload is smaller than the minimum allowed size ({size} < {min})"),
                        );
                    }
                    continue;
                }
                let name = items.get(1).and_then(Value::as_str).and_then(|n| n.strip_prefix('$')).unwrap_or("");
                let want = items.get(2).and_then(Value::as_str).unwrap_or("");
                covered.push(name.to_ascii_lowercase());
                let have = value_of(name).unwrap_or_default();
                let ok = match op {
                    "eq" => have == want,
                    "starts-with" => have.starts_with(want),
                    _ => false,
                };
                if !ok {
                    return refuse(403, "AccessDenied", failed(condition));
                }
            }
            _ => {
                return refuse(
                    400,
                    "InvalidPolicyDocument",
                    "Invalid Policy: a condition is neither an object nor an array".into(),
                )
            }
        }
    }
    // No field the policy does not cover.
    for (name, _) in &fields {
        let lower = name.to_ascii_lowercase();
        let exempt = matches!(lower.as_str(), "policy" | "x-amz-signature" | "file") || lower.starts_with("x-ignore-");
        if !exempt && !covered.contains(&lower) {
            return refuse(403, "AccessDenied", format!("Invalid according to Policy: Extra input fields: {name}"));
        }
    }
    let content_type = field("content-type").unwrap_or_else(|| "binary/octet-stream".into());
    let Ok(mut s) = state.lock() else { return error(500, "InternalError", "state poisoned") };
    if !s.buckets.contains_key(bucket) {
        return error(404, "NoSuchBucket", "The specified bucket does not exist");
    }
    let (id, event, notify) = store(&mut s, bucket, &key, file, &content_type, "ObjectCreated:Post");
    drop(s);
    if let (Some(url), Some(event)) = (notify, event) {
        tokio::spawn(deliver(url, event));
    }
    let mut r = respond(204, Vec::new(), "application/xml");
    if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-amz-version-id", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_writes_them() {
        assert_eq!(form_encode("resumes/a b/c+d.pdf"), "resumes/a+b/c%2Bd.pdf");
        assert_eq!(crate::http1::percent_decode("a%20b%2F"), "a b/");
    }

    #[test]
    fn multipart_bodies_read_field_by_field_with_the_file_last() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nresumes/a\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XX--\r\n";
        let (fields, file) = multipart("multipart/form-data; boundary=XX", body).unwrap();
        assert_eq!(fields, [("key".to_owned(), "resumes/a".to_owned())]);
        assert_eq!(file, b"%PDF-1.4");
        let late = b"--XX\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XX--\r\n";
        assert!(multipart("multipart/form-data; boundary=XX", late).unwrap_err().contains("last field"));
    }
}
