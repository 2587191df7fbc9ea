//! A stand-in for Okta's Users API: create a user (`POST /api/v1/users?activate=`), list users by login filter or a
//! search expression (`search=`, sorted, paged by `after` with a `Link` header), read one by id or login, and the
//! lifecycle operations `deactivate`, `activate` and `reactivate`, with Okta's statuses, validation, error bodies
//! (`errorCode`, `errorSummary`, `errorCauses`, …) and rate-limit headers. And the token endpoint of a custom
//! authorization server (`POST /oauth2/{id}/v1/token`) for the client-credentials grant with `private_key_jwt`, as
//! Okta's OAuth 2.0 API documents it: the client assertion is verified against the client's registered public key
//! (signature, `iss` = `sub` = the client id, `aud` the endpoint, `exp`, a `jti` never seen before), and the access
//! token is one the development issuer signs, with `role: service` (the local authorization server).
//!
//! A switch makes it answer 429 (with `X-Rate-Limit-Reset`), 500, slowly, or not at all. Every exchange is kept
//! (and appended as a JSON line to the file `OKTA_CONTRACT_LOG` names, when set), so the contract check can
//! validate each request and each answer against the published OpenAPI document; answers to injected faults are
//! marked, since Okta's document does not declare 5xx answers.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::http1::form_decode as decode;

/// How the stand-in misbehaves, when asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers as Okta does.
    None,
    /// 429 with `X-Rate-Limit-Reset` this many seconds ahead.
    RateLimited { reset_in_s: u64 },
    /// 500 with Okta's error body.
    ServerError,
    /// Answers normally after this delay.
    Slow(Duration),
    /// Never answers (holds the connection).
    Hang,
    /// Refuses every request with Okta's validation error (400 E0000001) naming this profile property, as an org
    /// with a stricter profile policy than Okta's defaults would.
    Refuse(&'static str),
    /// Answers searches normally, except that every page links to the first page again (`after=0`): pages that never
    /// end, as a broken or hostile answer would have them.
    LoopingPages,
}

/// The request headers `names` (lowercase) as an exchange records them: `authorization` reduced to its scheme, so a
/// token never reaches a record.
pub fn recorded_headers(headers: &hyper::HeaderMap, names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|name| {
            let v = headers.get(*name)?.to_str().ok()?;
            let v = if *name == "authorization" { v.split(' ').next().unwrap_or_default() } else { v };
            Some(((*name).to_owned(), v.to_owned()))
        })
        .collect()
}

/// One request and its answer, as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Request headers the contract covers (`authorization` reduced to its scheme).
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub status: u16,
    pub response_headers: BTreeMap<String, String>,
    pub response: Option<Value>,
    /// The answer is outside the published document (an injected fault, or an answer the document does not
    /// declare): the contract check reads its request only.
    pub fault: bool,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    status: String,
    created: String,
    status_changed: String,
    profile: Value,
}

impl User {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "created": self.created,
            "activated": if self.status == "ACTIVE" { json!(self.created) } else { Value::Null },
            "statusChanged": self.status_changed,
            "lastLogin": Value::Null,
            "lastUpdated": self.created,
            "passwordChanged": Value::Null,
            "profile": self.profile,
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": format!("https://example.okta.com/api/v1/users/{}", self.id)}},
        })
    }

    fn login(&self) -> &str {
        self.profile["login"].as_str().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    users: Vec<User>,
    exchanges: Vec<Exchange>,
    fault: Option<Fault>,
    /// Service applications: client id, its public key (a JWK), the scopes it may ask for.
    clients: Vec<(String, Value, Vec<String>)>,
    /// Client assertion ids seen (a replayed assertion is refused).
    assertion_ids: Vec<String>,
    /// Lifetime of the access tokens it issues.
    token_ttl_s: Option<i64>,
    tokens_issued: usize,
    /// The base URL clients reach it by, when not its own (behind a TLS proxy): assertions name this audience.
    public_base: Option<String>,
    /// Answer a client with the token it got before while that is valid (the cold-start benchmark replays the
    /// database's answers, which are keyed by the token); Okta issues a new one per request.
    reuse_tokens: bool,
    issued: Vec<(String, String, i64)>,
    /// The offset of the next page of the search just answered (for its `Link` header).
    next_link: Option<usize>,
}

