//! `cargo xtask db lint`: new migrations judged by squawk (PyPI `squawk-cli`, pinned), so that applying one cannot
//! break or stall the version that is running while it applies: every lock-taking statement after a lock and a
//! statement timeout, indexes built `CONCURRENTLY` (in a file of their own, outside a transaction), constraints
//! added `NOT VALID` and validated later, and nothing dropped or renamed except in a contract step, a file of its
//! own released after the code that stopped using it.
//!
//! The files up to [`BASELINE`] are applied and never change (history is append-only); squawk reports 165 findings
//! on the first eleven alone, so they are the baseline and only the files after it are judged. Each finding names
//! its rule, its line, the fix and squawk's page for the rule. A statement where a rule is wrong says so where it
//! stands: `-- squawk-ignore <rule>` above it, with the reason.
//!
//! Two first lines change how a file runs and is judged ([`db::migrate`](crate::db::migrate) reads the first):
//! [`OUTSIDE_TRANSACTION`] (statements one by one, for `CREATE INDEX CONCURRENTLY`; no dollar-quoted bodies) and
//! [`CONTRACT`] (drops and renames allowed, and nothing else may be in the file).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::util::{python_tool, shown};

/// squawk, pinned.
pub const SQUAWK: &str = "squawk-cli==2.70.0";

/// The last migration applied when the lint arrived: it and every file before it are the baseline.
pub const BASELINE: &str = "0017_tasks_end.sql";

/// A file whose first line is this runs outside a transaction, one statement at a time.
pub const OUTSIDE_TRANSACTION: &str = "-- migrate: outside a transaction";

/// A file whose first line starts with this is a contract step: it drops or renames what the running version no
/// longer uses (`-- migrate: contract (what, unused since which release)`).
pub const CONTRACT: &str = "-- migrate: contract";

/// The PostgreSQL the platform runs (Supabase's and the test command's).
const PG_VERSION: &str = "15";

/// Rules left out, each with why.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "prefer-bigint-over-int",
        "ids are uuid; the integer columns are counters and settings bounded by CHECK constraints far below 2^31",
    ),
    ("prefer-bigint-over-smallint", "as above"),
];

/// The rules a contract step may break, and only it.
const CONTRACT_RULES: &[&str] = &["ban-drop-column", "ban-drop-table", "renaming-column", "renaming-table"];

/// The fix for a rule, in the platform's terms (squawk's own help for the others).
fn fix(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "require-concurrent-index-creation" | "ban-concurrent-index-creation-in-transaction" => {
            "build it with CREATE INDEX CONCURRENTLY IF NOT EXISTS in a file of its own whose first line is \
             `-- migrate: outside a transaction` (PostgreSQL cannot build an index concurrently inside a transaction)"
        }
        "require-lock-timeout" => {
            "start the file with `SET lock_timeout = '5s';`: a statement waiting for its lock then gives up instead \
             of queueing every query of the running version behind it"
        }
        "require-statement-timeout" => "start the file with `SET statement_timeout = '60s';`",
        "constraint-missing-not-valid" | "adding-foreign-key-constraint" => {
            "add it `NOT VALID` (new rows are checked at once), then `ALTER TABLE … VALIDATE CONSTRAINT` in a later \
             statement, which does not block writes"
        }
        "ban-drop-column" | "ban-drop-table" | "renaming-column" | "renaming-table" => {
            "expand and contract: the running version still reads it. Release the code that stops using it first, then \
             drop or rename it in a later file of its own whose first line is `-- migrate: contract (what, unused since \
             which release)`"
        }
        _ => return None,
    })
}

/// One finding of squawk's JSON reporter.
#[derive(Debug, Clone, Deserialize)]
pub struct Finding {
    pub file: String,
    /// From 0.
    pub line: u32,
    pub message: String,
    pub help: Option<String>,
    pub rule_name: String,
}

pub fn squawk() -> Result<PathBuf> {
    python_tool("squawk", SQUAWK, "squawk")
}

