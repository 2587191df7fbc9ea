//! The environments' settings table (`env`: dev, tst, stg and prd, each a row) and the platform's naming rules
//! (`names`: every join name, computed once): what the stacks, the local API and the tools share. It carries no
//! Terraform provider, so a crate that needs an environment's settings or a function's deployed name does not compile
//! the generated provider for them.
//!
//! Architecture invariant: depends on the catalog only, and does no IO.

pub mod env;
pub mod names;
pub mod preview;

pub use env::{Env, Settings, UnknownEnv};
pub use preview::{Preview, PreviewName};
