//! `keyvault key backup|restore`: a backup brings back a purged key and with it the disks it
//! protects; a damaged, truncated or foreign backup is refused with a clear error and exit
//! code; a restore into another subscription or over an existing name is refused; the backup
//! needs its permission, refuses non-software keys, and never puts key bytes in the audit.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Env, cmk_setup_with};
use ssefs::ids::Kind;
use ssefs::service::Service;
use ssefs::volume::Volume;

const MIB: usize = 1 << 20;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

/// Opens a disk or snapshot's plaintext through the library (the store must not be held).
fn open(store: &Path, kind: Kind, name: &str, read_only: bool) -> ssefs::error::Result<Volume> {
    let s = Service::open(store)?;
    let rec = s.load_volume(kind, name)?;
    let dek = s.volume_key(kind, name)?;
    Volume::open(
        &s.data_path(kind, name)?,
        rec.size_bytes,
        dek,
        read_only,
        name,
    )
}

fn backup(env: &Env, vault: &str, key: &str, file: &Path) {
    let path = file.to_str().unwrap();
    env.ok(&[
        "keyvault",
        "key",
        "backup",
        "--vault-name",
        vault,
        "-n",
        key,
        "--file",
        path,
    ]);
}

fn restore_args<'a>(vault: &'a str, file: &'a str) -> Vec<&'a str> {
    vec![
        "keyvault",
        "key",
        "restore",
        "--vault-name",
        vault,
        "--file",
        file,
    ]
}

fn days_from_now(days: u64) -> String {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + days * 86_400)
        .to_string()
}

fn vault(env: &Env, name: &str, group: &str) {
    env.ok(&[
        "keyvault",
        "create",
        "-n",
        name,
        "-g",
        group,
        "--enable-purge-protection",
        "true",
        "-o",
        "none",
    ]);
}

fn key(env: &Env, vault: &str, name: &str) {
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        vault,
        "-n",
        name,
        "-o",
        "none",
    ]);
}

