//! The setting `vault.dir`: the vaults move out of the store (which then holds no private key
//! but the platform key), an unreachable vault directory is named by every command that needs
//! a key and by `ssefs check` (once), platform-key disks keep working, and a bad target is
//! refused with nothing changed.

mod common;

use std::path::Path;

use common::{Env, cmk_setup};

/// Every `*.pem` and `backup.key` under `dir`.
fn key_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pem") || p.ends_with("backup.key") {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn vaults_move_out_of_the_store_and_an_unreachable_directory_is_named() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kvdir", "k", "desdir", "eastus");
    let disk = |name: &str, des: Option<&str>| {
        let mut args = vec![
            "disk",
            "create",
            "-n",
            name,
            "-g",
            "rg",
            "--size-gb",
            "1",
            "-o",
            "none",
        ];
        if let Some(d) = des {
            args.extend_from_slice(&["--disk-encryption-set", d]);
        }
        env.ok(&args);
    };
    disk("cmk", Some(&cmk.des_id));
    disk("pmk", None);
    let keys = env.dir.path().join("keys");
    let keys_s = keys.to_str().unwrap();

    // Bad targets change nothing.
    env.fails(
        &["config", "set", "vault.dir", "relative/keys"],
        2,
        "absolute",
    );
    let inside = env.store().join("disks").display().to_string();
    env.fails(
        &["config", "set", "vault.dir", &inside],
        2,
        "outside the store",
    );
    let full = env.dir.path().join("full");
    std::fs::create_dir_all(full.join("something")).unwrap();
    env.fails(
        &["config", "set", "vault.dir", full.to_str().unwrap()],
        2,
        "not empty",
    );
    assert!(env.path("vaults/kvdir/vault.json").exists());

    env.ok(&["config", "set", "vault.dir", keys_s]);
    assert_eq!(env.ok(&["config", "get", "vault.dir", "-o", "tsv"]), keys_s);
    assert_eq!(key_files(&env.store()), vec!["platform-key.pem"]);
    assert!(!env.path("vaults").exists(), "STORE/vaults is gone");
    assert_eq!(key_files(&keys).len(), 1, "{:?}", key_files(&keys));
    assert!(keys.join("kvdir/audit.log").exists());
    env.ok(&[
        "snapshot", "create", "-n", "s1", "-g", "rg", "--source", "cmk", "-o", "none",
    ]);
    env.ok(&["check"]);

    // Unreachable: every command that needs a key names the directory; check says it once.
    let away = env.dir.path().join("keys.away");
    std::fs::rename(&keys, &away).unwrap();
    let err = env.fails(
        &[
            "snapshot", "create", "-n", "s2", "-g", "rg", "--source", "cmk",
        ],
        1,
        "KeyNotFound",
    );
    assert!(err.contains(keys_s), "{err}");
    env.fails(&["keyvault", "list"], 1, keys_s);
    env.ok(&[
        "snapshot", "create", "-n", "p1", "-g", "rg", "--source", "pmk", "-o", "none",
    ]);
    let check = env.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    let problems: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| !l.starts_with("note:") && !l.contains("problem(s) found"))
        .collect();
    assert_eq!(problems.len(), 1, "{}", check.stdout);
    assert!(problems[0].starts_with(keys_s), "{}", check.stdout);
    // It cannot be moved while away; back again, everything works.
    env.fails(
        &[
            "config",
            "set",
            "vault.dir",
            env.dir.path().join("k2").to_str().unwrap(),
        ],
        1,
        "cannot be reached",
    );
    std::fs::rename(&away, &keys).unwrap();
    env.ok(&[
        "snapshot", "create", "-n", "s2", "-g", "rg", "--source", "cmk", "-o", "none",
    ]);
    env.ok(&["check"]);

    // Back into the store.
    env.ok(&["config", "unset", "vault.dir"]);
    assert!(env.path("vaults/kvdir/vault.json").exists());
    assert!(key_files(&keys).is_empty());
    env.ok(&[
        "snapshot", "create", "-n", "s3", "-g", "rg", "--source", "cmk", "-o", "none",
    ]);
    env.ok(&["check"]);
}
