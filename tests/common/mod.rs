//! Helpers shared by the integration tests: a scratch store and a way to run `ssefs` in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A scratch store in its own temporary directory, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
}

/// What a command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            extra_env: Vec::new(),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssefs"));
        cmd.args(args)
            .env("SSEFS_STORE", self.store())
            .env_remove("SSEFS_NOW");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let out: Output = cmd.output().expect("run ssefs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and insists on success; returns stdout without the trailing newline.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "ssefs {args:?} failed: {}", r.stderr);
        r.stdout.trim_end_matches('\n').to_string()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("ssefs {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs and insists on failure with `code`, an az-style `(Code) message` naming `needle`.
    pub fn fails(&self, args: &[&str], code: i32, needle: &str) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "ssefs {args:?}: expected exit {code}, got {}: {}{}",
            r.code, r.stdout, r.stderr
        );
        // Warnings (`WARNING: ...` lines) may come first, as in az; the error line is last.
        let error_line = r.stderr.trim_end().lines().last().unwrap_or_default();
        assert!(
            error_line.starts_with('(')
                && r.stderr
                    .trim_end()
                    .lines()
                    .rev()
                    .skip(1)
                    .all(|l| l.starts_with("WARNING: ")),
            "az-style error expected: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(
            r.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "ssefs {args:?}: stderr lacks '{needle}': {}",
            r.stderr
        );
        r.stderr
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.store().join(rel)
    }
}

/// Ids of a ready customer-key setup: vault, key, set, with the set's identity granted access.
pub struct Cmk {
    pub vault_id: String,
    pub key_url: String,
    pub des_id: String,
    pub principal: String,
}

/// The documented workflow up to a usable disk encryption set `des` (vault `vault`, key `key`).
pub fn cmk_setup(env: &Env, vault: &str, key: &str, des: &str, location: &str) -> Cmk {
    cmk_setup_with(env, vault, key, des, location, &[])
}

/// [`cmk_setup`], with more arguments for `keyvault create` (e.g. `--retention-days 7`).
pub fn cmk_setup_with(
    env: &Env,
    vault: &str,
    key: &str,
    des: &str,
    location: &str,
    vault_args: &[&str],
) -> Cmk {
    let mut create = vec![
        "keyvault",
        "create",
        "-n",
        vault,
        "-g",
        "rg",
        "-l",
        location,
        "--enable-purge-protection",
        "true",
        "--enable-soft-delete",
        "true",
        "-o",
        "none",
    ];
    create.extend_from_slice(vault_args);
    env.ok(&create);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        vault,
        "-n",
        key,
        "--protection",
        "software",
        "-o",
        "none",
    ]);
    let vault_id = env.ok(&[
        "keyvault", "show", "--name", vault, "--query", "[id]", "-o", "tsv",
    ]);
    let key_url = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        vault,
        "--name",
        key,
        "--query",
        "[key.kid]",
        "-o",
        "tsv",
    ]);
    env.ok(&[
        "disk-encryption-set",
        "create",
        "-n",
        des,
        "-l",
        location,
        "-g",
        "rg",
        "--source-vault",
        &vault_id,
        "--key-url",
        &key_url,
        "-o",
        "none",
    ]);
    let principal = env.ok(&[
        "disk-encryption-set",
        "show",
        "-n",
        des,
        "-g",
        "rg",
        "--query",
        "[identity.principalId]",
        "-o",
        "tsv",
    ]);
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        vault,
        "-g",
        "rg",
        "--object-id",
        &principal,
        "--key-permissions",
        "wrapkey",
        "unwrapkey",
        "get",
        "-o",
        "none",
    ]);
    let des_id = env.ok(&[
        "disk-encryption-set",
        "show",
        "-n",
        des,
        "-g",
        "rg",
        "--query",
        "[id]",
        "-o",
        "tsv",
    ]);
    Cmk {
        vault_id,
        key_url,
        des_id,
        principal,
    }
}

/// SHA-256-free fingerprint of a file's bytes (enough to compare before/after in a test).
pub fn file_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}
