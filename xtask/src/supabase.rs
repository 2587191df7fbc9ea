//! The Supabase Management API calls previews make: a project's database branches (list, create, read the
//! configuration, delete) and a branch's publishable key. Held to Supabase's published OpenAPI document
//! (`xtask/contracts/supabase-management-api.json`) by the preview rehearsal, which validates every exchange with the
//! stand-in (`standins::supabase`).
//!
//! On AWS: `https://api.supabase.com` with the access token in `SUPABASE_ACCESS_TOKEN` (a personal or the
//! organization's token; never written anywhere), and the parent project named by dev's `supabase_url`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// A project's branches, through the Management API.
pub struct Branches {
    base: String,
    token: String,
    pub project: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// How often a branch coming up is asked how it goes.
    pub poll: Duration,
}

impl std::fmt::Debug for Branches {
    // The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branches").field("base", &self.base).field("project", &self.project).finish()
    }
}

/// A branch's database, as its configuration gives it.
#[derive(Debug, Clone)]
pub struct Database {
    /// A superuser URL (Supabase's `postgres` role), for migrations and the demo data.
    pub url: String,
    /// `https://<ref>.supabase.co`: the branch's own API (PostgREST), which the preview's functions call.
    pub api_url: String,
    pub publishable_key: String,
}

/// The reference of the project at a Supabase URL (`https://<ref>.supabase.co`), when it is one.
pub fn project_of(supabase_url: &str) -> Option<String> {
    let host = supabase_url.split_once("://")?.1.split(['/', ':']).next()?;
    let (reference, rest) = host.split_once('.')?;
    (rest == "supabase.co" && reference.len() == 20 && reference.bytes().all(|b| b.is_ascii_lowercase()))
        .then(|| reference.to_owned())
}

impl Branches {
    /// Supabase's API, for the project of dev's `supabase_url`, with `SUPABASE_ACCESS_TOKEN`.
    pub fn from_environment(supabase_url: &str) -> Result<Branches> {
        let Some(project) = project_of(supabase_url) else {
            bail!(
                "dev's supabase_url ({supabase_url}) is not a Supabase project's URL (https://<20-letter ref>.supabase.co): \
                 previews branch dev's project, so set it in stacks/settings/src/env.rs first"
            )
        };
        let token = std::env::var("SUPABASE_ACCESS_TOKEN").ok().filter(|t| !t.is_empty()).context(
            "no SUPABASE_ACCESS_TOKEN: a preview's database is a branch of dev's Supabase project, made through \
             Supabase's Management API; set SUPABASE_ACCESS_TOKEN to an access token of the project's organization",
        )?;
        Branches::new("https://api.supabase.com", &token, &project, Duration::from_secs(5))
    }