/// The migration files of `dir` after the baseline.
pub fn new_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(crate::db::load(dir)?.into_iter().filter(|m| m.name.as_str() > BASELINE).map(|m| dir.join(&m.name)).collect())
}

/// squawk's findings on one file, judged as it will run.
pub fn lint_file(squawk: &Path, file: &Path) -> Result<Vec<Finding>> {
    let sql = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let first = sql.lines().next().unwrap_or_default().trim();
    let mut cmd = std::process::Command::new(squawk);
    cmd.args(["--reporter", "json", "--pg-version", PG_VERSION]);
    if first != OUTSIDE_TRANSACTION {
        cmd.arg("--assume-in-transaction");
    }
    let contract = first.starts_with(CONTRACT);
    let mut excluded: Vec<&str> = EXCLUDED.iter().map(|(rule, _)| *rule).collect();
    if contract {
        excluded.extend(CONTRACT_RULES);
    }
    cmd.arg(format!("--exclude={}", excluded.join(","))).arg(file);
    // squawk exits 1 when it found something; its JSON says what.
    let shown = shown(&cmd);
    let output = cmd.env("NO_COLOR", "1").output().with_context(|| format!("cannot start {shown}"))?;
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!("{shown} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let out = String::from_utf8_lossy(&output.stdout);
    let mut findings: Vec<Finding> = serde_json::from_str(out.trim())
        .with_context(|| format!("squawk answered something that is not its JSON report: {}", out.trim()))?;
    if contract {
        findings.extend(contract_holds_more(&sql, file));
    }
    Ok(findings)
}

/// A contract step holds drops and renames only (and the timeouts): anything else would ride on its exemption.
fn contract_holds_more(sql: &str, file: &Path) -> Vec<Finding> {
    let mut line = 0;
    let mut found = Vec::new();
    for statement in sql.split(';') {
        let code: String =
            statement.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join(" ");
        let words: Vec<String> = code.split_whitespace().take(6).map(str::to_ascii_uppercase).collect();
        // The line of the statement's first code, past blank lines and comments.
        let first_code = statement.lines().position(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
        let at = line + first_code.unwrap_or(0) as u32;
        let allowed = words.is_empty()
            || words.first().is_some_and(|w| w == "SET")
            || words.starts_with(&["DROP".into()])
            || (words.starts_with(&["ALTER".into(), "TABLE".into()])
                && words.iter().any(|w| w == "DROP" || w == "RENAME"));
        if !allowed {
            found.push(Finding {
                file: file.display().to_string(),
                line: at,
                message: format!(
                    "a contract step holds something other than drops and renames: {}",
                    code.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
                ),
                help: None,
                rule_name: "contract-holds-only-drops".into(),
            });
        }
        line += statement.matches('\n').count() as u32;
    }
    found
}

/// Judges every file after the baseline in `dir`; fails with each finding, its fix and its rule's page.
pub fn run(dir: &Path) -> Result<()> {
    let squawk = squawk()?;
    let files = new_files(dir)?;
    let mut findings = Vec::new();
    for file in &files {
        findings.extend(lint_file(&squawk, file)?);
    }
    let judged = format!(
        "{} new file(s) judged by {}; the files up to {BASELINE} are the baseline",
        files.len(),
        SQUAWK.replace("==", " ")
    );
    if findings.is_empty() {
        println!("    migration lint: no finding ({judged})");
        return Ok(());
    }
    for f in &findings {
        let shown = Path::new(&f.file).strip_prefix(crate::workspace_root()).unwrap_or(Path::new(&f.file));
        println!("  {}:{}: {}: {}", shown.display(), f.line + 1, f.rule_name, f.message);
        if let Some(fix) = fix(&f.rule_name).map(str::to_owned).or_else(|| f.help.clone()) {
            println!("      fix: {fix}");
        }
        if f.rule_name != "contract-holds-only-drops" {
            println!("      rule: https://squawkhq.com/docs/{}", f.rule_name);
        }
    }
    bail!(
        "the new migrations could lock or break the running version: {} finding(s) ({judged}). Fix each as its line \
         says; where a rule is wrong for one statement, put `-- squawk-ignore <rule>` above it with the reason",
        findings.len()
    )
}

/// What the test command proves the lint does: a file with an index built in place, a dropped column and a lock taken
/// without a timeout is refused by each of those rules, and the same changes made safely pass.
pub fn canary() -> Result<()> {
    let squawk = squawk()?;
    let dir = crate::target_dir().join(format!("migration-lint-canary-{}", std::process::id()));
    let _cleanup = crate::util::RemoveOnDrop(dir.clone());
    std::fs::create_dir_all(&dir)?;
    let unsafe_file = dir.join("9001_unsafe.sql");
    std::fs::write(
        &unsafe_file,
        "CREATE INDEX task_kind_idx ON public.task (kind);\n\
         ALTER TABLE public.task DROP COLUMN error;\n\
         ALTER TABLE public.task ADD CONSTRAINT task_total_positive CHECK (total > 0);\n",
    )?;
    let rules: std::collections::BTreeSet<String> =
        lint_file(&squawk, &unsafe_file)?.into_iter().map(|f| f.rule_name).collect();
    for rule in ["require-concurrent-index-creation", "ban-drop-column", "require-lock-timeout"] {
        if !rules.contains(rule) {
            bail!("the migration lint let through what {rule} must refuse (it reported {rules:?})");
        }
    }
    let safe = [
        (
            "9002_expand.sql",
            "SET lock_timeout = '5s';\nSET statement_timeout = '60s';\n\
             ALTER TABLE public.task ADD COLUMN note text;\n\
             ALTER TABLE public.task ADD CONSTRAINT task_total_positive CHECK (total > 0) NOT VALID;\n",
        ),
        (
            "9003_index.sql",
            "-- migrate: outside a transaction\nSET lock_timeout = '5s';\nSET statement_timeout = '60s';\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS task_kind_idx ON public.task (kind);\n",
        ),
        (
            "9004_contract.sql",
            "-- migrate: contract (task.note, unused since the release after 9002)\n\
             SET lock_timeout = '5s';\nSET statement_timeout = '60s';\n\
             ALTER TABLE public.task DROP COLUMN IF EXISTS note;\n",
        ),
    ];
    for (name, sql) in safe {
        std::fs::write(dir.join(name), sql)?;
        let found = lint_file(&squawk, &dir.join(name))?;
        if !found.is_empty() {
            bail!("the migration lint refused a safe change ({name}): {found:?}");
        }
    }
    println!(
        "    migration lint canary: an index built in place, a dropped column and a lock without a timeout refused; \
         the same changes made safely pass"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_step_holds_drops_renames_and_timeouts_only() {
        let file = Path::new("9004_contract.sql");
        let clean = "-- migrate: contract (task.note, unused since 1.4)\nSET lock_timeout = '5s';\n\
                     ALTER TABLE public.task DROP COLUMN IF EXISTS note;\n\
                     ALTER TABLE public.task RENAME COLUMN kind TO kind_old;\nDROP TABLE IF EXISTS old_thing;\n";
        assert!(contract_holds_more(clean, file).is_empty());
        let riding =
            format!("{clean}-- and, quietly:\nCREATE TABLE t (id int);\nALTER TABLE public.task ADD COLUMN x text;\n");
        let found = contract_holds_more(&riding, file);
        let lines: Vec<u32> = found.iter().map(|f| f.line + 1).collect();
        assert_eq!(lines, [7, 8], "{found:?}");
        assert!(found[0].message.ends_with("CREATE TABLE t (id int)"), "{found:?}");
    }

    #[test]
    fn each_rule_the_canary_holds_has_the_platforms_fix() {
        for rule in ["require-concurrent-index-creation", "ban-drop-column", "require-lock-timeout"] {
            assert!(fix(rule).is_some(), "{rule}");
        }
        assert!(EXCLUDED.iter().all(|(_, why)| !why.is_empty()));
    }
}
