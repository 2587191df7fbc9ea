//! `cargo xtask build`: every Lambda package of the workspace (one binary per module, deployed to each of its
//! functions, and the authorizer's), release, `provided.al2023` on arm64, through cargo-lambda, packed as
//! reproducible `target/lambda/<package>/bootstrap.zip` (the path synth references).
//!
//! Reproducible: one entry `bootstrap`, mode 0755, timestamp 1980-01-01, fixed compression level, so the zip (and
//! Terraform's `source_code_hash`) changes only when the binary does. cargo-lambda, its zig and the arm64 Rust
//! target are installed when missing.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, step};
use crate::workspace_root;

/// A zip over this size fails the build: large packages slow every cold start.
pub const ZIP_BUDGET_BYTES: u64 = 6 * 1024 * 1024;

/// The packages holding Lambda binaries, from the catalog: every deployed module's crate and the authorizer's.
pub fn packages() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in route_registry::all_functions() {
        if !out.contains(&f.package()) {
            out.push(f.package());
        }
    }
    out
}

#[derive(Debug, Default, clap::Args)]
pub struct Args {}

/// Where synth expects a function's package, its module's (`stacks::names::zip_path`, under the checkout, whatever
/// `CARGO_TARGET_DIR` says).
pub fn zip_path(f: &route_registry::Function) -> PathBuf {
    workspace_root().join(stacks::names::zip_path(f))
}

pub fn run(_args: &Args) -> Result<()> {
    let root = workspace_root();
    let path_env = toolchain()?;
    step("cargo lambda build --release --arm64 (provided.al2023)", || {
        let mut cmd = cargo();
        cmd.current_dir(&root).env("PATH", &path_env).args(["lambda", "build", "--release", "--arm64"]);
        for p in packages() {
            cmd.args(["-p", p]);
        }
        exec(&mut cmd)
    })?;
    let mut over = Vec::new();
    println!("{:<28} {:>10}  functions", "package", "zip");
    for package in packages() {
        let bin = crate::target_dir().join("lambda").join(package).join("bootstrap");
        let bytes = std::fs::read(&bin).with_context(|| format!("cargo lambda did not produce {}", bin.display()))?;
        let functions: Vec<route_registry::Function> =
            route_registry::all_functions().filter(|f| f.package() == package).collect();
        let Some(first) = functions.first() else { continue };
        let zip = zip_path(first);
        let packed = reproducible_zip(&bytes)?;
        if let Some(dir) = zip.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&zip, &packed).with_context(|| format!("cannot write {}", zip.display()))?;
        let size = packed.len() as u64;
        let names: Vec<&str> = functions.iter().map(|f| f.name).collect();
        println!("{package:<28} {:>7.2} MiB  {}", size as f64 / (1024.0 * 1024.0), names.join(", "));
        if size > ZIP_BUDGET_BYTES {
            over.push(format!("{package} ({size} bytes)"));
        }
    }
    if !over.is_empty() {
        bail!(
            "over the {} MiB package budget: {}. Look for a new heavy dependency (cargo tree -p <package> -e normal)",
            ZIP_BUDGET_BYTES / 1024 / 1024,
            over.join(", ")
        );
    }
    println!("packages are in target/lambda/<package>/bootstrap.zip; next: cargo xtask synth dev, then terraform");
    Ok(())
}

/// A zip holding `bootstrap` (mode 0755) with fixed metadata: same bytes in, same bytes out.
pub fn reproducible_zip(binary: &[u8]) -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::DEFAULT)
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

/// Makes sure cargo-lambda, zig and the arm64 target are there; returns the PATH to build with.
pub fn toolchain() -> Result<std::ffi::OsString> {
    let mut paths: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let has = |paths: &[PathBuf], exe: &str| paths.iter().any(|d| d.join(exe).is_file());
    if !has(&paths, "cargo-lambda") {
        step("pip install cargo-lambda (not found on PATH)", || {
            exec(Command::new("python3").args(["-m", "pip", "install", "--quiet", "cargo-lambda"]))
        })?;
    }
    // pip puts cargo-lambda and python-zig next to the interpreter; that folder must be on PATH for zig.
    let out = Command::new("python3")
        .args(["-c", "import sys, os; print(os.path.join(sys.prefix, 'bin'))"])
        .output()
        .context("python3 is needed for cargo-lambda's zig")?;
    let python_bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !paths.contains(&python_bin) {
        paths.insert(0, python_bin);
    }
    if !has(&paths, "cargo-lambda") {
        bail!("cargo-lambda is still not on PATH after installing it; install it (pip install cargo-lambda) and retry");
    }
    if !has(&paths, "zig") && !has(&paths, "python-zig") {
        bail!("zig was not found (cargo-lambda ships it as python-zig via pip); run: python3 -m pip install ziglang");
    }
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let has_target = installed.map(|o| String::from_utf8_lossy(&o.stdout).contains("aarch64-unknown-linux-gnu"));
    if !has_target.unwrap_or(false) {
        step("rustup target add aarch64-unknown-linux-gnu", || {
            exec(Command::new("rustup").args(["target", "add", "aarch64-unknown-linux-gnu"]))
        })?;
    }
    Ok(std::env::join_paths(paths)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_are_reproducible_and_executable() {
        let a = reproducible_zip(b"\x7fELF pretend binary").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = reproducible_zip(b"\x7fELF pretend binary").unwrap();
        assert_eq!(a, b, "same input, same bytes, whatever the clock says");
        assert_ne!(a, reproducible_zip(b"\x7fELF other binary").unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    /// Every catalog function's package is on the build list, and the package has its one binary, `src/main.rs` (a
    /// module's is generated), and no other.
    #[test]
    fn every_function_has_its_package_and_binary() {
        for f in route_registry::all_functions() {
            assert!(packages().contains(&f.package()), "{} is not built", f.package());
            let krate = workspace_root().join("lambdas").join(f.package());
            assert!(krate.join("src/main.rs").is_file(), "{} has no binary (run cargo xtask codegen)", f.package());
            assert!(!krate.join("src/bin").is_dir(), "{} has binaries besides its one", f.package());
        }
    }
}
