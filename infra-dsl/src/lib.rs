//! A typed model of Terraform JSON for the AWS resources this platform deploys.
//!
//! Build a [`Stack`], add typed resources (required arguments in `new`, optional ones as setters), connect them
//! with typed references (`lambda.arn()` renders `"${aws_lambda_function.x.arn}"`), and [`Stack::render`] it to
//! a `*.tf.json` document. Rendering rejects duplicate addresses and references to blocks that are not in the
//! stack, escapes literal `${`, and is byte-identical for the same input.
//!
//! Architecture invariant: this crate knows nothing of AWS SDKs, Lambda handlers or the platform's stacks, and
//! it does no IO.

pub mod aws;
mod error;
mod expr;
pub mod policy;
mod refs;
mod stack;

pub use error::DslError;
pub use expr::{Expr, ExprList};
pub use stack::{Backend, Block, DataSource, Output, Ref, RequiredProvider, Resource, Stack, Variable};

#[cfg(test)]
mod tests;
