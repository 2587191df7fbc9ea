//! The CORA modules deployed on the platform, and how each function is sized and what it uses.
//!
//! Adding a module means adding it to the route registry and one entry to [`all`]; the platform wires the rest.

use route_registry::org;

use crate::env::Settings;
use crate::module::{FunctionSpec, ModuleSpec, SecretUse, Uses};

/// Every module, in the order the platform adds them.
pub fn all(settings: &Settings) -> Vec<ModuleSpec> {
    vec![org_module(settings)]
}

/// org-module: identities, profiles, organizations and members.
pub fn org_module(settings: &Settings) -> ModuleSpec {
    let function = |function, secrets: &[SecretUse]| FunctionSpec {
        function,
        memory_mb: 256,
        timeout_s: 30,
        uses: Uses { secrets: secrets.to_vec() },
        env: vec![("SUPABASE_URL", settings.supabase_url.clone()), ("OKTA_DOMAIN", settings.okta_domain.to_owned())],
    };
    ModuleSpec {
        module: org::MODULE,
        functions: vec![
            // Only identities-management talks to Okta (user provisioning), so only it reads the Okta token.
            function(org::IDENTITIES_MANAGEMENT, &[SecretUse::Supabase, SecretUse::OktaApiToken]),
            function(org::PROFILES, &[SecretUse::Supabase]),
            function(org::ORGS, &[SecretUse::Supabase]),
            function(org::MEMBERS, &[SecretUse::Supabase]),
        ],
    }
}