/// A running stand-in; stopped when dropped.
#[derive(Debug)]
pub struct OktaStandin {
    pub base_url: String,
    token: String,
    state: Arc<Mutex<State>>,
    /// Serves until dropped.
    _server: crate::server::Server,
}

impl OktaStandin {
    /// Starts the stand-in on a free port of 127.0.0.1, accepting `SSWS <token>`.
    pub fn start(token: &str) -> std::io::Result<OktaStandin> {
        let listener = crate::server::Server::bind()?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, token_owned, base) = (state.clone(), token.to_owned(), base_url.clone());
        let server = crate::server::Server::serve(listener, move |req| {
            let (state, token, base) = (shared.clone(), token_owned.clone(), base.clone());
            async move { serve(&state, &token, &base, req).await }
        })?;
        Ok(OktaStandin { base_url, token: token.to_owned(), state, _server: server })
    }

    /// The token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// From now on, misbehave this way (`Fault::None` to stop).
    pub fn set_fault(&self, fault: Fault) {
        if let Ok(mut s) = self.state.lock() {
            s.fault = Some(fault).filter(|f| *f != Fault::None);
        }
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().map(|s| s.exchanges.clone()).unwrap_or_default()
    }

    /// Adds a user directly (seeding), as Okta would hold one: returns its id.
    pub fn add_user(&self, login: &str, email: &str, first_name: &str, last_name: &str, status: &str) -> String {
        let now = crate::time::now_rfc3339();
        let user = User {
            id: new_id(),
            status: status.to_owned(),
            created: now.clone(),
            status_changed: now,
            profile: json!({"login": login, "email": email, "firstName": first_name, "lastName": last_name}),
        };
        let id = user.id.clone();
        if let Ok(mut s) = self.state.lock() {
            s.users.push(user);
        }
        id
    }

    /// A user's status by login (for tests), e.g. `Some("DEPROVISIONED")`.
    pub fn status_of(&self, login: &str) -> Option<String> {
        let s = self.state.lock().ok()?;
        s.users.iter().find(|u| u.login().eq_ignore_ascii_case(login)).map(|u| u.status.clone())
    }

    /// How many users it holds (for tests that check nothing was created twice).
    pub fn user_count(&self) -> usize {
        self.state.lock().map(|s| s.users.len()).unwrap_or(0)
    }

    /// Sets a user's status as an Okta admin would (suspending has no operation in the document the stand-in
    /// speaks): `statusChanged` moves to now. False when there is no such user.
    pub fn set_status(&self, login: &str, status: &str) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        match s.users.iter_mut().find(|u| u.login().eq_ignore_ascii_case(login)) {
            Some(u) => {
                u.status = status.to_owned();
                u.status_changed = crate::time::now_rfc3339();
                true
            }
            None => false,
        }
    }

    /// Sets a user's `statusChanged` to `at` as given (an answer Okta should never give, such as a time in the year
    /// 9999). False when there is no such user.
    pub fn set_status_changed(&self, login: &str, at: &str) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        match s.users.iter_mut().find(|u| u.login().eq_ignore_ascii_case(login)) {
            Some(u) => {
                u.status_changed = at.to_owned();
                true
            }
            None => false,
        }
    }

    /// Registers a service application: its client id, its public key (a JWK, `kty` EC, `crv` P-256) and the scopes
    /// it may request.
    pub fn register_client(&self, client_id: &str, jwk: Value, scopes: &[&str]) {
        if let Ok(mut s) = self.state.lock() {
            s.clients.retain(|(id, _, _)| id != client_id);
            s.clients.push((client_id.to_owned(), jwk, scopes.iter().map(|x| (*x).to_owned()).collect()));
        }
    }

    /// The token endpoint of the local authorization server (`default`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/default/v1/token", self.base_url)
    }

    /// The base URL clients reach it by (a TLS proxy in front of it): client assertions must name this audience.
    pub fn set_public_url(&self, base: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.public_base = Some(base.trim_end_matches('/').to_owned());
        }
    }

    /// Give a client the token it got before, while valid (for the cold-start benchmark; Okta issues a new one).
    pub fn reuse_tokens(&self, reuse: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.reuse_tokens = reuse;
        }
    }

    /// From now on, issue access tokens valid this long.
    pub fn set_token_ttl(&self, seconds: i64) {
        if let Ok(mut s) = self.state.lock() {
            s.token_ttl_s = Some(seconds);
        }
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.state.lock().map(|s| s.tokens_issued).unwrap_or(0)
    }
}

