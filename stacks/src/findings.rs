//! What a review of a synthesized stack reports: findings, each `env · address · statement · rule · why`, in a set
//! that keeps one of each (a mistake seen by two rules is still one line per rule), and the small readers of
//! Terraform JSON the reviews share. Pure: JSON in, findings out.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub env: String,
    pub address: String,
    pub statement: String,
    pub rule: &'static str,
    pub why: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {} · {} · {} · {}", self.env, self.address, self.statement, self.rule, self.why)
    }
}

/// The findings of one environment's review, sorted and without repeats.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    env: String,
    found: BTreeSet<Finding>,
}

impl Findings {
    pub fn new(env: impl fmt::Display) -> Findings {
        Findings { env: env.to_string(), found: BTreeSet::new() }
    }

    /// Records a finding; the same finding twice is recorded once.
    pub fn add(&mut self, address: &str, statement: &str, rule: &'static str, why: String) {
        self.found.insert(Finding {
            env: self.env.clone(),
            address: address.to_owned(),
            statement: statement.to_owned(),
            rule,
            why,
        });
    }

    /// Whether `rule` was already found at `address` (a later rule stays silent on what an earlier one reported).
    pub fn has(&self, address: &str, rule: &str) -> bool {
        self.found.iter().any(|f| f.address == address && f.rule == rule)
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.found.into_iter().collect()
    }
}

/// `"${aws_x.name.attr}"` → `("aws_x", "name", "attr")` when the whole string is one reference.
pub fn whole_ref(s: &str) -> Option<(&str, &str, &str)> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    let mut parts = inner.split('.');
    let (ty, name, attr) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && ty.starts_with("aws_")).then_some((ty, name, attr))
}

/// A string or a list of strings as a list.
pub fn as_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The resources of one type, by name.
pub fn blocks<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    doc["resource"][ty].as_object().map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default()
}

/// A policy's `Statement`, one or a list, as a list.
pub fn as_statements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![v],
        _ => Vec::new(),
    }
}
