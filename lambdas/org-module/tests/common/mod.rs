//! Test helpers: org-module's real handlers, each in its own container as in a Lambda, fed API Gateway HTTP API v2
//! events (`module_runtime::events`) that carry what the authorizer puts there and the caller's own token, signed by
//! the development issuer, which PostgREST verifies against the issuer's JWKS as Supabase does Okta's.
//!
//! Integration tests read the services the test command starts from `CAREER_TEST_*` variables and fail (never
//! skip) without them. Every test makes its own users and organizations with a unique tag, so tests run in
//! parallel on one database.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::{Duration, Instant};

use lambda_http::Body;
use module_runtime::{events, Config, Container, DbConfig, OktaConfig};
use route_registry::modules::org;
use route_registry::Function;
use serde_json::{json, Value};

/// A caller as Okta would describe them: login (`sub`), e-mail and groups, with a token signed for them.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: String,
    pub groups: Vec<String>,
    pub token: String,
    /// The platform id, once provisioned.
    pub id: String,
}

impl User {
    /// A user whose login is their e-mail (as the provisioning flow records them).
    pub fn new(login: &str) -> User {
        User::with_groups(login, &[])
    }

    pub fn with_groups(login: &str, groups: &[&str]) -> User {
        let token = dev_issuer::Claims::new(login)
            .email(login)
            .groups(groups)
            .audience(&dev_issuer::audience("dev"))
            .ttl(3600)
            .sign()
            .expect("the development key signs");
        User {
            sub: login.into(),
            email: login.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            token,
            id: String::new(),
        }
    }

    /// The same person with another token (expired, other key …).
    pub fn with_token(&self, token: String) -> User {
        User { token, ..self.clone() }
    }
}

/// The platform admin group of the tests (the default, which the database settings also hold).
pub const ADMIN_GROUP: &str = module_runtime::DEFAULT_ADMIN_GROUP;

/// One answer: status, the envelope, and the `Retry-After` header when present.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn id(&self) -> String {
        self.body["data"]["id"].as_str().unwrap_or_else(|| panic!("no data.id in {}", self.body)).to_owned()
    }
}

/// org-module's four functions, each in its own container with the configuration its declared uses need.
pub struct Api {
    containers: Vec<Container>,
}

impl Api {
    pub fn new(config: &Config) -> Api {
        // Request lines are kept in memory (tests check them against the EMF specification) instead of printed.
        module_runtime::metrics::capture();
        let http = module_runtime::http_client::client().expect("an HTTP client");
        let containers = org::FUNCTIONS
            .iter()
            .map(|f| {
                let own = Config {
                    db: config.db.clone().filter(|_| f.uses_database()),
                    okta: config.okta.clone().filter(|_| f.uses_okta()),
                    ..Default::default()
                };
                Container::with_config(*f, http.clone(), own)
            })
            .collect();
        Api { containers }
    }

    pub fn container(&self, function: Function) -> &Container {
        self.containers.iter().find(|c| c.function() == function).expect("an org-module function")
    }

    /// Sends a request as `user` (or with no caller at all), to the function the catalog routes it to (`fallback`
    /// when no route matches), and checks the envelope.
    pub async fn send(
        &self,
        user: Option<&User>,
        method: &str,
        path: &str,
        body: Option<&str>,
        fallback: Function,
    ) -> Answer {
        let mut headers = vec![("content-type", "application/json")];
        let authorization = user.map(|u| format!("Bearer {}", u.token));
        if let Some(a) = &authorization {
            headers.push(("authorization", a));
        }
        let mut event = events::http_request(method, path, &headers, body.map(str::to_owned));
        if let Some(u) = user {
            let groups = serde_json::to_string(&u.groups).expect("strings serialize");
            events::authorize(&mut event, &json!({"sub": u.sub, "email": u.email, "groups": groups}));
        }
        let function = route_registry::find_route(method, path).map_or(fallback, |r| r.function);
        let start = Instant::now();
        let response = module_runtime::registration::handle_http(
            org_module::FUNCTIONS,
            function,
            self.container(function),
            events::into_request(event),
        )
        .await
        .expect("an org-module function");
        let elapsed = start.elapsed();
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], "application/json", "{method} {path}");
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value = match response.body() {
            Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
            other => panic!("{method} {path}: non-text body {other:?}"),
        };
        // Every answer is an envelope.
        assert_eq!(body["success"], json!((200..300).contains(&status)), "{method} {path}: {body}");
        Answer { status, body, retry_after, elapsed }
    }

    /// `send` with a JSON body, to the route's function.
    pub async fn call(&self, user: Option<&User>, method: &str, path: &str, body: Option<Value>) -> Answer {
        let text = body.map(|b| b.to_string());
        self.send(user, method, path, text.as_deref(), org::ORGS).await
    }

    /// Calls and asserts the status, showing the answer when it differs.
    pub async fn expect(&self, status: u16, user: &User, method: &str, path: &str, body: Option<Value>) -> Answer {
        let answer = self.call(Some(user), method, path, body).await;
        assert_eq!(answer.status, status, "{} {method} {path}: {}", user.sub, answer.body);
        answer
    }
}

/// The services the test command started.
pub struct Services {
    pub rest_url: String,
    pub pg_url: String,
}

pub fn services() -> Services {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run these tests through `cargo xtask test` or `cargo xtask ci`, which start PostgreSQL and PostgREST")
        })
    };
    Services { rest_url: var("CAREER_TEST_POSTGREST_URL"), pg_url: var("CAREER_TEST_DATABASE_URL") }
}

pub fn db_config(rest_url: &str) -> DbConfig {
    DbConfig { rest_url: rest_url.to_owned(), anon_key: String::new() }
}

pub fn okta_config(okta: &standins::okta::OktaStandin) -> OktaConfig {
    OktaConfig { base_url: okta.base_url.clone(), token: okta.token().to_owned(), timeout: Duration::from_secs(5) }
}

/// Runs SQL as the superuser (setup RLS would hide, checks of what was written). The synchronous client must not
/// block the async runtime's thread, hence `block_in_place` (tests use the multi-threaded runtime).
pub fn su<T>(f: impl FnOnce(&mut postgres::Client) -> T) -> T {
    tokio::task::block_in_place(|| {
        let mut client = postgres::Client::connect(&services().pg_url, postgres::NoTls).expect("the test database");
        f(&mut client)
    })
}

/// A short unique tag for one test's names.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A platform admin: an active identity (inserted directly, as the first admin of an environment is) whose token
/// names the admin group.
pub fn admin(tag: &str) -> User {
    let mut user = User::with_groups(&format!("admin-{tag}@example.com"), &[ADMIN_GROUP]);
    user.id = insert_identity(&user.sub, "Ada", "Admin");
    user
}

/// Inserts an active identity with its profile as the superuser; returns its id.
pub fn insert_identity(login: &str, first: &str, last: &str) -> String {
    su(|c| {
        let row = c
            .query_one(
                "WITH i AS (INSERT INTO identities (idp_subject, email, first_name, last_name) VALUES ($1, $1, $2, $3) RETURNING id)
                 INSERT INTO profiles (id, first_name, last_name) SELECT id, $2, $3 FROM i RETURNING id::text",
                &[&login, &first, &last],
            )
            .expect("insert an identity");
        row.get(0)
    })
}
