//! The documents bucket (private, versioned, encrypted with the environment's key, TLS only, owner-enforced, old
//! versions and broken uploads expire, access-logged, pre-signed form uploads from the API's origins) and the bucket its server access logs go to; and the
//! hardening every bucket of the platform gets ([`harden`], which the bootstrap's state bucket uses too).

use infra_dsl::aws::s3_bucket_cors_configuration::CorsRule;
use infra_dsl::aws::s3_bucket_lifecycle_configuration::{
    AbortIncompleteMultipartUpload, Expiration, Filter, NoncurrentVersionExpiration, Rule as LifecycleRule,
};
use infra_dsl::aws::s3_bucket_ownership_controls::Rule as OwnershipRule;
use infra_dsl::aws::s3_bucket_server_side_encryption_configuration::{
    ApplyServerSideEncryptionByDefault, Rule as EncryptionRule,
};
use infra_dsl::aws::s3_bucket_versioning::VersioningConfiguration;
use infra_dsl::aws::{
    KmsKey, S3Bucket, S3BucketCorsConfiguration, S3BucketLifecycleConfiguration, S3BucketLogging,
    S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock, S3BucketServerSideEncryptionConfiguration,
    S3BucketVersioning,
};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Ref, Stack};

use crate::model::{keep, Account};
use crate::names;

/// How a bucket is encrypted at rest.
#[derive(Debug, Clone)]
pub enum Encryption {
    /// With this KMS key (bucket keys on).
    Kms(Expr),
    /// With the account's AWS-managed S3 KMS key.
    AwsKms,
    /// With S3-managed keys (the only kind server access logs can be delivered to).
    S3Managed,
}

/// What every bucket of the platform gets, under `local`: public access blocked, versioning, owner-enforced
/// objects, encryption at rest, a policy denying anything but TLS (plus `statements`; no policy at all when they are
/// `None`), and one lifecycle rule. Returns the policy (what must exist before some services may write).
pub fn harden(
    stack: &mut Stack,
    local: &str,
    bucket: &Ref<S3Bucket>,
    encryption: Encryption,
    statements: Option<Vec<Statement>>,
    lifecycle: LifecycleRule,
) -> Result<Option<Ref<S3BucketPolicy>>, DslError> {
    stack.add(
        S3BucketPublicAccessBlock::new(local, bucket.id())
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true),
    )?;
    stack.add(S3BucketVersioning::new(local, bucket.id(), VersioningConfiguration::new("Enabled")))?;
    stack.add(S3BucketOwnershipControls::new(local, bucket.id(), OwnershipRule::new("BucketOwnerEnforced")))?;
    let default = match encryption {
        Encryption::Kms(key) => ApplyServerSideEncryptionByDefault::new("aws:kms").kms_master_key_id(key),
        Encryption::AwsKms => ApplyServerSideEncryptionByDefault::new("aws:kms"),
        Encryption::S3Managed => ApplyServerSideEncryptionByDefault::new("AES256"),
    };
    stack.add(S3BucketServerSideEncryptionConfiguration::new(
        local,
        bucket.id(),
        EncryptionRule::new().apply_server_side_encryption_by_default(default).bucket_key_enabled(true),
    ))?;
    let policy = match statements {
        Some(statements) => {
            let mut all = vec![Statement::deny(&["s3:*"])
                .sid("TlsOnly")
                .principal(Principal::Aws(Expr::lit("*")))
                .resources([bucket.arn(), bucket.arn() + "/*"])
                .condition("Bool", "aws:SecureTransport", ["false"])];
            all.extend(statements);
            Some(stack.add(S3BucketPolicy::new(local, bucket.id(), PolicyDocument::new(all).to_expr()?))?)
        }
        None => None,
    };
    stack.add(S3BucketLifecycleConfiguration::new(local, bucket.id()).rule(vec![lifecycle]))?;
    Ok(policy)
}

/// A lifecycle rule for every object: old versions expire after `noncurrent_days`, unfinished uploads after 7 days,
/// and current objects after `expire_days` when given.
pub fn expiry(id: &str, expire_days: Option<u32>, noncurrent_days: u32) -> LifecycleRule {
    let rule = LifecycleRule::new(id, "Enabled")
        .filter(Filter::new())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::new(noncurrent_days))
        .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::new().days_after_initiation(7));
    match expire_days {
        Some(days) => rule.expiration(Expiration::new().days(days)),
        None => rule,
    }
}

/// A preview's buckets are emptied (every version) when it is removed: Terraform otherwise refuses to destroy a
/// bucket holding objects, and a preview's documents are test data. Elsewhere a bucket with data is never destroyed.
fn removable(settings: &crate::Settings, bucket: S3Bucket) -> S3Bucket {
    if settings.preview.is_some() {
        bucket.force_destroy(true)
    } else {
        bucket
    }
}

/// Adds both buckets and their settings; returns the documents bucket.
pub fn add(stack: &mut Stack, account: &Account, key: &Ref<KmsKey>, emulator: bool) -> Result<Ref<S3Bucket>, DslError> {
    let settings = &account.settings;
    let prefix = &settings.name_prefix;
    let documents = stack.add(
        removable(settings, S3Bucket::new(names::DOCUMENTS))
            .bucket(Expr::lit(format!("{prefix}-documents-")) + account.id())
            .tags(account.tags())
            .lifecycle_opt(keep(settings)),
    )?;
    let access_logs = stack.add(
        removable(settings, S3Bucket::new("access_logs"))
            .bucket(Expr::lit(format!("{prefix}-access-logs-")) + account.id())
            .tags(account.tags()),
    )?;
    // An erased document must not survive for long as an old version.
    let expire_old_versions = expiry("expire-old-versions", None, 30);
    harden(stack, names::DOCUMENTS, &documents, Encryption::Kms(key.arn()), Some(vec![]), expire_old_versions)?;
    // Server access logs can only be delivered to a bucket encrypted with S3-managed keys.
    let delivery = Statement::allow(&["s3:PutObject"])
        .sid("ServerAccessLogDelivery")
        .principal(Principal::service("logging.s3.amazonaws.com"))
        .resources([access_logs.arn() + "/*"])
        .condition("ArnLike", "aws:SourceArn", [documents.arn()])
        .condition("StringEquals", "aws:SourceAccount", [account.id()]);
    let expire_logs = expiry("expire-access-logs", Some(settings.log_retention_days), 7);
    let log_delivery =
        harden(stack, "access_logs", &access_logs, Encryption::S3Managed, Some(vec![delivery]), expire_logs)?;
    // Logging starts once the log bucket admits the logging service (S3 checks that grant when logging is set).
    if !emulator {
        let mut logging = S3BucketLogging::new(names::DOCUMENTS, documents.id(), access_logs.id(), "documents/");
        if let Some(policy) = &log_delivery {
            logging = logging.depends_on(policy);
        }
        stack.add(logging)?;
    }
    // Browsers upload straight to the bucket with a pre-signed form (POST), from the API's own origins only; reads
    // and deletes go through the API.
    stack.add(S3BucketCorsConfiguration::new(
        names::DOCUMENTS,
        documents.id(),
        CorsRule::new(vec![Expr::lit("POST")], settings.cors_origins.iter().map(|o| Expr::lit(*o)).collect::<Vec<_>>())
            .allowed_headers(vec![Expr::lit("*")])
            .expose_headers(vec![Expr::lit("ETag"), Expr::lit("x-amz-version-id")])
            .max_age_seconds(3600),
    ))?;
    Ok(documents)
}
