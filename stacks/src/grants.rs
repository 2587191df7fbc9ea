//! What each catalog function may do, derived from its declared uses in one place. The stacks turn a function's
//! grants into its role's policy ([`statements`]); `cargo xtask check-iam` derives the same grants from the catalog
//! and holds every statement of the synthesized policy to them ([`allows`]), so a stack, or a hand edit, that grants
//! more than the catalog declares is caught.

use infra_dsl::policy::Statement;
use infra_dsl::Expr;
use route_registry::{Function, Use};

use crate::env::Settings;
use crate::names;

/// One thing a function's role may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Write to its own log group (`logs:CreateLogStream`, `logs:PutLogEvents`).
    OwnLogs,
    /// Read objects of a bucket under a prefix (`s3:GetObject`) and/or write them (`s3:PutObject`).
    Objects { bucket: &'static str, prefix: String, read: bool, write: bool },
    /// Read a secret of the platform (`secretsmanager:GetSecretValue`).
    ReadSecret { secret: &'static str },
    /// Decrypt with a key of the platform, only through the named service (`kms:Decrypt` with `kms:ViaService`).
    DecryptThrough { key: &'static str, service: String },
    /// Send traces (X-Ray has no resource-level permissions).
    Tracing,
}

/// A function's grants, in the order its policy lists them.
pub fn of(f: &Function, settings: &Settings) -> Vec<Grant> {
    let mut out = vec![Grant::OwnLogs];
    for u in f.uses {
        if let Use::Documents { prefix, access } = u {
            out.push(Grant::Objects {
                bucket: names::DOCUMENTS,
                prefix: documents_prefix(prefix),
                read: access.reads(),
                write: access.writes(),
            });
        }
    }
    let secrets: Vec<&'static str> = f.uses.iter().filter(|u| **u == Use::Okta).map(|_| names::OKTA_SECRET).collect();
    if !secrets.is_empty() {
        out.extend(secrets.iter().map(|s| Grant::ReadSecret { secret: s }));
        // The secrets are encrypted with the platform's key; Secrets Manager decrypts on the caller's behalf.
        out.push(Grant::DecryptThrough {
            key: names::KEY,
            service: format!("secretsmanager.{}.amazonaws.com", settings.region),
        });
    }
    out.push(Grant::Tracing);
    out
}

/// `resumes` or `resumes/` → `resumes/`: the documents prefix as granted and passed to the function.
pub fn documents_prefix(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
}

fn arn(ty: &str, name: &str) -> Expr {
    Expr::raw(format!("{ty}.{name}.arn"))
}

/// The policy statements of a function's grants (`local` is the function's local name).
pub fn statements(grants: &[Grant], local: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let secrets: Vec<Expr> = grants
        .iter()
        .filter_map(|g| match g {
            Grant::ReadSecret { secret } => Some(arn("aws_secretsmanager_secret", secret)),
            _ => None,
        })
        .collect();
    let mut secrets_listed = false;
    for g in grants {
        match g {
            Grant::OwnLogs => {
                out.push(
                    Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"])
                        .sid("OwnLogGroup")
                        .resources([arn("aws_cloudwatch_log_group", local) + ":*"]),
                )
            }
            Grant::Objects { bucket, prefix, read, write } => {
                let mut actions = Vec::new();
                if *read {
                    actions.push("s3:GetObject");
                }
                if *write {
                    actions.push("s3:PutObject");
                }
                out.push(
                    Statement::allow(&actions)
                        .sid("DeclaredDocuments")
                        .resources([arn("aws_s3_bucket", bucket) + format!("/{prefix}*")]),
                );
            }
            // All secrets in one statement, where the first one is.
            Grant::ReadSecret { .. } if !secrets_listed => {
                secrets_listed = true;
                out.push(
                    Statement::allow(&["secretsmanager:GetSecretValue"])
                        .sid("DeclaredSecrets")
                        .resources(secrets.clone()),
                );
            }
            Grant::ReadSecret { .. } => {}
            Grant::DecryptThrough { key, service } => out.push(
                Statement::allow(&["kms:Decrypt"]).sid("SecretsKey").resources([arn("aws_kms_key", key)]).condition(
                    "StringEquals",
                    "kms:ViaService",
                    [service.as_str()],
                ),
            ),
            Grant::Tracing => out.push(
                Statement::allow(&["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
                    .sid("Tracing")
                    .resources(["*"]),
            ),
        }
    }
    out
}

/// Whether one of `grants` allows `action` on `resource` (a rendered policy string such as
/// `${aws_s3_bucket.documents.arn}/resumes/*`) under the statement's `condition`.
pub fn allows(grants: &[Grant], local: &str, action: &str, resource: &str, condition: &serde_json::Value) -> bool {
    let reference = |ty: &str, name: &str| format!("${{{ty}.{name}.arn}}");
    grants.iter().any(|g| match g {
        Grant::OwnLogs => {
            matches!(action, "logs:CreateLogStream" | "logs:PutLogEvents")
                && resource.strip_suffix(":*").unwrap_or(resource) == reference("aws_cloudwatch_log_group", local)
        }
        Grant::Objects { bucket, prefix, read, write } => {
            ((action == "s3:GetObject" && *read) || (action == "s3:PutObject" && *write))
                && resource == format!("{}/{prefix}*", reference("aws_s3_bucket", bucket))
        }
        Grant::ReadSecret { secret } => {
            action == "secretsmanager:GetSecretValue" && resource == reference("aws_secretsmanager_secret", secret)
        }
        Grant::DecryptThrough { key, service } => {
            let via = &condition["StringEquals"]["kms:ViaService"];
            let via_ok = via.as_str() == Some(service.as_str())
                || via.as_array().is_some_and(|v| v.len() == 1 && v[0].as_str() == Some(service.as_str()));
            action == "kms:Decrypt" && resource == reference("aws_kms_key", key) && via_ok
        }
        Grant::Tracing => matches!(action, "xray:PutTraceSegments" | "xray:PutTelemetryRecords") && resource == "*",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use route_registry::modules::org;

    #[test]
    fn each_declared_use_is_one_grant_and_nothing_else_is() {
        let settings = crate::Env::Dev.settings();
        assert_eq!(of(&org::PROFILES, &settings), [Grant::OwnLogs, Grant::Tracing]);
        assert_eq!(
            of(&org::IDENTITIES_MANAGEMENT, &settings),
            [
                Grant::OwnLogs,
                Grant::ReadSecret { secret: names::OKTA_SECRET },
                Grant::DecryptThrough { key: names::KEY, service: "secretsmanager.us-east-1.amazonaws.com".into() },
                Grant::Tracing,
            ]
        );
    }

    #[test]
    fn a_grant_allows_exactly_its_action_and_resource() {
        let grants = [Grant::Objects { bucket: names::DOCUMENTS, prefix: "resumes/".into(), read: true, write: false }];
        let none = serde_json::Value::Null;
        let objects = "${aws_s3_bucket.documents.arn}/resumes/*";
        assert!(allows(&grants, "x", "s3:GetObject", objects, &none));
        assert!(!allows(&grants, "x", "s3:PutObject", objects, &none), "write was not declared");
        assert!(!allows(&grants, "x", "s3:GetObject", "${aws_s3_bucket.documents.arn}/*", &none), "a wider prefix");
        let key = [Grant::DecryptThrough { key: names::KEY, service: "secretsmanager.us-east-1.amazonaws.com".into() }];
        let via = serde_json::json!({"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"]}});
        assert!(allows(&key, "x", "kms:Decrypt", "${aws_kms_key.platform.arn}", &via));
        assert!(!allows(&key, "x", "kms:Decrypt", "${aws_kms_key.platform.arn}", &none), "only through the service");
    }
}
