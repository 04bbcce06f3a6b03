//! The documented az workflow, end to end, through the `ssefs` binary: vault, key, set, policy,
//! customer-key disk, platform-key disk, update, snapshot, rotation, output formats.

mod common;

use common::{Env, cmk_setup};
use serde_json::Value;

#[test]
fn documented_workflow_gives_a_customer_key_disk() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kv-doc", "key1", "des1", "westus2");
    assert!(
        cmk.vault_id
            .ends_with("/providers/Microsoft.KeyVault/vaults/kv-doc")
    );
    assert!(
        cmk.key_url
            .starts_with("https://kv-doc.vault.azure.net/keys/key1/")
    );
    assert_eq!(cmk.key_url.rsplit('/').next().unwrap().len(), 32);
    assert_eq!(cmk.principal.len(), 36);

    let disk = env.json(&[
        "disk",
        "create",
        "-n",
        "disk1",
        "-g",
        "rg",
        "-l",
        "westus2",
        "--encryption-type",
        "EncryptionAtRestWithCustomerKey",
        "--disk-encryption-set",
        &cmk.des_id,
        "--size-gb",
        "30",
        "--sku",
        "Premium_LRS",
    ]);
    assert_eq!(disk["diskSizeGB"], 30);
    assert_eq!(disk["sku"]["name"], "Premium_LRS");
    assert_eq!(disk["diskState"], "Unattached");
    assert_eq!(
        disk["encryption"]["diskEncryptionSetId"],
        Value::String(cmk.des_id.clone())
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-g",
            "rg",
            "-n",
            "disk1",
            "--query",
            "[encryption.type]",
            "-o",
            "tsv"
        ]),
        "EncryptionAtRestWithCustomerKey"
    );
    // A 30 GiB disk is a sparse file.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(env.path("disks/disk1/data")).unwrap();
    assert_eq!(meta.len(), 30 << 30);
    assert!(meta.blocks() < 64);

    // Platform key by default, then switched to the customer key.
    let pmk = env.json(&[
        "disk",
        "create",
        "-n",
        "disk2",
        "-g",
        "rg",
        "-l",
        "westus2",
        "--size-gb",
        "4",
    ]);
    assert_eq!(pmk["encryption"]["type"], "EncryptionAtRestWithPlatformKey");
    assert_eq!(pmk["encryption"]["diskEncryptionSetId"], Value::Null);
    let wrapped_before = env.ok(&["disk", "show", "-n", "disk2", "--query", "id", "-o", "tsv"]);
    assert!(wrapped_before.ends_with("/providers/Microsoft.Compute/disks/disk2"));
    let upd = env.json(&[
        "disk",
        "update",
        "-n",
        "disk2",
        "-g",
        "rg",
        "--encryption-type",
        "EncryptionAtRestWithCustomerKey",
        "--disk-encryption-set",
        "des1",
    ]);
    assert_eq!(upd["encryption"]["type"], "EncryptionAtRestWithCustomerKey");

    // Snapshot inherits the source's key.
    let snap = env.json(&[
        "snapshot", "create", "-g", "rg", "-n", "snap1", "--source", "disk1",
    ]);
    assert_eq!(snap["type"], "Microsoft.Compute/snapshots");
    assert_eq!(
        snap["encryption"]["type"],
        "EncryptionAtRestWithCustomerKey"
    );
    assert_eq!(snap["creationData"]["createOption"], "Copy");
    let snap2 = env.json(&[
        "snapshot",
        "create",
        "-g",
        "rg",
        "-n",
        "snap2",
        "--source",
        "disk1",
        "--disk-encryption-set",
        &cmk.des_id,
    ]);
    assert_eq!(
        snap2["encryption"]["diskEncryptionSetId"],
        Value::String(cmk.des_id.clone())
    );

    // A disk back from the snapshot, by id.
    let snap_id = env.ok(&[
        "snapshot", "show", "-n", "snap1", "-g", "rg", "--query", "id", "-o", "tsv",
    ]);
    let back = env.json(&[
        "disk", "create", "-n", "disk3", "-g", "rg", "--source", &snap_id,
    ]);
    assert_eq!(back["diskSizeGB"], 30);
    assert_eq!(
        back["encryption"]["type"],
        "EncryptionAtRestWithCustomerKey"
    );

    // Rotation: new key version, set updated, every resource re-wrapped under it.
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-doc",
        "-n",
        "key1",
        "--protection",
        "software",
        "-o",
        "none",
    ]);
    let new_url = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-doc",
        "--name",
        "key1",
        "--query",
        "[key.kid]",
        "-o",
        "tsv",
    ]);
    assert_ne!(new_url, cmk.key_url);
    let mtime = |rel: &str| {
        std::fs::metadata(env.path(rel))
            .unwrap()
            .modified()
            .unwrap()
    };
    let data_before = mtime("disks/disk1/data");
    let des = env.json(&[
        "disk-encryption-set",
        "update",
        "-n",
        "des1",
        "-g",
        "rg",
        "--key-url",
        &new_url,
        "--source-vault",
        &cmk.vault_id,
    ]);
    assert_eq!(des["activeKey"]["keyUrl"], Value::String(new_url.clone()));
    assert_eq!(des["previousKeys"], serde_json::json!([]));
    assert!(des["lastKeyRotationTimestamp"].is_string());
    assert_eq!(
        mtime("disks/disk1/data"),
        data_before,
        "rotation never touches data"
    );
    for rel in [
        "disks/disk1",
        "disks/disk2",
        "disks/disk3",
        "snapshots/snap1",
        "snapshots/snap2",
    ] {
        let rec: Value = serde_json::from_slice(&common::file_bytes(
            &env.path(&format!("{rel}/volume.json")),
        ))
        .unwrap();
        assert_eq!(
            rec["key"]["kek"]["keyUrl"],
            Value::String(new_url.clone()),
            "{rel} re-wrapped"
        );
    }
    let assoc = env.ok(&[
        "disk-encryption-set",
        "list-associated-resources",
        "-n",
        "des1",
        "-g",
        "rg",
        "-o",
        "tsv",
    ]);
    assert_eq!(assoc.lines().count(), 5, "{assoc}");

    // Lists, tables, queries.
    assert_eq!(
        env.ok(&["disk", "list", "-g", "rg", "--query", "length(@)"]),
        "3"
    );
    assert_eq!(
        env.ok(&["disk", "list", "-g", "other", "--query", "length(@)"]),
        "0"
    );
    let table = env.ok(&[
        "snapshot",
        "list",
        "-o",
        "table",
        "--query",
        "[].{Name:name, Size:diskSizeGB}",
    ]);
    assert!(table.starts_with("Name"), "{table}");
    assert!(table.contains("snap1"));

    // Deletes.
    env.ok(&["snapshot", "delete", "-n", "snap2", "-g", "rg"]);
    env.ok(&["disk", "delete", "-n", "disk3", "-g", "rg", "--yes"]);
    env.fails(
        &["disk", "show", "-n", "disk3", "-g", "rg"],
        3,
        "ResourceNotFound",
    );
}

