//! The CORA modules deployed on the platform, and how each function is sized and what it uses.
//!
//! Adding a module means adding it to the route registry and one entry to [`all`]; the platform wires the rest.

use route_registry::org;

use crate::env::Settings;
use crate::module::{FunctionSpec, ModuleSpec, SecretUse, Uses};

/// Memory of org-module's functions; see the comment where it is used.
pub const ORG_FUNCTION_MEMORY_MB: u32 = 128;

/// Every module, in the order the platform adds them.
pub fn all(settings: &Settings) -> Vec<ModuleSpec> {
    vec![
        org_module(settings),
        // new-module: module specs above this line
    ]
}

/// org-module: identities, profiles, organizations and members.
pub fn org_module(settings: &Settings) -> ModuleSpec {
    let function = |function, secrets: &[SecretUse]| FunctionSpec {
        function,
        // 128 MB, not the seed's 256 MB: measured peak RSS is under 11 MiB and a cold start about 10 ms of mostly
        // I/O (BENCHMARKS.md, "Cold start"), so the larger size would only double the GB-second price.
        memory_mb: ORG_FUNCTION_MEMORY_MB,
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
