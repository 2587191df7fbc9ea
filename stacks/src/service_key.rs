//! A module's service identity: the key its functions without a caller sign their client assertions with
//! (`private_key_jwt` at the identity provider's token endpoint), so they get access tokens of their own and never
//! hold a secret. An asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): the private key never leaves KMS, and the
//! module's service functions may only `kms:Sign` with it ([`crate::grants`]). Its public key is an output, to
//! register with the module's service application at the identity provider.

use infra_dsl::aws::data::KmsPublicKey;
use infra_dsl::aws::{KmsAlias, KmsKey};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Ref, Stack};
use route_registry::Module;

use crate::model::{keep, Platform};
use crate::names;

/// The key's spec, and the JWS algorithm its signatures are (ECDSA over P-256 with SHA-256).
pub const KEY_SPEC: &str = "ECC_NIST_P256";
pub const SIGNING_ALGORITHM: &str = "ECDSA_SHA_256";

/// Adds the module's service key, its alias and the output of its public key.
pub fn add(stack: &mut Stack, platform: &Platform, module: &Module) -> Result<Ref<KmsKey>, DslError> {
    let settings = &platform.settings;
    let local = names::service_key_local(module.name);
    // Who uses the key is decided by IAM (the first and only statement delegates to it, as AWS's default policy
    // does): the module's service functions' roles, for kms:Sign alone.
    let policy = PolicyDocument::new(vec![Statement::allow(&["kms:*"])
        .sid("AccountAdministersThroughIam")
        .principal(Principal::Aws(platform.account.root()))
        .resources(["*"])]);
    let key = stack.add(
        KmsKey::new(&local)
            .description(format!(
                "{}: {} service identity (signs client assertions)",
                settings.name_prefix, module.name
            ))
            .customer_master_key_spec(KEY_SPEC)
            .key_usage("SIGN_VERIFY")
            .deletion_window_in_days(if settings.env == crate::Env::Prd { 30u32 } else { 7 })
            .policy(policy.to_expr()?)
            .tags(crate::model::tags(&[("Module", module.name)]))
            .lifecycle_opt(keep(settings)),
    )?;
    stack.add(
        KmsAlias::new(&local, key.key_id()).name(format!("alias/{}-{}-service", settings.name_prefix, module.name)),
    )?;
    if !platform.emulator {
        let public = stack.data(KmsPublicKey::new(&local, key.arn()))?;
        stack.output(
            &format!("{local}_public_key"),
            &format!(
                "The public key of {}'s service identity (PEM): register it with the module's service application in Okta (client credentials, private_key_jwt), then set its client id in stacks/settings/src/env.rs (okta_service_clients).",
                module.name
            ),
            public.public_key_pem(),
        )?;
    }
    Ok(key)
}
