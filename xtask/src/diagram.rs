//! `cargo xtask diagram [env]`: writes `build/<env>/diagram.md`, the Mermaid picture of what synth emits for the
//! environment (drawn by `stacks::diagram` from the synthesized document). A golden test keeps the committed pages
//! true; README and ARCHITECTURE.md link to dev's.

use anyhow::Result;
use stacks::Env;

use crate::workspace_root;
use xtask_synth::{parse_env, write_if_changed};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to draw (default: all four).
    #[arg(value_parser = parse_env)]
    env: Option<Env>,
}

pub fn run(args: &Args) -> Result<()> {
    let envs: Vec<Env> = args.env.map(|e| vec![e]).unwrap_or_else(|| Env::ALL.to_vec());
    for env in envs {
        let options = stacks::Options { example: true, ..Default::default() };
        let text = stacks::synth_with(env, &stacks::Target::Aws, &options)?.text;
        let page = stacks::diagram::markdown(env.as_str(), &serde_json::from_str(&text)?);
        let path = workspace_root().join("build").join(env.as_str()).join("diagram.md");
        write_if_changed(&path, &page)?;
        println!("wrote build/{env}/diagram.md");
    }
    Ok(())
}
