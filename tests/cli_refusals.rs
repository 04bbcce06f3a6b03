//! Every refusal the store issue lists, through the binary: exit code, az-style code and a
//! message that says why. Nothing is changed by a refused command.

mod common;

use common::{Env, cmk_setup};

fn vault(env: &Env, name: &str, extra: &[&str]) {
    let mut args = vec![
        "keyvault", "create", "-n", name, "-g", "rg", "-l", "eastus", "-o", "none",
    ];
    args.extend_from_slice(extra);
    env.ok(&args);
}

/// `keyvault key set-attributes --version V --enabled true|false`.
fn set_version_enabled(env: &Env, vault: &str, key: &str, version: &str, enabled: bool) {
    let enabled = enabled.to_string();
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        vault,
        "-n",
        key,
        "--version",
        version,
        "--enabled",
        &enabled,
        "-o",
        "none",
    ]);
}

fn key_url(env: &Env, vault: &str, key: &str) -> String {
    env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        vault,
        "-n",
        key,
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ])
}

#[test]
fn disk_encryption_set_refusals() {
    let env = Env::new();
    // No purge protection.
    vault(&env, "kv-nopp", &[]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-nopp",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let url = key_url(&env, "kv-nopp", "k");
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--key-url",
            &url,
        ],
        1,
        "purge protection",
    );
    // No soft delete.
    vault(&env, "kv-nosd", &["--enable-soft-delete", "false"]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-nosd",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let url = key_url(&env, "kv-nosd", "k");
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--key-url",
            &url,
        ],
        1,
        "soft delete",
    );
    // Not RSA 2048.
    vault(&env, "kv-ok", &["--enable-purge-protection", "true"]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-ok",
        "-n",
        "big",
        "--size",
        "3072",
        "-o",
        "none",
    ]);
    let url = key_url(&env, "kv-ok", "big");
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--key-url",
            &url,
        ],
        1,
        "only RSA keys of size 2048",
    );
    // Other location.
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-ok",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let url = key_url(&env, "kv-ok", "k");
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "-l",
            "westeurope",
            "--key-url",
            &url,
        ],
        1,
        "same location",
    );
    // --source-vault naming another vault.
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--key-url",
            &url,
            "--source-vault",
            "kv-nopp",
        ],
        2,
        "is not the vault",
    );
    // Malformed key URL.
    env.fails(
        &[
            "disk-encryption-set",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--key-url",
            "https://evil.example.com/keys/k",
        ],
        2,
        "not a key URL",
    );
    assert_eq!(
        env.ok(&["disk-encryption-set", "list", "--query", "length(@)"]),
        "0",
        "nothing was created"
    );

    // Usable only once the identity has get + wrapKey + unwrapKey.
    env.ok(&[
        "disk-encryption-set",
        "create",
        "-n",
        "d1",
        "-g",
        "rg",
        "--key-url",
        &url,
        "-o",
        "none",
    ]);
    let principal = env.ok(&[
        "disk-encryption-set",
        "show",
        "-n",
        "d1",
        "--query",
        "identity.principalId",
        "-o",
        "tsv",
    ]);
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "x",
            "-g",
            "rg",
            "--disk-encryption-set",
            "d1",
            "--size-gb",
            "1",
        ],
        1,
        "lacks key permission",
    );
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kv-ok",
        "--object-id",
        &principal,
        "--key-permissions",
        "GET",
        "WrapKey",
        "-o",
        "none",
    ]);
    let err = env.fails(
        &[
            "disk",
            "create",
            "-n",
            "x",
            "-g",
            "rg",
            "--disk-encryption-set",
            "d1",
            "--size-gb",
            "1",
        ],
        1,
        "unwrapKey",
    );
    assert!(err.starts_with("(Forbidden)"), "{err}");
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kv-ok",
        "--object-id",
        &principal,
        "--key-permissions",
        "get",
        "wrapkey",
        "UNWRAPKEY",
        "-o",
        "none",
    ]);
    env.ok(&[
        "disk",
        "create",
        "-n",
        "x",
        "-g",
        "rg",
        "--disk-encryption-set",
        "d1",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    // In use: cannot be deleted.
    env.fails(
        &["disk-encryption-set", "delete", "-n", "d1", "-g", "rg"],
        1,
        "used by 1 resource",
    );
    env.ok(&["disk", "delete", "-n", "x", "-g", "rg"]);
    env.ok(&["disk-encryption-set", "delete", "-n", "d1", "-g", "rg"]);
    // Bad permission word.
    env.fails(
        &[
            "keyvault",
            "set-policy",
            "-n",
            "kv-ok",
            "--object-id",
            &principal,
            "--key-permissions",
            "fly",
        ],
        2,
        "not a key permission",
    );
}

#[test]
fn vault_and_key_refusals() {
    let env = Env::new();
    env.fails(
        &[
            "keyvault",
            "create",
            "-n",
            "kv-r",
            "-g",
            "rg",
            "--retention-days",
            "3",
        ],
        2,
        "between 7 and 90",
    );
    vault(&env, "kv-r", &["--enable-purge-protection", "true"]);
    env.fails(
        &["keyvault", "create", "-n", "KV-R", "-g", "rg"],
        1,
        "already exists",
    );
    env.fails(
        &[
            "keyvault",
            "update",
            "-n",
            "kv-r",
            "--enable-purge-protection",
            "false",
        ],
        1,
        "cannot be turned off",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-r",
            "-n",
            "h",
            "--protection",
            "hsm",
        ],
        1,
        "need a Premium vault",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-r",
            "-n",
            "e",
            "--kty",
            "EC",
        ],
        2,
        "RSA keys only",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-r",
            "-n",
            "s",
            "--size",
            "1024",
        ],
        2,
        "2048, 3072 or 4096",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "show",
            "--vault-name",
            "kv-r",
            "-n",
            "nokey",
        ],
        3,
        "not found",
    );
    env.fails(&["keyvault", "show", "-n", "nope-vault"], 3, "not found");
    env.fails(
        &[
            "keyvault",
            "key",
            "show",
            "--vault-name",
            "kv-r",
            "-n",
            "k",
            "--version",
            "xyz",
        ],
        2,
        "32 hex digits",
    );
    // Vault soft delete, purge refused under purge protection, recover.
    env.ok(&["keyvault", "delete", "-n", "kv-r"]);
    env.fails(&["keyvault", "show", "-n", "kv-r"], 3, "not found");
    env.fails(&["keyvault", "purge", "-n", "kv-r"], 1, "purge protection");
    env.ok(&["keyvault", "recover", "-n", "kv-r", "-o", "none"]);
    env.ok(&["keyvault", "show", "-n", "kv-r", "-o", "none"]);
    // The user's own permissions are enforced too.
    let me = env.ok(&["account", "show", "--query", "user.objectId", "-o", "tsv"]);
    env.ok(&[
        "keyvault",
        "delete-policy",
        "-n",
        "kv-r",
        "--object-id",
        &me,
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-r",
            "-n",
            "k",
        ],
        1,
        "does not have key permission 'create'",
    );
}

