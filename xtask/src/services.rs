//! Real services for tests and the local API: a throwaway PostgreSQL 15 cluster and a PostgREST-compatible server
//! (`postrust`), both on 127.0.0.1 and in temporary directories, installed when missing.
//!
//! Each service is a guard: dropping it stops the process and removes its directory, so nothing is left running
//! when a task ends, fails, or is interrupted by an error. PostgreSQL refuses to run as root, so as root the
//! cluster runs as the `postgres` user.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, step};

/// The PostgREST-compatible server, pinned.
const POSTRUST_CRATE: &str = "postrust-server";
const POSTRUST_VERSION: &str = "3.1.0";

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A command run as the `postgres` user when we are root.
fn pg_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The folder holding `initdb`/`pg_ctl` (PostgreSQL 15 preferred), installing Debian's package when missing.
pub fn postgres_bindir() -> Result<PathBuf> {
    fn find() -> Option<PathBuf> {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("pg_ctl").is_file() && p.join("initdb").is_file())
            .collect();
        versions.sort_by_key(|p| p.to_string_lossy().contains("/15/"));
        if let Some(best) = versions.pop() {
            return Some(best);
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
    }
    if let Some(dir) = find() {
        return Ok(dir);
    }
    if !is_root() {
        bail!("PostgreSQL server binaries (initdb, pg_ctl) were not found: install them (Debian: apt-get install postgresql) and run this again");
    }
    step("apt-get install postgresql (PostgreSQL server binaries are missing)", || {
        exec(Command::new("apt-get").args(["update", "-qq"]))?;
        exec(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    })?;
    find().context("PostgreSQL was installed but initdb/pg_ctl are still not found under /usr/lib/postgresql")
}

/// The `postrust` binary, installing it with cargo (about 8 minutes on 2 cores) when missing.
pub fn postrust_bin() -> Result<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let installed = cargo_home.join("bin/postrust");
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("postrust")).find(|p| p.is_file()));
    if let Some(bin) = on_path.or_else(|| installed.is_file().then(|| installed.clone())) {
        return Ok(bin);
    }
    // `--locked` fails for this release (its lock file names a crate version the registry lacks).
    step(&format!("cargo install {POSTRUST_CRATE} {POSTRUST_VERSION} (first run only, about 8 minutes)"), || {
        exec(cargo().args(["install", "--quiet", POSTRUST_CRATE, "--version", POSTRUST_VERSION]))
    })?;
    if installed.is_file() {
        Ok(installed)
    } else {
        bail!("cargo install {POSTRUST_CRATE} finished but {} does not exist", installed.display())
    }
}

/// A running PostgreSQL cluster in a temporary directory; stopped and removed on drop.
#[derive(Debug)]
pub struct Postgres {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    keep: bool,
}

impl Postgres {
    pub fn start() -> Result<Postgres> {
        let bindir = postgres_bindir()?;
        let as_postgres = is_root();
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("career-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            exec(Command::new("chown").arg("postgres:").arg(&dir))?;
        }
        // From here on, dropping `pg` cleans up whatever exists.
        let pg = Postgres { bindir, dir, port, as_postgres, keep: false };
        let data = pg.dir.join("data");
        let out = pg_command(&pg.bindir.join("initdb"), as_postgres)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200",
            pg.dir.display()
        );
        let out = pg_command(&pg.bindir.join("pg_ctl"), as_postgres)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"])
            .stdout(Stdio::null())
            .output()
            .context("cannot run pg_ctl")?;
        if !out.status.success() {
            let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
            bail!("PostgreSQL did not start: {}{log}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(pg)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `user` to database `postgres`.
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Leave the cluster running, and its directory in place, when dropped (`cargo xtask dev --keep`).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = pg_command(&self.bindir.join("pg_ctl"), self.as_postgres)
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running PostgREST-compatible server; killed on drop.
#[derive(Debug)]
pub struct PostgRest {
    child: Child,
    port: u16,
}

impl PostgRest {
    /// Starts `postrust` against `db_url` (the `authenticator` role), logging to `log`. It verifies tokens the way
    /// Supabase's third-party auth does: against the identity provider's keys (the development issuer's JWKS),
    /// with the environment's audience required, switching to the token's `role`; it holds no shared secret. Every
    /// request runs the database's `app.check_request` first, as Supabase is configured to (`db-pre-request`).
    pub fn start(db_url: &str, log: &Path) -> Result<PostgRest> {
        let bin = postrust_bin()?;
        let port = free_port()?;
        let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(&bin)
            .env("PGRST_DB_URI", db_url)
            .env("PGRST_DB_ANON_ROLE", "anon")
            .env("PGRST_JWT_SECRET", dev_issuer::JWKS)
            .env("PGRST_JWT_AUD", dev_issuer::audience("dev"))
            .env("PGRST_DB_PRE_REQUEST", "app.check_request")
            .env("PGRST_DB_CHANNEL_ENABLED", "true")
            .env("PGRST_SERVER_PORT", port.to_string())
            .env("PGRST_SERVER_HOST", "127.0.0.1")
            .env("PGRST_DB_SCHEMAS", "public")
            .env("PGRST_COMPAT_MODE", "true")
            .env("PGRST_DB_POOL", "20")
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = PostgRest { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("postrust exited during start-up ({status}):\n{text}");
            }
            if http_ready(port) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("postrust did not answer on 127.0.0.1:{port} within 60 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process id (the fault run pauses it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// True once something answers HTTP on the port.
fn http_ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 5 && buf.starts_with(b"HTTP/"))
}

impl Drop for PostgRest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PostgreSQL with the migrations applied, and PostgREST in front of it.
#[derive(Debug)]
pub struct Stack {
    // Field order matters: PostgREST stops before PostgreSQL.
    pub rest: PostgRest,
    pub pg: Postgres,
}

impl Stack {
    pub fn start() -> Result<Stack> {
        let pg = step("start PostgreSQL (temporary cluster on 127.0.0.1)", Postgres::start)?;
        step("apply migrations", || crate::db::migrate(&pg.url("postgres"), &crate::db::default_dir()).map(|_| ()))?;
        let log = pg.dir().join("postrust.log");
        let rest = step("start postrust (PostgREST-compatible, 127.0.0.1)", || {
            PostgRest::start(&pg.url("authenticator"), &log)
        })?;
        Ok(Stack { rest, pg })
    }

    /// The variables the integration tests read: the services, and where the Okta stand-in records exchanges for
    /// the contract check.
    pub fn test_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CAREER_TEST_DATABASE_URL", self.pg.url("postgres")),
            ("CAREER_TEST_POSTGREST_URL", self.rest.url()),
            ("OKTA_CONTRACT_LOG", crate::contract::log_path().display().to_string()),
        ]
    }
}