fn error(code: &str, summary: &str, causes: &[String]) -> Value {
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("sample{}", &uuid::Uuid::new_v4().simple().to_string()[..20]),
        "errorCauses": causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
    })
}

/// Okta's checks on a new user's profile (the document's `UserProfile` limits; e-mail and login as e-mail).
fn validate_profile(profile: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    let text = |k: &str| profile.get(k).and_then(Value::as_str);
    let looks_like_email = |s: &str| {
        let mut parts = s.split('@');
        matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
    };
    match text("login") {
        None => causes.push("login: The field cannot be left blank".to_owned()),
        Some(l) if !(5..=100).contains(&l.chars().count()) => {
            causes.push("login: The field must be between 5 and 100 characters".to_owned())
        }
        Some(l) if !looks_like_email(l) => {
            causes.push("login: Username must be in the form of an email address".to_owned())
        }
        _ => {}
    }
    match text("email") {
        None => causes.push("email: The field cannot be left blank".to_owned()),
        Some(e) if !(5..=100).contains(&e.chars().count()) || !looks_like_email(e) => {
            causes.push("email: Does not match required pattern".to_owned())
        }
        _ => {}
    }
    for name in ["firstName", "lastName"] {
        match profile.get(name) {
            None | Some(Value::Null) => causes.push(format!("{name}: The field cannot be left blank")),
            Some(Value::String(s)) if !(1..=50).contains(&s.chars().count()) => {
                causes.push(format!("{name}: The field must be between 1 and 50 characters"))
            }
            Some(Value::String(_)) => {}
            Some(_) => causes.push(format!("{name}: The field must be a string")),
        }
    }
    causes
}

fn new_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("00u{}", &hex[..17])
}