#[test]
fn audit_log_records_unwraps_with_the_set_identity_and_resource() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kv-audit", "k", "des-a", "eastus");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--disk-encryption-set",
        "des-a",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);
    let log = env.json(&["keyvault", "audit", "-n", "kv-audit"]);
    let entries = log.as_array().unwrap();
    let unwrap = entries
        .iter()
        .find(|e| e["operation"] == "UnwrapKey")
        .expect("an unwrap was audited");
    assert_eq!(
        unwrap["callerObjectId"],
        Value::String(cmk.principal.clone())
    );
    assert!(unwrap["resource"].as_str().unwrap().ends_with("/disks/d"));
    assert_eq!(unwrap["outcome"], "Succeeded");
    assert_eq!(unwrap["version"].as_str().unwrap().len(), 32);
    assert!(entries.iter().any(|e| {
        e["operation"] == "WrapKey"
            && e["resource"]
                .as_str()
                .is_some_and(|r| r.ends_with("/snapshots/s"))
    }));
    for op in ["VaultCreate", "KeyCreate", "SetPolicy"] {
        assert!(entries.iter().any(|e| e["operation"] == op), "{op} audited");
    }
    // Nothing secret in the log: no PEM, no base64 of a wrapped key.
    let raw =
        String::from_utf8(common::file_bytes(&env.path("vaults/kv-audit/audit.log"))).unwrap();
    assert!(!raw.contains("PRIVATE KEY"));
    let rec: Value =
        serde_json::from_slice(&common::file_bytes(&env.path("disks/d/volume.json"))).unwrap();
    assert!(!raw.contains(rec["key"]["wrappedDek"].as_str().unwrap()));
}

