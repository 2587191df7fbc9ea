//! The reviews of a synthesized stack, apart from the builders that make it: each reads the rendered Terraform JSON
//! (hand edits included) against the catalog, and asks the trigger kinds for their part. `iam_check` (the
//! least-privilege rules `cargo xtask check-iam` applies), `cost` (what an environment costs a month), `diagram` (the
//! picture of an environment), `renames` (the rename guard) and `rehearsal` (what the deploy rehearsal's applied state
//! must hold). Pure: JSON in, a verdict out.

pub mod cost;
pub mod diagram;
pub mod iam_check;
pub mod pipeline_check;
pub mod rehearsal;
pub mod renames;