async fn serve(state: &Mutex<State>, token: &str, base: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = recorded_headers(req.headers(), &["content-type", "accept", "authorization"]);
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let form = headers.get("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    // Form bodies (the token endpoint's) are recorded as an object of their fields.
    let body: Option<Value> = (!bytes.is_empty()).then(|| match form {
        true => Value::Object(
            String::from_utf8_lossy(&bytes)
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), Value::String(decode(v))))
                .collect(),
        ),
        false => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    let fault = state.lock().ok().and_then(|s| s.fault);
    let token_endpoint = method == "POST"
        && path.starts_with("/oauth2/")
        && path.ends_with("/v1/token")
        && path.trim_start_matches("/oauth2/").split('/').count() == 3;

    let (status, answer, extra, injected) = match fault {
        Some(Fault::Hang) => {
            // Hold the request until the client gives up (the tests bound how long they wait).
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (500, None, None, true)
        }
        Some(Fault::RateLimited { reset_in_s }) => {
            let reset = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) + reset_in_s;
            let summary = "API call exceeded rate limit due to too many requests.";
            (429, Some(error("E0000047", summary, &[])), Some(reset), false)
        }
        Some(Fault::ServerError) => (500, Some(error("E0000009", "Internal Server Error", &[])), None, true),
        Some(Fault::Refuse(property)) => {
            let cause = format!("{property}: Does not match the required pattern of the org's profile policy");
            (400, Some(error("E0000001", &format!("Api validation failed: {property}"), &[cause])), None, false)
        }
        other => {
            if let Some(Fault::Slow(delay)) = other {
                tokio::time::sleep(delay).await;
            }
            if token_endpoint {
                let public = state.lock().ok().and_then(|s| s.public_base.clone()).unwrap_or_else(|| base.to_owned());
                let (status, answer) = oauth::token(state, &format!("{public}{path}"), form, body.as_ref());
                (status, Some(answer), None, false)
            } else {
                let (status, answer) = match authorization.as_deref().and_then(|a| a.strip_prefix("SSWS ")) {
                    Some(t) if t == token => route(state, &method, &path, &query, body.as_ref()),
                    _ => (401, Some(error("E0000011", "Invalid token provided", &[]))),
                };
                // Okta answers a refused API token with 401 E0000011, which its published document leaves out: marked
                // like a fault, so the contract check validates the request only.
                (status, answer, None, status == 401)
            }
        }
    };

    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut response_headers = BTreeMap::new();
    response_headers.insert("content-type".to_owned(), "application/json".to_owned());
    response_headers.insert("x-rate-limit-limit".to_owned(), "600".to_owned());
    response_headers.insert("x-rate-limit-remaining".to_owned(), if status == 429 { "0" } else { "599" }.to_owned());
    response_headers.insert("x-rate-limit-reset".to_owned(), extra.unwrap_or(now + 60).to_string());
    if token_endpoint {
        response_headers.insert("cache-control".to_owned(), "no-store".to_owned());
        response_headers.insert("pragma".to_owned(), "no-cache".to_owned());
    }
    let looping = fault == Some(Fault::LoopingPages) && query.contains("search=");
    let next = state.lock().ok().and_then(|mut s| s.next_link.take()).or(looping.then_some(0));
    if let Some(next) = next {
        let rest: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("after=") && !kv.is_empty()).collect();
        response_headers
            .insert("link".to_owned(), format!("<{base}{path}?{}&after={next}>; rel=\"next\"", rest.join("&")));
    }
    let exchange = Exchange {
        method,
        path,
        query,
        headers,
        body,
        status,
        response_headers: response_headers.clone(),
        response: answer.clone(),
        fault: injected,
    };
    if let Some(file) = std::env::var_os("OKTA_CONTRACT_LOG") {
        // One whole line per write, under a lock: stand-ins of parallel tests share the file, and `writeln!` would
        // write the record and its newline separately, letting another record land between them.
        static LOG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let mut line = serde_json::to_string(&exchange).unwrap_or_default();
        line.push('\n');
        let _guard = LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
            let _ = f.write_all(line.as_bytes());
        }
    }
    if let Ok(mut s) = state.lock() {
        s.exchanges.push(exchange);
    }
    let mut response = Response::new(Full::new(Bytes::from(answer.map(|a| a.to_string()).unwrap_or_default())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &response_headers {
        if let (Ok(name), Ok(value)) =
            (hyper::header::HeaderName::from_bytes(k.as_bytes()), hyper::header::HeaderValue::from_str(v))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn query_param(query: &str, name: &str) -> Option<String> {
    crate::http1::query_param(query, name).map(decode)
}

fn find<'s>(users: &'s mut [User], id_or_login: &str) -> Option<&'s mut User> {
    users.iter_mut().find(|u| u.id == id_or_login || u.login().eq_ignore_ascii_case(id_or_login))
}

/// Okta's behaviour for one authenticated request: `(status, body)`.
fn route(state: &Mutex<State>, method: &str, path: &str, query: &str, body: Option<&Value>) -> (u16, Option<Value>) {
    let Ok(mut s) = state.lock() else { return (500, Some(error("E0000009", "Internal Server Error", &[]))) };
    let not_found =
        |what: &str| (404, Some(error("E0000007", &format!("Not found: Resource not found: {what} (User)"), &[])));
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        ("POST", ["api", "v1", "users"]) => {
            let Some(profile) = body.and_then(|b| b.get("profile")) else {
                return (400, Some(error("E0000003", "The request body was not well-formed.", &[])));
            };
            let causes = validate_profile(profile);
            if !causes.is_empty() {
                return (
                    400,
                    Some(error("E0000001", &format!("Api validation failed: {}", causes.join(", ")), &causes)),
                );
            }
            let login = profile["login"].as_str().unwrap_or_default();
            if s.users.iter().any(|u| u.login().eq_ignore_ascii_case(login)) {
                let cause = "login: An object with this field already exists in the current organization".to_owned();
                return (400, Some(error("E0000001", "Api validation failed: login", &[cause])));
            }
            let activate = query_param(query, "activate").is_none_or(|v| v != "false");
            let now = crate::time::now_rfc3339();
            let user = User {
                id: new_id(),
                // Without credentials, activation leaves the user PROVISIONED until they finish the e-mailed flow.
                status: if activate { "PROVISIONED" } else { "STAGED" }.into(),
                created: now.clone(),
                status_changed: now,
                profile: profile.clone(),
            };
            let answer = user.json();
            s.users.push(user);
            (200, Some(answer))
        }
        ("GET", ["api", "v1", "users"]) if query_param(query, "search").is_some() => {
            let expression = query_param(query, "search").unwrap_or_default();
            let Some(search) = search::parse(&expression) else {
                return (400, Some(error("E0000031", &format!("Invalid search criteria: {expression}"), &[])));
            };
            let sort_by = query_param(query, "sortBy");
            let descending = query_param(query, "sortOrder").is_some_and(|o| o == "desc");
            let limit = query_param(query, "limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(200).clamp(1, 200);
            let offset = query_param(query, "after").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
            let mut found: Vec<Value> = s.users.iter().map(User::json).filter(|u| search.matches(u)).collect();
            if let Some(key) = &sort_by {
                // Okta orders equal values by id.
                found.sort_by(|a, b| {
                    let (x, y) = (search::field(a, key), search::field(b, key));
                    let order = x.cmp(&y).then_with(|| a["id"].as_str().cmp(&b["id"].as_str()));
                    if descending {
                        order.reverse()
                    } else {
                        order
                    }
                });
            }
            let page: Vec<Value> = found.iter().skip(offset).take(limit).cloned().collect();
            if offset + page.len() < found.len() {
                s.next_link = Some(offset + page.len());
            }
            (200, Some(Value::Array(page)))
        }
        ("GET", ["api", "v1", "users"]) => {
            let filter = query_param(query, "filter").unwrap_or_default();
            let login = filter.strip_prefix("profile.login eq \"").and_then(|r| r.strip_suffix('"'));
            let users: Vec<Value> = s
                .users
                .iter()
                .filter(|u| match login {
                    Some(l) => u.login().eq_ignore_ascii_case(l),
                    // Without a filter, Okta omits DEPROVISIONED users.
                    None => u.status != "DEPROVISIONED",
                })
                .map(User::json)
                .collect();
            (200, Some(Value::Array(users)))
        }
        ("GET", ["api", "v1", "users", id]) => match find(&mut s.users, id) {
            Some(u) => (200, Some(u.json())),
            None => not_found(id),
        },
        ("POST", ["api", "v1", "users", id, "lifecycle", op]) => {
            let op = (*op).to_owned();
            let Some(u) = find(&mut s.users, id) else { return not_found(id) };
            let token = json!({"activationToken": "XE6wE17zmphl3KqAPFxO", "activationUrl": "https://example.okta.com/tokens/XE6wE17zmphl3KqAPFxO/verify"});
            let send_email = query_param(query, "sendEmail").is_some_and(|v| v == "true");
            let denied = |why: &str| (403, Some(error("E0000016", why, &[])));
            match op.as_str() {
                "deactivate" => {
                    u.status = "DEPROVISIONED".into();
                    u.status_changed = crate::time::now_rfc3339();
                    (200, None)
                }
                "activate" if matches!(u.status.as_str(), "STAGED" | "DEPROVISIONED") => {
                    u.status = "PROVISIONED".into();
                    u.status_changed = crate::time::now_rfc3339();
                    (200, Some(if send_email { json!({}) } else { token }))
                }
                "activate" => denied("Activation failed because the user is already active"),
                "reactivate" if matches!(u.status.as_str(), "PROVISIONED" | "RECOVERY") => {
                    (200, Some(if send_email { json!({}) } else { token }))
                }
                "reactivate" => denied("This operation is not allowed in the user's current status."),
                _ => not_found(&op),
            }
        }
        _ => (404, Some(error("E0000022", "The endpoint does not support the provided HTTP method", &[]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_decode_and_profiles_validate() {
        assert_eq!(decode("profile.login%20eq%20%22a%2Bb%40x.io%22"), "profile.login eq \"a+b@x.io\"");
        assert!(validate_profile(&json!({"login": "a@b.co", "email": "a@b.co", "firstName": "A", "lastName": "B"}))
            .is_empty());
        assert_eq!(
            validate_profile(
                &json!({"login": "a@b.co", "email": "a@b.co", "firstName": "A".repeat(51), "lastName": "B"})
            )
            .len(),
            1
        );
    }
}

/// The search expressions of Okta's Users API that the stand-in evaluates: comparisons (`eq`, `gt`, `ge`, `lt`,
/// `le`, `sw`) of a property (`status`, `statusChanged`, `profile.login` …) with a quoted value, joined by `and` /
/// `or`, in parentheses. Timestamps compare as Okta's ISO text, which orders like time.
mod search {
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Expr {
        Compare { field: String, op: String, value: String },
        And(Box<Expr>, Box<Expr>),
        Or(Box<Expr>, Box<Expr>),
    }

    /// A property of a user's JSON by dotted path, as text.
    pub fn field(user: &Value, path: &str) -> String {
        let mut at = user;
        for part in path.split('.') {
            at = &at[part];
        }
        match at {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    impl Expr {
        pub fn matches(&self, user: &Value) -> bool {
            match self {
                Expr::And(a, b) => a.matches(user) && b.matches(user),
                Expr::Or(a, b) => a.matches(user) || b.matches(user),
                Expr::Compare { field: f, op, value } => {
                    let have = field(user, f);
                    match op.as_str() {
                        "eq" => have.eq_ignore_ascii_case(value),
                        "sw" => have.to_ascii_lowercase().starts_with(&value.to_ascii_lowercase()),
                        "gt" => have.as_str() > value.as_str(),
                        "ge" => have.as_str() >= value.as_str(),
                        "lt" => have.as_str() < value.as_str(),
                        "le" => have.as_str() <= value.as_str(),
                        _ => false,
                    }
                }
            }
        }
    }

    fn tokens(s: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => {
                    chars.next();
                }
                '(' | ')' => {
                    out.push(c.to_string());
                    chars.next();
                }
                '"' => {
                    chars.next();
                    let mut value = String::from("\"");
                    loop {
                        match chars.next()? {
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    out.push(value);
                }
                _ => {
                    let mut word = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == ' ' || c == '(' || c == ')' {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    out.push(word);
                }
            }
        }
        Some(out)
    }

    /// Parses an expression; `None` for anything outside the subset.
    pub fn parse(s: &str) -> Option<Expr> {
        let tokens = tokens(s)?;
        let mut at = 0;
        let expr = or(&tokens, &mut at)?;
        (at == tokens.len()).then_some(expr)
    }

    fn or(t: &[String], at: &mut usize) -> Option<Expr> {
        let mut left = and(t, at)?;
        while t.get(*at).is_some_and(|w| w == "or") {
            *at += 1;
            left = Expr::Or(Box::new(left), Box::new(and(t, at)?));
        }
        Some(left)
    }

    fn and(t: &[String], at: &mut usize) -> Option<Expr> {
        let mut left = term(t, at)?;
        while t.get(*at).is_some_and(|w| w == "and") {
            *at += 1;
            left = Expr::And(Box::new(left), Box::new(term(t, at)?));
        }
        Some(left)
    }

    fn term(t: &[String], at: &mut usize) -> Option<Expr> {
        if t.get(*at)? == "(" {
            *at += 1;
            let inner = or(t, at)?;
            (t.get(*at)? == ")").then_some(())?;
            *at += 1;
            return Some(inner);
        }
        let field = t.get(*at)?.clone();
        let op = t.get(*at + 1)?.clone();
        let value = t.get(*at + 2)?.strip_prefix('"')?.to_owned();
        if !["eq", "sw", "gt", "ge", "lt", "le"].contains(&op.as_str()) || field.starts_with('"') {
            return None;
        }
        *at += 3;
        Some(Expr::Compare { field, op, value })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn the_reconciliation_search_parses_and_matches() {
            let e = parse(r#"(status eq "DEPROVISIONED" or status eq "SUSPENDED") and statusChanged ge "2026-12-06T10:00:00.000Z""#)
                .unwrap();
            let user = |status: &str, changed: &str| json!({"status": status, "statusChanged": changed});
            assert!(e.matches(&user("SUSPENDED", "2026-12-06T10:00:00.000Z")));
            assert!(!e.matches(&user("ACTIVE", "2026-12-06T11:00:00.000Z")));
            assert!(!e.matches(&user("DEPROVISIONED", "2026-12-06T09:59:59.999Z")));
            assert_eq!(parse(r#"status eq"#), None);
            assert_eq!(parse(r#"status like "x""#), None);
        }
    }
}

/// The token endpoint of the local authorization server: the client-credentials grant with `private_key_jwt`.
mod oauth {
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    use serde_json::{json, Value};

    use super::State;

    pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    fn refuse(status: u16, error: &str, description: &str) -> (u16, Value) {
        (status, json!({"error": error, "error_description": description}))
    }

    /// `(status, answer)` for a token request to `endpoint`.
    pub fn token(state: &Mutex<State>, endpoint: &str, form: bool, body: Option<&Value>) -> (u16, Value) {
        let Some(body) = body.filter(|_| form) else {
            return refuse(
                400,
                "invalid_request",
                "The request must be form-encoded (application/x-www-form-urlencoded).",
            );
        };
        let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
        if field("grant_type") != "client_credentials" {
            return refuse(400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].");
        }
        if field("client_assertion_type") != ASSERTION_TYPE || field("client_assertion").is_empty() {
            return refuse(
                401,
                "invalid_client",
                "Client authentication failed. Either the client or the client credentials are invalid.",
            );
        }
        let assertion = field("client_assertion");
        let Ok(mut s) = state.lock() else { return refuse(500, "server_error", "state poisoned") };
        // The assertion, verified by hand (ES256 with ring): the process-wide JWT crypto provider may be one that
        // only knows RS256 (the authorizer installs such a one when it runs in the same process).
        let invalid = |why: &str| refuse(401, "invalid_client", &format!("The client_assertion is invalid: {why}"));
        let parts: Vec<&str> = assertion.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else { return invalid("not a JWS") };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
        let header: Value = decode(header).and_then(|h| serde_json::from_slice(&h).ok()).unwrap_or(Value::Null);
        let claims: Value = decode(payload).and_then(|c| serde_json::from_slice(&c).ok()).unwrap_or(Value::Null);
        if header["alg"] != "ES256" {
            return invalid("the client's key signs ES256");
        }
        let claimed = claims["sub"].as_str().unwrap_or_default();
        let Some((client_id, jwk, scopes)) = s.clients.iter().find(|(id, _, _)| id == claimed).cloned() else {
            return refuse(401, "invalid_client", "The client_assertion names no registered client.");
        };
        let point: Option<Vec<u8>> = match (jwk["x"].as_str().and_then(decode), jwk["y"].as_str().and_then(decode)) {
            (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => Some([vec![4], x, y].concat()),
            _ => None,
        };
        let Some(point) = point else {
            return refuse(401, "invalid_client", "The client's registered key is unusable.");
        };
        let signed = &assertion[..assertion.len() - signature.len() - 1];
        let verified = decode(signature).is_some_and(|sig| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(signed.as_bytes(), &sig).is_ok()
        });
        if !verified {
            return invalid("InvalidSignature");
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        if claims["iss"].as_str() != Some(client_id.as_str()) {
            return invalid("iss must be the client id");
        }
        if claims["aud"].as_str() != Some(endpoint)
            && !claims["aud"].as_array().is_some_and(|a| a.iter().any(|x| x == endpoint))
        {
            return invalid("aud must be the token endpoint");
        }
        match claims["exp"].as_i64() {
            None => return invalid("no exp"),
            Some(exp) if exp <= now => return invalid("ExpiredSignature"),
            Some(exp) if exp > now + 3600 => {
                return refuse(401, "invalid_client", "The client_assertion may be valid for an hour at most.")
            }
            Some(_) => {}
        }
        let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
            return refuse(401, "invalid_client", "The client_assertion has no jti.");
        };
        if s.assertion_ids.iter().any(|seen| seen == jti) {
            return refuse(401, "invalid_client", "The client_assertion was already used (its jti was seen).");
        }
        s.assertion_ids.push(jti.to_owned());
        let requested: Vec<&str> = field("scope").split(' ').filter(|x| !x.is_empty()).collect();
        if requested.is_empty() || !requested.iter().all(|r| scopes.iter().any(|s| s == r)) {
            return refuse(
                400,
                "invalid_scope",
                "One or more scopes are not configured for the authorization server resource.",
            );
        }
        let ttl = s.token_ttl_s.unwrap_or(3600);
        if s.reuse_tokens {
            let kept = s.issued.iter().find(|(c, _, until)| *c == client_id && *until > now + 60).cloned();
            if let Some((_, token, until)) = kept {
                return (
                    200,
                    json!({"token_type": "Bearer", "expires_in": until - now, "access_token": token, "scope": requested.join(" ")}),
                );
            }
        }
        let token = dev_issuer::service_token(&client_id, &requested, ttl);
        if let Ok(t) = &token {
            s.issued.push((client_id.clone(), t.clone(), now + ttl));
        }
        let Ok(token) = token else { return refuse(500, "server_error", "the development issuer could not sign") };
        s.tokens_issued += 1;
        (200, json!({"token_type": "Bearer", "expires_in": ttl, "access_token": token, "scope": requested.join(" ")}))
    }
}
