//! A typed model of Terraform JSON, with every resource and data source of `hashicorp/aws` a line away.
//!
//! Build a [`Stack`], add typed resources (required arguments and blocks in `new`, optional ones as setters; strings,
//! numbers, bools, lists and maps typed, each a literal or an expression of its type), connect them with typed
//! references (`lambda.arn()` renders `"${aws_lambda_function.x.arn}"`), and [`Stack::render`] it to a `*.tf.json`
//! document. Adding a block checks it against its type's provider schema; rendering rejects duplicate addresses,
//! references to blocks that are not in the stack and to attributes their type does not have, escapes literal `${`,
//! and is byte-identical for the same input.
//!
//! The AWS types (`aws`) are generated from the provider's schema by `cargo xtask codegen`, for the types
//! `stacks/aws-types.txt` lists; `schema` is that schema as data and its check.
//!
//! Architecture invariant: this crate knows nothing of AWS SDKs, Lambda handlers or the platform's stacks, and
//! it does no IO.

pub mod aws;
mod error;
mod expr;
mod meta;
pub mod policy;
mod refs;
pub mod schema;
mod stack;
pub mod value;

pub use error::DslError;
pub use expr::{Expr, ExprList};
pub use meta::{Condition, Lifecycle, Meta};
pub use stack::{Backend, Block, DataSource, Output, Ref, RequiredProvider, Resource, Stack, Variable};
pub use value::{Any, Blocks, Bool, List, Map, Num};

#[cfg(test)]
mod tests;
