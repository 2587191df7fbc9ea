//! What a deployed function may touch, as the stacks resolved it from its catalog declaration: resource addresses
//! in this stack. The stacks write it into the function's `"//"` property (which Terraform ignores) as JSON, and
//! `cargo xtask check-iam` reads it back with this same type, so the two sides cannot disagree on a format.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The key under the `"//"` property that holds [`DeclaredUses`].
pub const KEY: &str = "declared_uses";

/// One function's declared uses, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredUses {
    /// `aws_cloudwatch_log_group.<name>`: its own log group.
    pub log_group: String,
    /// `aws_secretsmanager_secret.<name>` it reads.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Prefixes of buckets it reads or writes.
    #[serde(default)]
    pub documents: Vec<ObjectAccess>,
    /// `aws_kms_key.<name>` it may decrypt with (the keys of its secrets).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Whether it sends X-Ray traces.
    #[serde(default)]
    pub tracing: bool,
}

/// Objects of one bucket under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectAccess {
    /// `aws_s3_bucket.<name>`.
    pub bucket: String,
    /// Key prefix, ending in `/`.
    pub prefix: String,
    pub read: bool,
    pub write: bool,
}

/// The `"//"` value of a function.
pub fn comment(uses: &DeclaredUses) -> Value {
    json!({
        "note": "Declared uses: the only grants this function's role may hold (checked by cargo xtask check-iam).",
        KEY: uses,
    })
}

/// Reads a function's declared uses back from its `"//"` value.
pub fn read(comment: &Value) -> Option<Result<DeclaredUses, String>> {
    comment.get(KEY).map(|v| serde_json::from_value(v.clone()).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_members() {
        let uses = DeclaredUses {
            log_group: "aws_cloudwatch_log_group.x".into(),
            secrets: vec!["aws_secretsmanager_secret.s".into()],
            documents: vec![ObjectAccess {
                bucket: "aws_s3_bucket.d".into(),
                prefix: "r/".into(),
                read: true,
                write: false,
            }],
            keys: vec![],
            tracing: true,
        };
        assert_eq!(read(&comment(&uses)), Some(Ok(uses)));
        assert!(read(&json!({KEY: {"log_group": "x", "everything": true}})).unwrap().is_err());
        assert_eq!(read(&json!("a plain note")), None);
    }
}
