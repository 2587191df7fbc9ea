//! Lambda code signing: the signer profile packages are signed with, and the code-signing configuration every
//! function carries (enforced or only logged, per the settings table). Left out for the emulator.
//!
//! Where the environment enforces it (prd), the packages are signed in the apply itself: each package is uploaded
//! to the environment's artifacts bucket (versioned, as AWS Signer requires of a source), a signing job of the
//! profile signs that object version into `signed/<package>/`, and the package's functions deploy the signed object
//! (`s3_bucket`/`s3_key`) instead of the local zip. A changed package is a new object version, a new job, a new
//! signed key: the functions update and publish as for a local zip.

use infra_dsl::aws::lambda_code_signing_config::{AllowedPublishers, Policies};
use infra_dsl::aws::signer_signing_job::{Destination, Source, SourceS3, S3};
use infra_dsl::aws::{LambdaCodeSigningConfig, S3Bucket, S3Object, SignerSigningJob, SignerSigningProfile};
use infra_dsl::{Block, DslError, Expr, Stack};
use route_registry::Function;

use crate::buckets::{expiry, harden, Encryption};
use crate::model::{Account, Signer};

/// The artifacts bucket packages are uploaded to and signed in.
pub fn signer(stack: &mut Stack, account: &Account, profile: Expr) -> Result<Signer, DslError> {
    let prefix = &account.settings.name_prefix;
    let bucket = stack.add(
        S3Bucket::new("artifacts")
            .bucket(Expr::lit(format!("{prefix}-artifacts-")) + account.id())
            .tags(account.tags()),
    )?;
    // Packages are rebuilt from a commit at will: old versions go after 30 days.
    harden(stack, "artifacts", &bucket, Encryption::AwsKms, Some(vec![]), expiry("expire-old-packages", None, 30))?;
    Ok(Signer { bucket, versioned: Expr::raw("aws_s3_bucket_versioning.artifacts.bucket"), profile })
}

/// The signed object of `f`'s package, `(bucket, key)`: the package's upload and signing job are added by the first
/// of its functions (one package per module).
pub fn signed_package(
    stack: &mut Stack,
    signer: &Signer,
    f: &Function,
    zip_hcl: &str,
) -> Result<(Expr, Expr), DslError> {
    let local = format!("package_{}", f.package().replace('-', "_"));
    if !stack.has_resource(SignerSigningJob::TYPE, &local) {
        let object = stack.add(
            S3Object::new(&local, signer.versioned.clone(), format!("packages/{}/bootstrap.zip", f.package()))
                .source(Expr::raw(zip_hcl))
                // Like the functions' source_code_hash: a missing package is the functions' precondition's to report.
                .source_hash(Expr::raw(format!("fileexists({zip_hcl}) ? filemd5({zip_hcl}) : null")))
                .content_type("application/zip"),
        )?;
        stack.add(
            SignerSigningJob::new(
                &local,
                Destination::new(S3::new(signer.bucket.id()).prefix(format!("signed/{}/", f.package()))),
                signer.profile.clone(),
                Source::new(SourceS3::new(signer.bucket.id(), object.key(), object.version_id())),
            )
            .ignore_signing_job_failure(false),
        )?;
    }
    let signed = |attr: &str| Expr::raw(format!("{}.{local}.signed_object[0].s3[0].{attr}", SignerSigningJob::TYPE));
    Ok((signed("bucket"), signed("key")))
}

/// The configuration's ARN (for the functions) and the profile's name (for an output).
pub fn add(stack: &mut Stack, account: &Account) -> Result<(Expr, Expr), DslError> {
    let settings = &account.settings;
    let profile = stack.add(
        SignerSigningProfile::new("lambda", "AWSLambda-SHA384-ECDSA")
            .name(format!("{}_lambda", settings.name_prefix.replace('-', "_")))
            .tags(account.tags()),
    )?;
    let config = stack.add(
        LambdaCodeSigningConfig::new("lambda", AllowedPublishers::new([profile.version_arn()]))
            .description(format!("{}: packages signed by the stack's profile", settings.name_prefix))
            .policies(Policies::new(if settings.enforce_code_signing { "Enforce" } else { "Warn" })),
    )?;
    Ok((config.arn(), profile.name()))
}