#[test]
fn key_lifecycle_versions_attributes_delete_recover_purge() {
    let env = Env::new();
    env.ok(&[
        "keyvault",
        "create",
        "-n",
        "kv-life",
        "-g",
        "rg",
        "--enable-purge-protection",
        "true",
        "--retention-days",
        "7",
        "-o",
        "none",
    ]);
    let k = env.json(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "--kty",
        "RSA",
        "--size",
        "3072",
    ]);
    assert_eq!(k["key"]["kty"], "RSA");
    assert_eq!(k["attributes"]["enabled"], true);
    assert_eq!(k["attributes"]["recoveryLevel"], "Recoverable");
    env.ok(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-life",
        "-n",
        "K1",
        "-o",
        "none",
    ]);
    let versions = env.json(&[
        "keyvault",
        "key",
        "list-versions",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
    ]);
    assert_eq!(versions.as_array().unwrap().len(), 3);
    let first = versions[0]["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // set-attributes without --version changes only the latest, as in az.
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "--enabled",
        "false",
        "-o",
        "none",
    ]);
    let versions = env.json(&[
        "keyvault",
        "key",
        "list-versions",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "--query",
        "[].attributes.enabled",
    ]);
    assert_eq!(versions, serde_json::json!([true, true, false]));
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "--version",
        &first,
        "--enabled",
        "false",
        "-o",
        "none",
    ]);
    let shown = env.json(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "--version",
        &first,
    ]);
    assert_eq!(shown["attributes"]["enabled"], false);
    let by_id = env.json(&[
        "keyvault",
        "key",
        "show",
        "--id",
        shown["key"]["kid"].as_str().unwrap(),
    ]);
    assert_eq!(by_id["key"]["kid"], shown["key"]["kid"]);
    assert_eq!(
        env.ok(&[
            "keyvault",
            "key",
            "list",
            "--vault-name",
            "kv-life",
            "--query",
            "length(@)"
        ]),
        "1"
    );

    // Delete, recover, purge.
    let deleted = env.json(&[
        "keyvault",
        "key",
        "delete",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
    ]);
    assert!(deleted["scheduledPurgeDate"].is_string());
    env.fails(
        &[
            "keyvault",
            "key",
            "show",
            "--vault-name",
            "kv-life",
            "-n",
            "k1",
        ],
        1,
        "deleted",
    );
    env.ok(&[
        "keyvault",
        "key",
        "recover",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "delete",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "keyvault",
            "key",
            "purge",
            "--vault-name",
            "kv-life",
            "-n",
            "k1",
        ],
        1,
        "purge protection",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-life",
            "-n",
            "k1",
        ],
        1,
        "soft-deleted",
    );
    // Past the 7-day retention, purge is allowed.
    let mut later = Env {
        dir: tempfile::tempdir().unwrap(),
        extra_env: vec![],
    };
    std::mem::swap(&mut later.dir, &mut { env }.dir);
    let in_8_days = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 8 * 86_400)
        .to_string();
    later.extra_env.push(("SSEFS_NOW".into(), in_8_days));
    // A store that does not allow a test clock ignores SSEFS_NOW (finding: a release binary
    // honoured it and purged a key under purge protection), and says so.
    let refused = later.run(&[
        "keyvault",
        "key",
        "purge",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("SSEFS_NOW is ignored")
            && refused.stderr.contains("purge protection"),
        "{}",
        refused.stderr
    );
    later.ok(&["config", "set", "test-clock", "true"]);
    later.ok(&[
        "keyvault",
        "key",
        "purge",
        "--vault-name",
        "kv-life",
        "-n",
        "k1",
    ]);
    later.fails(
        &[
            "keyvault",
            "key",
            "recover",
            "--vault-name",
            "kv-life",
            "-n",
            "k1",
        ],
        3,
        "not found",
    );
}

#[test]
fn key_import_from_pem() {
    let env = Env::new();
    env.ok(&[
        "keyvault",
        "create",
        "-n",
        "kv-imp",
        "-g",
        "rg",
        "--enable-purge-protection",
        "true",
        "-o",
        "none",
    ]);
    let pem = env.dir.path().join("k.pem");
    let st = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(st.status.success());
    let k = env.json(&[
        "keyvault",
        "key",
        "import",
        "--vault-name",
        "kv-imp",
        "-n",
        "imp",
        "--pem-file",
        pem.to_str().unwrap(),
    ]);
    assert!(
        k["key"]["kid"]
            .as_str()
            .unwrap()
            .starts_with("https://kv-imp.vault.azure.net/keys/imp/")
    );
    let garbage = env.dir.path().join("bad.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = env.fails(
        &[
            "keyvault",
            "key",
            "import",
            "--vault-name",
            "kv-imp",
            "-n",
            "imp2",
            "--pem-file",
            garbage.to_str().unwrap(),
        ],
        2,
        "not an RSA private key",
    );
    assert!(!err.contains("not a key"), "the PEM content is not echoed");
    env.fails(
        &[
            "keyvault",
            "key",
            "import",
            "--vault-name",
            "kv-imp",
            "-n",
            "imp3",
            "--pem-file",
            "/nonexistent.pem",
        ],
        1,
        "/nonexistent.pem",
    );
}

#[test]
fn account_show_and_set() {
    let env = Env::new();
    let acct = env.json(&["account", "show"]);
    let sub = acct["id"].as_str().unwrap().to_string();
    assert_eq!(sub.len(), 36);
    env.ok(&[
        "account",
        "set",
        "--subscription",
        "00000000-1111-2222-3333-444444444444",
    ]);
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    let id = env.ok(&["disk", "show", "-n", "d", "--query", "id", "-o", "tsv"]);
    assert!(
        id.starts_with("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/"),
        "{id}"
    );
    env.fails(
        &["account", "set", "--subscription", "no such sub"],
        1,
        "doesn't exist in cloud 'AzureCloud'",
    );
}

#[test]
fn concurrent_commands_on_one_store_are_serialised() {
    let env = Env::new();
    env.ok(&["account", "show", "-o", "none"]);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = env.store();
            std::thread::spawn(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_ssefs"))
                    .args([
                        "disk",
                        "create",
                        "-n",
                        &format!("d{i}"),
                        "-g",
                        "rg",
                        "--size-gb",
                        "1",
                        "-o",
                        "none",
                    ])
                    .env("SSEFS_STORE", store)
                    .status()
                    .expect("run")
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().success());
    }
    assert_eq!(env.ok(&["disk", "list", "--query", "length(@)"]), "8");
}
