//! The running version keeps working while the new migrations apply: everything the released schema offered the
//! functions (a table's or view's columns and their types, a function's arguments and result, what `authenticated`
//! and the service roles are granted) is still there after every new file that is not a contract step. The release
//! is the baseline of the migration lint ([`crate::migration_lint::BASELINE`], the last applied file); a contract
//! step (`-- migrate: contract`) is the later release that drops what no deployed version uses any more.
//!
//! Checked on a scratch database in the test command, with a canary: a new file that drops a column, changes a
//! function's arguments or revokes a grant is caught, and one that only adds passes.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Result};

use crate::db::{connect, load, migrate, Scratch};
use crate::migration_lint::{BASELINE, CONTRACT};

/// What the schema offers the functions, one line each.
const OFFERED: &str = "
SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
  FROM information_schema.columns WHERE table_schema IN ('public', 'app')
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
       || coalesce(pg_get_function_result(p.oid), '')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'app')
UNION ALL
SELECT 'grant ' || grantee || ' ' || privilege_type || ' on ' || table_schema || '.' || table_name
  FROM information_schema.role_table_grants
 WHERE table_schema IN ('public', 'app') AND grantee IN ('authenticated', 'service', 'service_role')
UNION ALL
SELECT 'grant ' || grantee || ' EXECUTE on ' || routine_schema || '.' || routine_name
  FROM information_schema.role_routine_grants
 WHERE routine_schema IN ('public', 'app') AND grantee IN ('authenticated', 'service', 'service_role')";

fn offered(url: &str) -> Result<BTreeSet<String>> {
    let mut c = connect(url)?;
    Ok(c.query(OFFERED, &[])?.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Applies the released files, then the new ones; what the released schema offered and the new one lacks.
pub fn lost(admin_url: &str, dir: &Path, scratch_name: &str) -> Result<Vec<String>> {
    let scratch = Scratch::create(admin_url, scratch_name)?;
    let url = scratch.url();
    let released = crate::target_dir().join(format!("{scratch_name}-released"));
    let _cleanup = crate::util::RemoveOnDrop(released.clone());
    std::fs::create_dir_all(&released)?;
    let all = load(dir)?;
    for m in all.iter().filter(|m| m.name.as_str() <= BASELINE) {
        std::fs::write(released.join(&m.name), &m.sql)?;
    }
    migrate(&url, &released)?;
    let before = offered(&url)?;
    // The new files, except contract steps (they come a release later, when nothing deployed uses what they drop).
    let new = crate::target_dir().join(format!("{scratch_name}-new"));
    let _cleanup_new = crate::util::RemoveOnDrop(new.clone());
    std::fs::create_dir_all(&new)?;
    for m in &all {
        if m.name.as_str() <= BASELINE || !m.sql.lines().any(|l| l.trim_start().starts_with(CONTRACT)) {
            std::fs::write(new.join(&m.name), &m.sql)?;
        }
    }
    migrate(&url, &new)?;
    let after = offered(&url)?;
    Ok(before.difference(&after).cloned().collect())
}

/// The check over `migrations/`, and its canary.
pub fn run(admin_url: &str) -> Result<()> {
    let dir = crate::db::default_dir();
    let pid = std::process::id();
    let lost = lost(admin_url, &dir, &format!("compat_{pid}"))?;
    if !lost.is_empty() {
        bail!(
            "the new migrations take away what the running version uses:\n  {}\nKeep it (expand: add beside it), and \
             drop it in a later file marked `{CONTRACT}` once no deployed version reads it",
            lost.join("\n  ")
        );
    }
    let new = load(&dir)?.into_iter().filter(|m| m.name.as_str() > BASELINE).count();
    println!("    the released schema (up to {BASELINE}) survives the {new} new migration file(s)");
    canary(admin_url, &dir)
}

/// A copy of the migrations with one new file: dropping a column, changing a function's arguments and revoking a
/// grant are each caught; adding a column is not; the same drop in a contract step is not.
fn canary(admin_url: &str, dir: &Path) -> Result<()> {
    let copy = crate::target_dir().join(format!("migration-compat-canary-{}", std::process::id()));
    let _cleanup = crate::util::RemoveOnDrop(copy.clone());
    let cases = [
        ("drops a column", "ALTER TABLE public.task DROP COLUMN error;", Some("column public.task.error")),
        (
            "changes a function's arguments",
            "DROP FUNCTION public.cancel_task(uuid); CREATE FUNCTION public.cancel_task(p_id uuid, p_reason text) \
             RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;",
            Some("function public.cancel_task(p_id uuid)"),
        ),
        (
            "revokes a grant",
            "REVOKE SELECT ON public.task FROM authenticated;",
            Some("grant authenticated SELECT on public.task"),
        ),
        ("adds a column", "ALTER TABLE public.task ADD COLUMN note text;", None),
        (
            "drops a column in a contract step",
            "-- migrate: contract (task.error)\nALTER TABLE public.task DROP COLUMN error;",
            None,
        ),
    ];
    for (i, (what, sql, caught)) in cases.iter().enumerate() {
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy)?;
        for m in load(dir)? {
            std::fs::write(copy.join(&m.name), &m.sql)?;
        }
        std::fs::write(copy.join("9999_canary.sql"), sql)?;
        let lost = lost(admin_url, &copy, &format!("compat_canary_{i}_{}", std::process::id()))?;
        match caught {
            Some(expected) if !lost.iter().any(|l| l.starts_with(expected)) => {
                bail!("the compatibility check missed a new file that {what}: it reported {lost:?}")
            }
            None if !lost.is_empty() => bail!("the compatibility check refused a new file that {what}: {lost:?}"),
            _ => {}
        }
    }
    println!("    compatibility canary: a dropped column, changed arguments and a revoked grant caught; an added column and a contract step pass");
    Ok(())
}