#[test]
fn a_backup_brings_back_a_purged_key_and_the_disks_it_protects() {
    let mut env = Env::new();
    env.ok(&["config", "set", "test-clock", "true"]);
    let cmk = cmk_setup_with(
        &env,
        "kvbk",
        "k",
        "desbk",
        "eastus",
        &["--retention-days", "7"],
    );
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--disk-encryption-set",
        &cmk.des_id,
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    let data = pattern(4 * MIB, 7);
    {
        let v = open(&env.store(), Kind::Disk, "d", false).unwrap();
        v.write_at(&data, 3 * MIB as u64).unwrap();
        v.sync().unwrap();
    }
    // A second version, so that the backup must carry every version.
    env.ok(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kvbk",
        "-n",
        "k",
        "-o",
        "none",
    ]);

    let file = env.dir.path().join("k.backup");
    backup(&env, "kvbk", "k", &file);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"SSEFSKB\0", "magic");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a backup file is 0600");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("\"versions\""),
        "the backup is sealed, not plain"
    );

    // Delete the key and purge it once the retention has passed: the disk is unusable.
    env.ok(&[
        "keyvault",
        "key",
        "delete",
        "--vault-name",
        "kvbk",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let purge = [
        "keyvault",
        "key",
        "purge",
        "--vault-name",
        "kvbk",
        "-n",
        "k",
    ];
    env.fails(&purge, 1, "purge protection");
    env.extra_env.push(("SSEFS_NOW".into(), days_from_now(8)));
    env.ok(&purge);
    env.extra_env.clear();
    let snap = [
        "snapshot", "create", "-n", "s1", "-g", "rg", "--source", "d", "-o", "none",
    ];
    env.fails(&snap, 1, "KeyNotFound");
    assert!(open(&env.store(), Kind::Disk, "d", true).is_err());

    // Restore: the same key, the same versions, and the disk opens again.
    let restored = env.json(&restore_args("kvbk", file.to_str().unwrap()));
    let first_version = cmk.key_url.rsplit('/').next().unwrap();
    let versions = env.ok(&[
        "keyvault",
        "key",
        "list-versions",
        "--vault-name",
        "kvbk",
        "-n",
        "k",
        "--query",
        "[].kid",
        "-o",
        "tsv",
    ]);
    assert_eq!(versions.lines().count(), 2, "{versions}");
    assert!(versions.contains(first_version), "{versions}");
    assert_eq!(
        restored["key"]["kid"].as_str().unwrap(),
        versions.lines().last().unwrap()
    );
    env.ok(&snap);
    let v = open(&env.store(), Kind::Snapshot, "s1", true).unwrap();
    let mut back = vec![0u8; data.len()];
    v.read_at(&mut back, 3 * MIB as u64).unwrap();
    assert!(
        back == data,
        "the snapshot of the disk reads back what was written"
    );
    drop(v);
    let v = open(&env.store(), Kind::Disk, "d", true).unwrap();
    v.read_at(&mut back, 3 * MIB as u64).unwrap();
    assert!(back == data, "the disk reads back what was written");
    drop(v);
    env.ok(&["check"]);

    // Audited, without key bytes.
    let audit = env.ok(&["keyvault", "audit", "-n", "kvbk", "-o", "json"]);
    let ops = env.ok(&[
        "keyvault",
        "audit",
        "-n",
        "kvbk",
        "--query",
        "[?operation=='KeyBackup' || operation=='KeyRestore'].[operation, outcome]",
        "-o",
        "tsv",
    ]);
    assert!(ops.contains("KeyBackup\tSucceeded"), "{ops}");
    assert!(ops.contains("KeyRestore\tSucceeded"), "{ops}");
    assert!(
        !audit.contains("PRIVATE KEY") && !audit.contains("MII"),
        "{audit}"
    );
}

#[test]
fn damaged_truncated_and_foreign_backups_are_refused() {
    let env = Env::new();
    vault(&env, "kvdmg", "rg");
    key(&env, "kvdmg", "k");
    vault(&env, "kvdst", "rg");
    let good = env.dir.path().join("good.backup");
    backup(&env, "kvdmg", "k", &good);
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, b: &[u8]| -> PathBuf {
        let p = env.dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let flip = |at: usize| {
        let mut b = bytes.clone();
        b[at] ^= 0x20;
        b
    };
    let sub_at = 27; // the subscription id, in the clear but authenticated
    let cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        ("payload-flip", flip(bytes.len() / 2), 2, "damaged"),
        ("tag-flip", flip(bytes.len() - 1), 2, "damaged"),
        ("subscription-flip", flip(sub_at + 3), 2, "damaged"),
        ("magic-flip", flip(0), 2, "not an ssefs key backup"),
        ("version-flip", flip(9), 2, "version"),
        (
            "truncated",
            bytes[..bytes.len() - 10].to_vec(),
            2,
            "truncated",
        ),
        ("header-only", bytes[..40].to_vec(), 2, "truncated"),
        ("empty", Vec::new(), 2, "not an ssefs key backup"),
        (
            "longer",
            [bytes.as_slice(), b"x"].concat(),
            2,
            "after the end",
        ),
        ("key-id-flip", flip(12), 1, "another backup key"),
    ];
    for (name, b, code, needle) in cases {
        let p = write(name, &b);
        let err = env.fails(&restore_args("kvdst", p.to_str().unwrap()), code, needle);
        assert!(
            err.contains(p.to_str().unwrap()),
            "{name}: names the file: {err}"
        );
    }
    env.fails(
        &restore_args("kvdst", env.dir.path().join("nope").to_str().unwrap()),
        1,
        "nope",
    );
    assert_eq!(
        env.ok(&[
            "keyvault",
            "key",
            "list",
            "--vault-name",
            "kvdst",
            "--query",
            "length(@)"
        ]),
        "0",
        "nothing was restored"
    );
    // A backup from another store (another backup key) is refused as such.
    let other = Env::new();
    vault(&other, "kvother", "rg");
    key(&other, "kvother", "k");
    let foreign = env.dir.path().join("foreign.backup");
    backup(&other, "kvother", "k", &foreign);
    env.fails(
        &restore_args("kvdst", foreign.to_str().unwrap()),
        1,
        "another backup key",
    );
    // The good one still restores.
    env.ok(&restore_args("kvdst", good.to_str().unwrap()));
}

#[test]
fn restore_refuses_another_subscription_and_a_taken_name() {
    let env = Env::new();
    vault(&env, "kvsub", "rg");
    key(&env, "kvsub", "k");
    let file = env.dir.path().join("k.backup");
    backup(&env, "kvsub", "k", &file);
    let f = file.to_str().unwrap();

    // The name is taken: live, then soft-deleted.
    env.fails(&restore_args("kvsub", f), 1, "already exists");
    env.ok(&[
        "keyvault",
        "key",
        "delete",
        "--vault-name",
        "kvsub",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    env.fails(&restore_args("kvsub", f), 1, "soft-deleted");
    env.ok(&[
        "keyvault",
        "key",
        "recover",
        "--vault-name",
        "kvsub",
        "-n",
        "k",
        "-o",
        "none",
    ]);

    // Another subscription of the same store: refused, naming both subscriptions.
    let home = env.ok(&["account", "show", "--query", "id", "-o", "tsv"]);
    let elsewhere = "0b1f6471-1bf0-4dda-aec3-111122223333";
    env.ok(&["account", "set", "--subscription", elsewhere]);
    env.ok(&[
        "group", "create", "-n", "rgother", "-l", "eastus", "-o", "none",
    ]);
    vault(&env, "kvothersub", "rgother");
    let err = env.fails(&restore_args("kvothersub", f), 1, "subscription");
    assert!(err.contains(&home) && err.contains(elsewhere), "{err}");
    env.ok(&["account", "set", "--subscription", &home]);
    // The same subscription, another vault: restored.
    vault(&env, "kvsame", "rg");
    env.ok(&restore_args("kvsame", f));
}

#[test]
fn backup_needs_its_permission_and_a_software_key() {
    let env = Env::new();
    vault(&env, "kvperm", "rg");
    key(&env, "kvperm", "k");
    let me = env.ok(&["account", "show", "--query", "user.objectId", "-o", "tsv"]);
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kvperm",
        "--object-id",
        &me,
        "--key-permissions",
        "get",
        "list",
        "-o",
        "none",
    ]);
    let file = env.dir.path().join("k.backup");
    env.fails(
        &[
            "keyvault",
            "key",
            "backup",
            "--vault-name",
            "kvperm",
            "-n",
            "k",
            "--file",
            file.to_str().unwrap(),
        ],
        1,
        "backup",
    );
    assert!(!file.exists(), "no file for a refused backup");
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kvperm",
        "--object-id",
        &me,
        "--key-permissions",
        "all",
        "-o",
        "none",
    ]);

    // A key whose protection is not software (an HSM key) is not backed up.
    let record = env.path("vaults/kvperm/keys/k/key.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(
        &record,
        text.replace("\"protection\": \"software\"", "\"protection\": \"hsm\""),
    )
    .unwrap();
    env.fails(
        &[
            "keyvault",
            "key",
            "backup",
            "--vault-name",
            "kvperm",
            "-n",
            "k",
            "--file",
            file.to_str().unwrap(),
        ],
        1,
        "HSM",
    );
    assert!(!file.exists());
    let outcomes = env.ok(&[
        "keyvault",
        "audit",
        "-n",
        "kvperm",
        "--query",
        "[?operation=='KeyBackup'].outcome",
        "-o",
        "tsv",
    ]);
    assert!(
        outcomes.contains("Forbidden") && outcomes.contains("Refused"),
        "{outcomes}"
    );
}
