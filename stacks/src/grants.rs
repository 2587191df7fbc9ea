//! What each catalog function may do, derived from its declared uses and its trigger in one place. The stacks turn a
//! function's grants into its role's policy ([`statements`]); `cargo xtask check-iam` derives the same grants from
//! the catalog and holds every statement of the synthesized policy to them ([`allows`]), so a stack, or a hand edit,
//! that grants more than the catalog declares is caught. The roles EventBridge Scheduler invokes scheduled functions
//! with are derived here too ([`of_scheduler`]).

use infra_dsl::policy::Statement;
use infra_dsl::Expr;
use route_registry::{Function, Use};

use crate::env::Settings;
use crate::names;

/// One thing a role may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Write to its own log group (`logs:CreateLogStream`, `logs:PutLogEvents`).
    OwnLogs,
    /// Read objects of a bucket under a prefix (`s3:GetObject`) and/or write them (`s3:PutObject`), and/or erase
    /// them: list the versions under the prefix (`s3:ListBucketVersions` with an `s3:prefix` condition) and delete any
    /// (`s3:DeleteObject`, `s3:DeleteObjectVersion`).
    Objects { bucket: &'static str, prefix: String, read: bool, write: bool, erase: bool },
    /// Read a secret of the platform (`secretsmanager:GetSecretValue`).
    ReadSecret { secret: &'static str },
    /// Use a key of the platform only through the named service (`kms:ViaService`): decrypt, and with `encrypt`
    /// also make data keys (what sending to an encrypted queue needs).
    KeyThrough { key: &'static str, service: String, encrypt: bool },
    /// Take messages of its own queue: receive, delete, hide longer, read its attributes.
    ConsumeQueue { queue: String },
    /// Send messages to a queue (`sqs:SendMessage`): a declared consumer's, or its own dead-letter queue.
    SendToQueue { queue: String },
    /// Sign with its module's service key (`kms:Sign`), and nothing else with it.
    Sign { key: String },
    /// Invoke one function through its alias (`lambda:InvokeFunction`): what a scheduler role may do.
    Invoke { function: String },
    /// Send traces (X-Ray has no resource-level permissions).
    Tracing,
    /// Move one function's alias between versions and read it (`lambda:GetAlias`, `lambda:UpdateAlias`,
    /// `lambda:GetProvisionedConcurrencyConfig`): what CodeDeploy's role for that function may do.
    ShiftAlias { function: String },
    /// Read the state of alarms (`cloudwatch:DescribeAlarms`): the function's own (their local names start with
    /// its local name) and the API's, which its deployment group watches.
    ReadAlarms { function: String },
}

/// The API's alarms, which every deployment group watches after the function's own.
pub const API_ALARMS: [&str; 2] = ["api_5xx_rate", "api_latency_p99"];

/// The actions CodeDeploy takes on the alias it shifts.
pub const SHIFT_ACTIONS: [&str; 3] =
    ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"];

/// Queues a function's role reaches because of what starts it (its trigger kind says which).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerQueues {
    /// Its own queue, which it takes messages from.
    pub consumes: Option<String>,
    /// Its own dead-letter queue, where Lambda puts its failed asynchronous runs with its role.
    pub dead_letters: Option<String>,
}

/// The actions a consumer needs on its queue (the event source mapping polls with the function's role).
pub const CONSUME_ACTIONS: [&str; 4] =
    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"];

fn sqs_service(settings: &Settings) -> String {
    format!("sqs.{}.amazonaws.com", settings.region)
}

/// A function's grants, in the order its policy lists them: from its declared uses and, `trigger`, the queues what
/// starts it reaches.
pub fn of(f: &Function, settings: &Settings, trigger: &TriggerQueues) -> Vec<Grant> {
    let mut out = vec![Grant::OwnLogs];
    let mut documents = (false, false);
    for u in f.uses {
        if let Use::Documents { prefix, access } = u {
            out.push(Grant::Objects {
                bucket: names::DOCUMENTS,
                prefix: documents_prefix(prefix),
                read: access.reads(),
                write: access.writes(),
                erase: access.erases(),
            });
            // Listing and deleting versions needs no key: an erase-only function gets none.
            documents = (documents.0 || access.reads() || access.writes(), documents.1 || access.writes());
        }
    }
    if documents.0 {
        // The documents bucket is encrypted with the platform's key; S3 uses it on the reader's and writer's behalf.
        out.push(Grant::KeyThrough {
            key: names::KEY,
            service: format!("s3.{}.amazonaws.com", settings.region),
            encrypt: documents.1,
        });
    }
    if f.uses.contains(&Use::Okta) {
        out.push(Grant::ReadSecret { secret: names::OKTA_SECRET });
        // The secrets are encrypted with the platform's key; Secrets Manager decrypts on the caller's behalf.
        out.push(Grant::KeyThrough {
            key: names::KEY,
            service: format!("secretsmanager.{}.amazonaws.com", settings.region),
            encrypt: false,
        });
    }
    let mut sends: Vec<String> = f.queues().map(names::queue_local).collect();
    // Runs that fail after Lambda's retries land in the function's dead-letter queue.
    sends.extend(trigger.dead_letters.clone());
    let consumes = trigger.consumes.is_some();
    if let Some(queue) = &trigger.consumes {
        out.push(Grant::ConsumeQueue { queue: queue.clone() });
    }
    out.extend(sends.iter().map(|q| Grant::SendToQueue { queue: q.clone() }));
    if consumes || !sends.is_empty() {
        // Queues are encrypted with the platform's key; SQS uses it on the sender's and receiver's behalf.
        out.push(Grant::KeyThrough { key: names::KEY, service: sqs_service(settings), encrypt: !sends.is_empty() });
    }
    if f.acts_as_service() {
        out.push(Grant::Sign { key: names::service_key_local(f.module) });
    }
    out.push(Grant::Tracing);
    out
}

/// The grants of the role EventBridge Scheduler starts a scheduled function with: invoke that function, and put a
/// run it could not deliver into the function's dead-letter queue.
pub fn of_scheduler(f: &Function, settings: &Settings) -> Vec<Grant> {
    vec![
        Grant::Invoke { function: names::local(f) },
        Grant::SendToQueue { queue: names::dlq_local(f) },
        Grant::KeyThrough { key: names::KEY, service: sqs_service(settings), encrypt: true },
    ]
}

/// What the role CodeDeploy releases a function with may do: shift that function's alias, and read the alarms its
/// deployment group watches.
pub fn of_deployment(f: &Function) -> Vec<Grant> {
    vec![Grant::ShiftAlias { function: names::local(f) }, Grant::ReadAlarms { function: names::local(f) }]
}

/// `resumes` or `resumes/` → `resumes/`: the documents prefix as granted and passed to the function.
pub fn documents_prefix(prefix: &str) -> String {
    route_registry::documents_prefix(prefix)
}

fn arn(ty: &str, name: &str) -> Expr {
    Expr::raw(format!("{ty}.{name}.arn"))
}

fn key_actions(encrypt: bool) -> &'static [&'static str] {
    if encrypt {
        &["kms:Decrypt", "kms:GenerateDataKey"]
    } else {
        &["kms:Decrypt"]
    }
}