#[test]
fn disk_and_snapshot_refusals() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kv-d", "k", "des1", "eastus");
    cmk_setup(&env, "kv-e", "k", "des2", "eastus");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "cmk",
        "-g",
        "rg",
        "--disk-encryption-set",
        "des1",
        "--size-gb",
        "2",
        "-o",
        "none",
    ]);
    env.ok(&[
        "disk",
        "create",
        "-n",
        "pmk",
        "-g",
        "rg",
        "--size-gb",
        "2",
        "-o",
        "none",
    ]);

    // Names.
    for bad in [
        "../evil",
        "a/b",
        ".hidden",
        "x.",
        &"n".repeat(81),
        "sp ace",
        "bäd",
    ] {
        env.fails(
            &["disk", "create", "-n", bad, "-g", "rg", "--size-gb", "1"],
            2,
            "invalid disk name",
        );
    }
    env.fails(
        &["disk", "create", "-n", "CMK", "-g", "rg", "--size-gb", "1"],
        1,
        "already exists",
    );
    env.fails(
        &["disk", "create", "-n", "nosize", "-g", "rg"],
        2,
        "--size-gb is required",
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "huge",
            "-g",
            "rg",
            "--size-gb",
            "40000",
        ],
        2,
        "between 1 and",
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "sku",
            "-g",
            "rg",
            "--size-gb",
            "1",
            "--sku",
            "Gold_LRS",
        ],
        2,
        "--sku",
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "loc",
            "-g",
            "rg",
            "-l",
            "westus",
            "--disk-encryption-set",
            "des1",
            "--size-gb",
            "1",
        ],
        1,
        "same location",
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "t",
            "-g",
            "rg",
            "--encryption-type",
            "EncryptionAtRestWithCustomerKey",
            "--size-gb",
            "1",
        ],
        2,
        "needs --disk-encryption-set",
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "t",
            "-g",
            "rg",
            "--encryption-type",
            "EncryptionAtRestWithPlatformAndCustomerKeys",
            "--size-gb",
            "1",
        ],
        2,
        "not supported",
    );

    // Customer key cannot go back; size only grows.
    env.fails(
        &[
            "disk",
            "update",
            "-n",
            "cmk",
            "-g",
            "rg",
            "--encryption-type",
            "EncryptionAtRestWithPlatformKey",
        ],
        1,
        "cannot be disabled once enabled",
    );
    env.fails(
        &["disk", "update", "-n", "cmk", "-g", "rg", "--size-gb", "1"],
        1,
        "can only grow",
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "update",
            "-n",
            "cmk",
            "-g",
            "rg",
            "--size-gb",
            "3",
            "--query",
            "diskSizeGB"
        ]),
        "3"
    );

    // Snapshots share their source's key.
    env.fails(
        &[
            "snapshot",
            "create",
            "-n",
            "s",
            "-g",
            "rg",
            "--source",
            "cmk",
            "--encryption-type",
            "EncryptionAtRestWithPlatformKey",
        ],
        1,
        "same key as its source",
    );
    env.fails(
        &[
            "snapshot",
            "create",
            "-n",
            "s",
            "-g",
            "rg",
            "--source",
            "cmk",
            "--disk-encryption-set",
            "des2",
        ],
        1,
        "same key as its source",
    );
    env.fails(
        &[
            "snapshot",
            "create",
            "-n",
            "s",
            "-g",
            "rg",
            "--source",
            "pmk",
            "--disk-encryption-set",
            &cmk.des_id,
        ],
        1,
        "same key as its source",
    );
    env.fails(
        &[
            "snapshot", "create", "-n", "s", "-g", "rg", "--source", "nodisk",
        ],
        3,
        "not found",
    );
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "cmk", "-o", "none",
    ]);
    // A disk made from it may ask for another set: it is re-encrypted under a fresh DEK.
    assert_eq!(
        env.ok(&[
            "disk",
            "create",
            "-n",
            "fromsnap",
            "-g",
            "rg",
            "--source",
            "s",
            "--disk-encryption-set",
            "des2",
            "--query",
            "encryption.diskEncryptionSetId",
            "-o",
            "tsv",
        ])
        .to_ascii_lowercase(),
        env.ok(&[
            "disk-encryption-set",
            "show",
            "-n",
            "des2",
            "--query",
            "id",
            "-o",
            "tsv"
        ])
        .to_ascii_lowercase()
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "fromsnap2",
            "-g",
            "rg",
            "--source",
            "s",
            "--size-gb",
            "1",
        ],
        2,
        "only grow",
    );
    assert_eq!(env.ok(&["snapshot", "list", "--query", "length(@)"]), "1");
    assert_eq!(env.ok(&["disk", "list", "--query", "length(@)"]), "3");
    // Wrong group, wrong id type.
    env.fails(
        &["disk", "show", "-n", "cmk", "-g", "other"],
        3,
        "not found",
    );
    env.fails(
        &["disk", "show", "-n", &cmk.des_id],
        2,
        "not a disk resource id",
    );
}

