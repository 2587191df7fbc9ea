//! One rule per field: for every value of the shared corpus (plus each rule's length edges), the Rust check, the
//! OpenAPI document's length and pattern, and the PostgreSQL domain give the same verdict. Needs the test database
//! (`CAREER_TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use route_registry::validate::{address_key, Rule, CORPUS, DOMAINS, LOOK_ALIKES, OKTA_FIELDS};
use serde_json::Value;

/// What the OpenAPI document says about a string schema: accepted or not.
fn openapi_accepts(schema: &Value, value: &str) -> bool {
    let len = value.chars().count() as u64;
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    let max = schema.get("maxLength").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let pattern = schema.get("pattern").and_then(Value::as_str).unwrap_or(".*");
    let re = regex_lite::Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern} does not compile: {e}"));
    (min..=max).contains(&len) && re.is_match(value)
}

/// The schema the OpenAPI document gives a rule: the one of a request property that uses it.
fn schema_of(document: &Value, rule: &Rule) -> Value {
    let pattern = rule.shape.pattern();
    let mut found = None;
    let mut stack = vec![document];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.get("pattern").and_then(Value::as_str) == Some(pattern.as_str())
                    && map.get("maxLength").and_then(Value::as_u64) == Some(rule.max as u64)
                {
                    found = Some(v.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found.unwrap_or_else(|| panic!("no schema in the OpenAPI document with the pattern and length of {rule:?}"))
}

fn values(rule: &Rule) -> Vec<String> {
    let mut out: Vec<String> = CORPUS.iter().map(|s| (*s).to_owned()).collect();
    for n in [rule.min.saturating_sub(1), rule.min, rule.max, rule.max + 1] {
        out.push(match rule.shape {
            route_registry::validate::Shape::Email => format!("{}@e.co", "a".repeat(n.saturating_sub(5))),
            route_registry::validate::Shape::Phone => "1".repeat(n),
            _ => "x".repeat(n),
        });
    }
    out
}

#[test]
fn rust_openapi_and_postgresql_give_every_value_the_same_verdict() {
    let document = route_registry::openapi::document("http://127.0.0.1");
    let services = common::services();
    let mut client = postgres::Client::connect(&services.pg_url, postgres::NoTls).unwrap();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for (domain, rule) in DOMAINS {
        let schema = schema_of(&document, rule);
        for value in values(rule) {
            let rust = rule.check(&value).is_ok();
            let openapi = openapi_accepts(&schema, &value);
            let sql = client
                .query_one(&format!("SELECT $1::text::{domain} IS NOT NULL"), &[&value])
                .map(|_| true)
                .or_else(|e| match e.code() {
                    Some(c) if *c == postgres::error::SqlState::CHECK_VIOLATION => Ok(false),
                    _ => Err(e),
                })
                .unwrap();
            if !(rust == openapi && openapi == sql) {
                disagreements.push(format!("{domain} {value:?}: rust {rust}, openapi {openapi}, postgresql {sql}"));
            }
            checked += 1;
        }
    }
    // Fields bound for Okta follow Okta's narrower limits: Rust and the document agree, and the column that records
    // the value accepts whatever they accept.
    for (field, rule, domain) in OKTA_FIELDS {
        let schema = schema_of(&document, rule);
        for value in values(rule) {
            let rust = rule.check(&value).is_ok();
            let openapi = openapi_accepts(&schema, &value);
            let sql = client.query_one(&format!("SELECT $1::text::{domain} IS NOT NULL"), &[&value]).is_ok();
            if rust != openapi || (rust && !sql) {
                disagreements.push(format!("Okta {field} {value:?}: rust {rust}, openapi {openapi}, {domain} {sql}"));
            }
            checked += 1;
        }
    }
    assert!(disagreements.is_empty(), "the rules disagree:\n{}", disagreements.join("\n"));
    assert!(checked >= DOMAINS.len() * CORPUS.len(), "{checked}");
    println!("{checked} verdicts agree across Rust, OpenAPI and PostgreSQL");
}

/// One normalization of addresses: Rust's `address_key` and PostgreSQL's `app.address_key` give every corpus value
/// the same key (so they agree on which addresses are one), the OpenAPI document says how addresses compare, and the
/// look-alikes that Unicode folds together stay apart in both.
#[test]
fn rust_postgresql_and_openapi_compare_addresses_alike() {
    let services = common::services();
    let mut client = postgres::Client::connect(&services.pg_url, postgres::NoTls).unwrap();
    let values: Vec<String> = CORPUS.iter().map(|s| (*s).to_owned()).collect();
    let sql: Vec<String> = client
        .query("SELECT app.address_key(v) FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n", &[&values])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rust: Vec<String> = values.iter().map(|v| address_key(v)).collect();
    assert_eq!(rust, sql, "Rust and PostgreSQL key the corpus differently");
    for (a, b) in LOOK_ALIKES {
        let apart: bool =
            client.query_one("SELECT app.address_key($1) <> app.address_key($2)", &[a, b]).unwrap().get(0);
        assert!(apart, "{a:?} and {b:?} must not compare equal in PostgreSQL");
    }
    let document = route_registry::openapi::document("http://127.0.0.1");
    let email = schema_of(&document, &route_registry::validate::EMAIL);
    let description = email["description"].as_str().unwrap_or_default();
    assert!(description.contains("compared ignoring ASCII case"), "{description}");
}

#[test]
fn every_text_field_of_the_document_follows_one_of_the_rules() {
    let document = route_registry::openapi::document("http://127.0.0.1");
    let patterns: Vec<String> = DOMAINS.iter().map(|(_, r)| r.shape.pattern()).collect();
    let mut stack = vec![&document["components"]["schemas"]];
    let mut seen = 0;
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(p) = map.get("pattern").and_then(Value::as_str) {
                    assert!(patterns.iter().any(|q| q == p), "a pattern outside the rules: {p}");
                    seen += 1;
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    assert!(seen >= DOMAINS.len(), "{seen}");
}