/// The policy statements of a role's grants (`local` is the function's local name).
/// The statements of a [`Grant::Objects`]: the objects under the prefix, and with `erase` their versions' listing.
fn object_statements(bucket: &str, prefix: &str, read: bool, write: bool, erase: bool) -> Vec<Statement> {
    let mut actions = Vec::new();
    if read {
        actions.push("s3:GetObject");
    }
    if write {
        actions.push("s3:PutObject");
    }
    if erase {
        actions.extend(["s3:DeleteObject", "s3:DeleteObjectVersion"]);
    }
    let mut out = vec![Statement::allow(&actions)
        .sid("DeclaredDocuments")
        .resources([arn("aws_s3_bucket", bucket) + format!("/{prefix}*")])];
    if erase {
        out.push(
            Statement::allow(&["s3:ListBucketVersions"])
                .sid("DeclaredDocumentVersions")
                .resources([arn("aws_s3_bucket", bucket)])
                .condition("StringLike", "s3:prefix", [format!("{prefix}*")]),
        );
    }
    out
}

pub fn statements(grants: &[Grant], local: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let secrets: Vec<Expr> = grants
        .iter()
        .filter_map(|g| match g {
            Grant::ReadSecret { secret } => Some(arn("aws_secretsmanager_secret", secret)),
            _ => None,
        })
        .collect();
    let sends: Vec<Expr> = grants
        .iter()
        .filter_map(|g| match g {
            Grant::SendToQueue { queue } => Some(arn("aws_sqs_queue", queue)),
            _ => None,
        })
        .collect();
    let (mut secrets_listed, mut sends_listed) = (false, false);
    for g in grants {
        match g {
            Grant::OwnLogs => {
                out.push(
                    Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"])
                        .sid("OwnLogGroup")
                        .resources([arn("aws_cloudwatch_log_group", local) + ":*"]),
                )
            }
            Grant::Objects { bucket, prefix, read, write, erase } => {
                out.extend(object_statements(bucket, prefix, *read, *write, *erase))
            }
            // All secrets in one statement, where the first one is; likewise the queues it sends to.
            Grant::ReadSecret { .. } if !secrets_listed => {
                secrets_listed = true;
                out.push(
                    Statement::allow(&["secretsmanager:GetSecretValue"])
                        .sid("DeclaredSecrets")
                        .resources(secrets.clone()),
                );
            }
            Grant::ReadSecret { .. } => {}
            Grant::SendToQueue { .. } if !sends_listed => {
                sends_listed = true;
                out.push(Statement::allow(&["sqs:SendMessage"]).sid("SendToQueues").resources(sends.clone()));
            }
            Grant::SendToQueue { .. } => {}
            Grant::KeyThrough { key, service, encrypt } => {
                let sid = match service.split('.').next() {
                    Some("sqs") => "QueuesKey",
                    Some("s3") => "DocumentsKey",
                    _ => "SecretsKey",
                };
                out.push(
                    Statement::allow(key_actions(*encrypt)).sid(sid).resources([arn("aws_kms_key", key)]).condition(
                        "StringEquals",
                        "kms:ViaService",
                        [service.as_str()],
                    ),
                )
            }
            Grant::ConsumeQueue { queue } => {
                out.push(Statement::allow(&CONSUME_ACTIONS).sid("OwnQueue").resources([arn("aws_sqs_queue", queue)]))
            }
            Grant::Sign { key } => {
                out.push(Statement::allow(&["kms:Sign"]).sid("ServiceKey").resources([arn("aws_kms_key", key)]))
            }
            Grant::Invoke { function } => out.push(
                Statement::allow(&["lambda:InvokeFunction"])
                    .sid("InvokeTheFunction")
                    .resources([arn("aws_lambda_alias", function)]),
            ),
            Grant::ShiftAlias { function } => out.push(
                Statement::allow(&SHIFT_ACTIONS).sid("ShiftTheAlias").resources([arn("aws_lambda_alias", function)]),
            ),
            Grant::ReadAlarms { .. } => {}
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
        Grant::Objects { bucket, prefix, read, write, erase } => {
            let on_objects = ((action == "s3:GetObject" && *read)
                || (action == "s3:PutObject" && *write)
                || (matches!(action, "s3:DeleteObject" | "s3:DeleteObjectVersion") && *erase))
                && resource == format!("{}/{prefix}*", reference("aws_s3_bucket", bucket));
            let prefix_condition = &condition["StringLike"]["s3:prefix"];
            let only_the_prefix = prefix_condition.as_str() == Some(&format!("{prefix}*"))
                || prefix_condition
                    .as_array()
                    .is_some_and(|v| v.len() == 1 && v[0].as_str() == Some(&format!("{prefix}*")));
            let versions = action == "s3:ListBucketVersions"
                && *erase
                && resource == reference("aws_s3_bucket", bucket)
                && only_the_prefix;
            on_objects || versions
        }
        Grant::ReadSecret { secret } => {
            action == "secretsmanager:GetSecretValue" && resource == reference("aws_secretsmanager_secret", secret)
        }
        Grant::KeyThrough { key, service, encrypt } => {
            let via = &condition["StringEquals"]["kms:ViaService"];
            let via_ok = via.as_str() == Some(service.as_str())
                || via.as_array().is_some_and(|v| v.len() == 1 && v[0].as_str() == Some(service.as_str()));
            key_actions(*encrypt).contains(&action) && resource == reference("aws_kms_key", key) && via_ok
        }
        Grant::ConsumeQueue { queue } => {
            CONSUME_ACTIONS.contains(&action) && resource == reference("aws_sqs_queue", queue)
        }
        Grant::SendToQueue { queue } => action == "sqs:SendMessage" && resource == reference("aws_sqs_queue", queue),
        Grant::Sign { key } => action == "kms:Sign" && resource == reference("aws_kms_key", key),
        Grant::Invoke { function } => {
            action == "lambda:InvokeFunction" && resource == reference("aws_lambda_alias", function)
        }
        Grant::Tracing => matches!(action, "xray:PutTraceSegments" | "xray:PutTelemetryRecords") && resource == "*",
        Grant::ShiftAlias { function } => {
            SHIFT_ACTIONS.contains(&action) && resource == reference("aws_lambda_alias", function)
        }
        Grant::ReadAlarms { function } => {
            action == "cloudwatch:DescribeAlarms"
                && (resource.strip_prefix("${aws_cloudwatch_metric_alarm.").and_then(|r| r.strip_suffix(".arn}")))
                    .is_some_and(|alarm| {
                        alarm.strip_prefix(function.as_str()).is_some_and(|rest| rest.starts_with('_'))
                            || API_ALARMS.contains(&alarm)
                    })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use route_registry::modules::org;

    /// A function's grants with its trigger kind's queues, as the stacks derive them.
    fn of(f: &Function, settings: &Settings) -> Vec<Grant> {
        super::of(f, settings, &crate::triggers::of(&f.trigger).queues(f))
    }

    fn secrets_key() -> Grant {
        Grant::KeyThrough { key: names::KEY, service: "secretsmanager.us-east-1.amazonaws.com".into(), encrypt: false }
    }

    #[test]
    fn each_declared_use_and_trigger_is_its_grants_and_nothing_else_is() {
        let settings = crate::Env::Dev.settings();
        assert_eq!(of(&org::PROFILES, &settings), [Grant::OwnLogs, Grant::Tracing]);
        assert_eq!(
            of(&org::IDENTITIES_MANAGEMENT, &settings),
            [Grant::OwnLogs, Grant::ReadSecret { secret: names::OKTA_SECRET }, secrets_key(), Grant::Tracing]
        );
        let sqs = "sqs.us-east-1.amazonaws.com".to_owned();
        // A producer sends to its consumer's queue only.
        assert_eq!(
            of(&org::MEMBERS, &settings),
            [
                Grant::OwnLogs,
                Grant::SendToQueue { queue: "org_invitation_import".into() },
                Grant::KeyThrough { key: names::KEY, service: sqs.clone(), encrypt: true },
                Grant::Tracing,
            ]
        );
        // A consumer takes from its own queue, and signs as its module's service principal.
        assert_eq!(
            of(&org::INVITATION_IMPORT, &settings),
            [
                Grant::OwnLogs,
                Grant::ConsumeQueue { queue: "org_invitation_import".into() },
                Grant::KeyThrough { key: names::KEY, service: sqs.clone(), encrypt: false },
                Grant::Sign { key: "org_module_service".into() },
                Grant::Tracing,
            ]
        );
        // A scheduled function: its dead-letter queue for failed runs; its scheduler role invokes only it.
        assert_eq!(
            of(&org::OKTA_RECONCILE, &settings),
            [
                Grant::OwnLogs,
                Grant::ReadSecret { secret: names::OKTA_SECRET },
                secrets_key(),
                Grant::SendToQueue { queue: "org_okta_reconcile_dlq".into() },
                Grant::KeyThrough { key: names::KEY, service: sqs.clone(), encrypt: true },
                Grant::Sign { key: "org_module_service".into() },
                Grant::Tracing,
            ]
        );
        assert_eq!(
            of_scheduler(&org::OKTA_RECONCILE, &settings),
            [
                Grant::Invoke { function: "org_okta_reconcile".into() },
                Grant::SendToQueue { queue: "org_okta_reconcile_dlq".into() },
                Grant::KeyThrough { key: names::KEY, service: sqs, encrypt: true },
            ]
        );
    }

    #[test]
    fn a_grant_allows_exactly_its_action_and_resource() {
        let grants = [Grant::Objects {
            bucket: names::DOCUMENTS,
            prefix: "resumes/".into(),
            read: true,
            write: false,
            erase: false,
        }];
        let none = serde_json::Value::Null;
        let objects = "${aws_s3_bucket.documents.arn}/resumes/*";
        assert!(allows(&grants, "x", "s3:GetObject", objects, &none));
        assert!(!allows(&grants, "x", "s3:PutObject", objects, &none), "write was not declared");
        assert!(!allows(&grants, "x", "s3:GetObject", "${aws_s3_bucket.documents.arn}/*", &none), "a wider prefix");
        let key = [secrets_key()];
        let via = serde_json::json!({"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"]}});
        assert!(allows(&key, "x", "kms:Decrypt", "${aws_kms_key.platform.arn}", &via));
        assert!(!allows(&key, "x", "kms:Decrypt", "${aws_kms_key.platform.arn}", &none), "only through the service");
        assert!(!allows(&key, "x", "kms:GenerateDataKey", "${aws_kms_key.platform.arn}", &via), "decrypt only");
        let queue = [Grant::ConsumeQueue { queue: "q".into() }, Grant::SendToQueue { queue: "d".into() }];
        assert!(allows(&queue, "x", "sqs:DeleteMessage", "${aws_sqs_queue.q.arn}", &none));
        assert!(!allows(&queue, "x", "sqs:SendMessage", "${aws_sqs_queue.q.arn}", &none), "a consumer does not send");
        assert!(!allows(&queue, "x", "sqs:ReceiveMessage", "${aws_sqs_queue.d.arn}", &none));
        assert!(!allows(&queue, "x", "sqs:PurgeQueue", "${aws_sqs_queue.q.arn}", &none));
        let sign = [Grant::Sign { key: "m_service".into() }];
        assert!(allows(&sign, "x", "kms:Sign", "${aws_kms_key.m_service.arn}", &none));
        assert!(!allows(&sign, "x", "kms:Sign", "${aws_kms_key.other_service.arn}", &none));
        assert!(!allows(&sign, "x", "kms:GetPublicKey", "${aws_kms_key.m_service.arn}", &none));
    }
}
