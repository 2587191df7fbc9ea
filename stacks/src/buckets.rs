//! The documents bucket (private, versioned, encrypted with the environment's key, TLS only, owner-enforced, old
//! versions and broken uploads expire, access-logged) and the bucket its server access logs go to.

use infra_dsl::aws::{
    AbortDays, Days, KmsKey, LifecycleRule, NoncurrentDays, OwnershipRule, S3Bucket, S3BucketLifecycleConfiguration,
    S3BucketLogging, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration, S3BucketVersioning, SseDefault, SseRule, VersioningConfiguration,
};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{DslError, Expr, Ref, Stack};

use crate::names;
use crate::platform::{keep, Account};

/// Adds both buckets and their settings; returns the documents bucket.
pub fn add(stack: &mut Stack, account: &Account, key: &Ref<KmsKey>, emulator: bool) -> Result<Ref<S3Bucket>, DslError> {
    let settings = &account.settings;
    let prefix = &settings.name_prefix;
    let documents = stack.add(
        S3Bucket::new(names::DOCUMENTS, Expr::lit(format!("{prefix}-documents-")) + account.id())
            .tags(account.tags())
            .lifecycle_opt(keep(settings)),
    )?;
    let access_logs = stack.add(
        S3Bucket::new("access_logs", Expr::lit(format!("{prefix}-access-logs-")) + account.id()).tags(account.tags()),
    )?;
    let mut log_delivery = None;
    for (local, bucket, kms) in [(names::DOCUMENTS, &documents, true), ("access_logs", &access_logs, false)] {
        stack.add(
            S3BucketPublicAccessBlock::new(local, bucket.id())
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true),
        )?;
        stack.add(S3BucketVersioning::new(local, bucket.id(), VersioningConfiguration { status: "Enabled".into() }))?;
        stack.add(S3BucketOwnershipControls::new(
            local,
            bucket.id(),
            OwnershipRule { object_ownership: "BucketOwnerEnforced".into() },
        ))?;
        // Server access logs can only be delivered to a bucket encrypted with S3-managed keys.
        let sse = if kms {
            SseDefault { sse_algorithm: "aws:kms".into(), kms_master_key_id: Some(key.arn()) }
        } else {
            SseDefault { sse_algorithm: "AES256".into(), kms_master_key_id: None }
        };
        stack.add(S3BucketServerSideEncryptionConfiguration::new(
            local,
            bucket.id(),
            SseRule { apply_server_side_encryption_by_default: sse, bucket_key_enabled: true },
        ))?;
        let mut statements = vec![Statement::deny(&["s3:*"])
            .sid("TlsOnly")
            .principal(Principal::Aws(Expr::lit("*")))
            .resources([bucket.arn(), bucket.arn() + "/*"])
            .condition("Bool", "aws:SecureTransport", ["false"])];
        if !kms {
            statements.push(
                Statement::allow(&["s3:PutObject"])
                    .sid("ServerAccessLogDelivery")
                    .principal(Principal::service("logging.s3.amazonaws.com"))
                    .resources([bucket.arn() + "/*"])
                    .condition("ArnLike", "aws:SourceArn", [documents.arn()])
                    .condition("StringEquals", "aws:SourceAccount", [account.id()]),
            );
        }
        let policy = stack.add(S3BucketPolicy::new(local, bucket.id(), PolicyDocument::new(statements).to_expr()?))?;
        if !kms {
            log_delivery = Some(policy);
        }
        let rule = if kms {
            LifecycleRule {
                id: "expire-old-versions".into(),
                status: "Enabled".into(),
                filter: serde_json::json!({}),
                expiration: None,
                // An erased document must not survive for long as an old version.
                noncurrent_version_expiration: Some(NoncurrentDays { noncurrent_days: 30 }),
                abort_incomplete_multipart_upload: Some(AbortDays { days_after_initiation: 7 }),
            }
        } else {
            LifecycleRule {
                id: "expire-access-logs".into(),
                status: "Enabled".into(),
                filter: serde_json::json!({}),
                expiration: Some(Days { days: settings.log_retention_days }),
                noncurrent_version_expiration: Some(NoncurrentDays { noncurrent_days: 7 }),
                abort_incomplete_multipart_upload: Some(AbortDays { days_after_initiation: 7 }),
            }
        };
        stack.add(S3BucketLifecycleConfiguration::new(local, bucket.id(), vec![rule]))?;
    }
    // Logging starts once the log bucket admits the logging service (S3 checks that grant when logging is set).
    if !emulator {
        let mut logging = S3BucketLogging::new(names::DOCUMENTS, documents.id(), access_logs.id(), "documents/");
        if let Some(policy) = &log_delivery {
            logging = logging.depends_on(policy);
        }
        stack.add(logging)?;
    }
    Ok(documents)
}