    pub fn new(base: &str, token: &str, project: &str, poll: Duration) -> Result<Branches> {
        Ok(Branches {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            project: project.to_owned(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?,
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build()?,
            poll,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.parse()?, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(b);
        }
        self.runtime.block_on(async {
            let response = request.send().await.with_context(|| format!("cannot reach Supabase's API at {url}"))?;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
        })
    }

    fn ok(&self, what: &str, (status, body): (u16, Value), expected: u16) -> Result<Value> {
        match status {
            s if s == expected => Ok(body),
            401 | 403 => bail!(
                "Supabase refused to {what} ({status}): SUPABASE_ACCESS_TOKEN must be a token of the organization \
                 that owns project {}, allowed to manage its branches",
                self.project
            ),
            429 => {
                bail!("Supabase limits its API's rate ({status}) while trying to {what}: wait a minute and run again")
            }
            _ => bail!("Supabase could not {what} ({status}): {body}; run the command again, it resumes"),
        }
    }

    /// The project's branches (each as Supabase's `BranchResponse`).
    pub fn list(&self) -> Result<Vec<Value>> {
        let body = self.call("GET", &format!("/v1/projects/{}/branches", self.project), None)?;
        let list = self.ok("list the branches", body, 200)?;
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    /// The branch named `name`, when there is one.
    pub fn find(&self, name: &str) -> Result<Option<Value>> {
        Ok(self.list()?.into_iter().find(|b| b["name"] == name))
    }

    /// Creates a branch named `name` (a preview branch: not persistent, without the parent's data).
    pub fn create(&self, name: &str) -> Result<Value> {
        let body = json!({"branch_name": name, "persistent": false, "with_data": false});
        let answer = self.call("POST", &format!("/v1/projects/{}/branches", self.project), Some(&body))?;
        self.ok(&format!("create the database branch {name}"), answer, 201)
    }

    /// Waits (bounded) until the branch's database is up; its URLs and publishable key.
    pub fn database(&self, reference: &str, bound: Duration) -> Result<Database> {
        let deadline = Instant::now() + bound;
        let config = loop {
            let config = self.ok(
                "read the branch's configuration",
                self.call("GET", &format!("/v1/branches/{reference}"), None)?,
                200,
            )?;
            match config["status"].as_str() {
                Some("ACTIVE_HEALTHY") => break config,
                Some("INIT_FAILED" | "REMOVED" | "RESTORE_FAILED") => bail!(
                    "the database branch {reference} failed to come up ({}): `cargo xtask preview down <name>` removes it",
                    config["status"]
                ),
                _ if Instant::now() > deadline => bail!(
                    "the database branch {reference} is still {} after {}s: run the command again later (it resumes), \
                     or bring the preview down",
                    config["status"],
                    bound.as_secs()
                ),
                _ => std::thread::sleep(self.poll),
            }
        };
        let (host, port) = (config["db_host"].as_str().unwrap_or_default(), config["db_port"].as_u64().unwrap_or(5432));
        let (user, password) =
            (config["db_user"].as_str().unwrap_or("postgres"), config["db_pass"].as_str().unwrap_or(""));
        let keys = self.ok(
            "read the branch's API keys",
            self.call("GET", &format!("/v1/projects/{reference}/api-keys?reveal=true"), None)?,
            200,
        )?;
        let publishable_key = keys
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["type"] == "publishable")
            .and_then(|k| k["api_key"].as_str())
            .context("the branch has no publishable API key")?
            .to_owned();
        Ok(Database {
            url: format!("postgres://{user}:{}@{host}:{port}/postgres", crate::aws::encode(password)),
            api_url: format!("https://{reference}.supabase.co"),
            publishable_key,
        })
    }

    /// Deletes a branch at once (`force=true`, the API's default, said explicitly: the published document gives that
    /// default as the string "true", which a validator of the document would substitute and then refuse).
    pub fn delete(&self, reference: &str) -> Result<()> {
        let answer = self.call("DELETE", &format!("/v1/branches/{reference}?force=true"), None)?;
        self.ok(&format!("delete the database branch {reference}"), answer, 200).map(drop)
    }
}

/// Where the client's tests leave their exchanges with the stand-in, for the preview rehearsal's contract check.
pub fn contract_dir() -> std::path::PathBuf {
    crate::target_dir().join("supabase-contract")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use standins::supabase::{Databases, DbAccess, SupabaseStandin};

    use super::*;

    /// Databases that exist only as names (the rehearsal's are PostgreSQL clusters).
    #[derive(Default)]
    struct Names(Mutex<Vec<String>>);

    impl Databases for Names {
        fn create(&self, reference: &str) -> Result<DbAccess, String> {
            self.0.lock().map_err(|e| e.to_string())?.push(reference.to_owned());
            Ok(DbAccess { host: "127.0.0.1".into(), port: 5999, user: "postgres".into(), password: "p@ss word".into() })
        }
        fn remove(&self, reference: &str) -> Result<(), String> {
            self.0.lock().map_err(|e| e.to_string())?.retain(|r| r != reference);
            Ok(())
        }
    }

    /// Leaves a test's exchanges for the rehearsal's contract check (as the deploy tests do CodeDeploy's).
    fn keep(standin: &SupabaseStandin, test: &str) {
        let dir = contract_dir();
        let _ = std::fs::create_dir_all(&dir);
        let lines: Vec<String> = standin.exchanges().iter().filter_map(|x| serde_json::to_string(x).ok()).collect();
        let _ = std::fs::write(dir.join(format!("{test}.jsonl")), lines.join("\n"));
    }

    #[test]
    fn a_branch_is_made_waited_for_read_and_deleted() {
        let names = Arc::new(Names::default());
        let standin = SupabaseStandin::start("token", names.clone()).unwrap();
        let branches = Branches::new(&standin.url, "token", &standin.project_ref, Duration::from_millis(10)).unwrap();
        assert!(branches.find("preview-pr-7").unwrap().is_none());
        let made = branches.create("preview-pr-7").unwrap();
        let reference = made["project_ref"].as_str().unwrap().to_owned();
        assert_eq!(branches.find("preview-pr-7").unwrap().unwrap()["project_ref"], reference.as_str());
        let db = branches.database(&reference, Duration::from_secs(5)).unwrap();
        assert_eq!(db.url, "postgres://postgres:p%40ss%20word@127.0.0.1:5999/postgres");
        assert_eq!(db.api_url, format!("https://{reference}.supabase.co"));
        assert!(db.publishable_key.starts_with("sb_publishable_"));
        // The branch was COMING_UP at the first read: the client waited for ACTIVE_HEALTHY.
        let reads = standin.exchanges().iter().filter(|x| x.path == format!("/v1/branches/{reference}")).count();
        assert_eq!(reads, 2);
        branches.delete(&reference).unwrap();
        assert!(names.0.lock().unwrap().is_empty() && standin.branch_names().is_empty());
        keep(&standin, "a_branch_is_made_waited_for_read_and_deleted");
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let standin = SupabaseStandin::start("token", Arc::new(Names::default())).unwrap();
        let wrong = Branches::new(&standin.url, "not-the-token", &standin.project_ref, Duration::ZERO).unwrap();
        let e = wrong.list().unwrap_err().to_string();
        assert!(e.contains("SUPABASE_ACCESS_TOKEN must be a token of the organization"), "{e}");
        let branches = Branches::new(&standin.url, "token", &standin.project_ref, Duration::ZERO).unwrap();
        standin.fail_next_create();
        let e = branches.create("preview-pr-8").unwrap_err().to_string();
        assert!(
            e.contains("could not create the database branch preview-pr-8 (500)")
                && e.contains("run the command again"),
            "{e}"
        );
        assert!(Branches::from_environment("https://career-dev.supabase.invalid")
            .unwrap_err()
            .to_string()
            .contains("set it in"));
        keep(&standin, "refusals_say_what_to_fix");
    }

    #[test]
    fn a_project_is_named_by_its_url() {
        assert_eq!(project_of("https://abcdefghijklmnopqrst.supabase.co").as_deref(), Some("abcdefghijklmnopqrst"));
        assert_eq!(project_of("https://career-dev.supabase.invalid"), None);
        assert_eq!(project_of("https://abcdefghijklmnopqrst.supabase.co.evil.io"), None);
    }
}
