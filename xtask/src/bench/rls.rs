//! `cargo xtask bench rls`: `GET /organizations` for a user in one organization with 100, then 100,000
//! organizations of others: Row-Level Security at scale.

use anyhow::{bail, Result};
use stacks::Env;

use crate::util::step;

use super::load::{ensure_wrk, wrk};

pub fn run() -> Result<()> {
    ensure_wrk()?;
    let local = crate::dev::Local::start(crate::dev::Options {
        port: crate::services::free_port()?,
        release: true,
        quiet: true,
        ..Default::default()
    })?;
    let mut db = postgres::Client::connect(&local.database_url, postgres::NoTls)?;
    // Organizations of someone else (carol), each with its owner membership, in bulk.
    let add = |db: &mut postgres::Client, n: i64| -> Result<()> {
        db.execute(
            "WITH owner AS (SELECT id FROM identities WHERE idp_subject = 'carol@example.com' AND deactivated_at IS NULL),
                  made AS (INSERT INTO org (name, created_by)
                           SELECT 'Other ' || g, owner.id FROM generate_series(1, $1::bigint) g, owner RETURNING id, created_by)
             INSERT INTO org_member (org_id, user_id, role, created_by) SELECT id, created_by, 'owner', created_by FROM made",
            &[&n],
        )?;
        db.batch_execute("ANALYZE org; ANALYZE org_member;")?;
        Ok(())
    };
    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 3600)?;
    let url = format!("{}/organizations", local.url);
    let mut rows = Vec::new();
    for total in [100i64, 100_000] {
        let have: i64 = db.query_one("SELECT count(*) FROM org", &[])?.get(0);
        step(&format!("organizations of others up to {total}"), || add(&mut db, total - have + 2))?;
        let r = step(
            &format!("wrk 10 s, 1 connection: GET /organizations as alice ({total} organizations of others)"),
            || wrk(&url, &token, 1, 10),
        )?;
        rows.push((total, r));
    }
    let plan: Vec<String> = {
        let mut tx = db.transaction()?;
        tx.batch_execute(
            "SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', '{\"sub\":\"alice@example.com\",\"role\":\"authenticated\"}', true);",
        )?;
        let rows = tx.query("EXPLAIN SELECT id, name FROM org ORDER BY created_at, id", &[])?;
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    drop(local);
    println!("GET /organizations as alice (a member of 1), through the local API (release), 10 s each, loopback:");
    for (total, r) in &rows {
        println!(
            "  {total:>7} organizations of others: p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s, {} errors",
            r.p50_ms, r.p99_ms, r.requests_per_s, r.errors
        );
    }
    let ratio = rows[1].1.p50_ms / rows[0].1.p50_ms;
    println!("  median ratio 100,000 / 100: ×{ratio:.2} (target ≤ 2)\n  plan as alice:");
    for line in &plan {
        println!("    {line}");
    }
    if ratio > 2.0 {
        bail!("the organization list slowed ×{ratio:.2} with 100,000 organizations of others: Row-Level Security scans the table");
    }
    Ok(())
}
