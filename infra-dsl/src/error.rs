//! The errors synth can report. Every variant names the resource addresses involved, so a message alone tells
//! the stack author what to fix; none of them is a panic.

use thiserror::Error;

/// Everything that can go wrong while building or rendering a stack.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DslError {
    /// Two blocks were given the same address, e.g. two `aws_iam_role.org_profiles`.
    #[error("duplicate address `{address}`: a block with this address is already in the stack; give one of them another name")]
    Duplicate { address: String },

    /// An expression refers to an address that no block in the stack declares.
    #[error("`{from}` references `{to}`, which is not in the stack; add `{to}` to the stack or remove the reference")]
    Dangling { from: String, to: String },

    /// A name does not satisfy Terraform's identifier rules.
    #[error("invalid name `{name}` for {what}: use letters, digits, `_` and `-`, starting with a letter or `_`")]
    InvalidName { what: &'static str, name: String },

    /// An interpolation that cannot be embedded in a JSON document string (it contains a quote).
    #[error("`{expr}` cannot be embedded in a JSON document: interpolations inside policies must be plain references")]
    NotEmbeddable { expr: String },

    /// A block breaks its type's provider schema (what `terraform validate` would refuse later).
    #[error("`{address}` (added at {location}) breaks the provider schema: {}. Fix the block where it is added", problems.join("; "))]
    Schema { address: String, location: String, problems: Vec<String> },

    /// A reference reads an attribute the target's type does not have.
    #[error("`{from}` (added at {location}) refers to `{reference}` in `{property}`, an attribute its type does not have in the provider schema; fix the reference")]
    UnknownAttribute { from: String, property: String, reference: String, location: String },

    /// Serialization of a block failed (a map with non-string keys, for instance).
    #[error("cannot render `{address}`: {message}")]
    Render { address: String, message: String },
}