#[test]
fn revocation_blocks_use_with_the_reason() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kv-rev", "k", "des1", "eastus");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--disk-encryption-set",
        "des1",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    let version = cmk.key_url.rsplit('/').next().unwrap().to_string();

    // Disabled key version.
    set_version_enabled(&env, "kv-rev", "k", &version, false);
    let err = env.fails(
        &["snapshot", "create", "-n", "s", "-g", "rg", "--source", "d"],
        1,
        "disabled",
    );
    assert!(
        err.starts_with("(KeyDisabled)") && err.contains(&version),
        "{err}"
    );
    env.fails(
        &[
            "disk",
            "create",
            "-n",
            "d2",
            "-g",
            "rg",
            "--disk-encryption-set",
            "des1",
            "--size-gb",
            "1",
        ],
        1,
        "disabled",
    );
    set_version_enabled(&env, "kv-rev", "k", &version, true);

    // Soft-deleted key.
    env.ok(&[
        "keyvault",
        "key",
        "delete",
        "--vault-name",
        "kv-rev",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let err = env.fails(
        &["snapshot", "create", "-n", "s", "-g", "rg", "--source", "d"],
        1,
        "deleted",
    );
    assert!(err.starts_with("(KeyNotFound)"), "{err}");
    env.ok(&[
        "keyvault",
        "key",
        "recover",
        "--vault-name",
        "kv-rev",
        "-n",
        "k",
        "-o",
        "none",
    ]);

    // Access revoked.
    env.ok(&[
        "keyvault",
        "delete-policy",
        "-n",
        "kv-rev",
        "--object-id",
        &cmk.principal,
        "-o",
        "none",
    ]);
    let err = env.fails(
        &["snapshot", "create", "-n", "s", "-g", "rg", "--source", "d"],
        1,
        "lacks key permission",
    );
    assert!(err.starts_with("(Forbidden)"), "{err}");
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kv-rev",
        "--object-id",
        &cmk.principal,
        "--key-permissions",
        "all",
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);

    // Re-keying (rotation) of a resource whose old version is disabled gets stuck, says which
    // resource, keeps previousKeys, and finishes once the version is enabled again.
    env.ok(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kv-rev",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let new_url = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-rev",
        "-n",
        "k",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    set_version_enabled(&env, "kv-rev", "k", &version, false);
    let err = env.fails(
        &[
            "disk-encryption-set",
            "update",
            "-n",
            "des1",
            "--key-url",
            &new_url,
        ],
        1,
        "unfinished",
    );
    assert!(
        err.contains("/disks/d ") && err.contains("/snapshots/s "),
        "{err}"
    );
    let prev = env.json(&[
        "disk-encryption-set",
        "show",
        "-n",
        "des1",
        "--query",
        "previousKeys[].keyUrl",
    ]);
    assert_eq!(prev, serde_json::json!([cmk.key_url]));
    set_version_enabled(&env, "kv-rev", "k", &version, true);
    // Any later command finishes the rotation.
    let prev = env.json(&[
        "disk-encryption-set",
        "show",
        "-n",
        "des1",
        "--query",
        "previousKeys",
    ]);
    assert_eq!(prev, serde_json::json!([]));
    let assoc = env.ok(&[
        "disk-encryption-set",
        "list-associated-resources",
        "-n",
        "des1",
        "-o",
        "tsv",
    ]);
    assert_eq!(assoc.lines().count(), 2);
}
