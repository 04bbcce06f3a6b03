//! az's options through the binary (issue 13, item 6): every command line the issue lists as
//! refused now runs (implemented, recorded or refused as `(NotSupported)`, never a usage
//! error); tags on every resource type; the new commands (snapshot update, disk
//! grant-access/revoke-access, keyvault list-deleted, disk-encryption-set identity, keyvault key
//! encrypt/decrypt); az's unique-prefix abbreviations; `--no-wait`; `--max-items`.

mod common;

use std::path::PathBuf;

use common::{Env, Run, cmk_setup};
use serde_json::{Value, json};

/// Fails unless the run is not a clap usage error (unexpected argument, missing value, ...).
fn not_a_usage_error(args: &[&str], r: &Run) {
    assert!(
        !r.stderr.contains("unexpected argument")
            && !r.stderr.contains("Usage:")
            && !r.stderr.starts_with("error:"),
        "ssefs {args:?} gave a usage error: {}",
        r.stderr
    );
}

fn user_object_id(env: &Env) -> String {
    env.ok(&["account", "show", "--query", "user.objectId", "-o", "tsv"])
}

fn openssl_key(env: &Env) -> String {
    let pem = env.dir.path().join("import.pem");
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl genrsa failed");
    std::fs::read_to_string(&pem).expect("read the PEM")
}

#[test]
fn every_command_line_the_issue_lists_runs_without_a_usage_error() {
    let env = Env::new();
    env.ok(&["group", "create", "-n", "rg", "-l", "eastus", "-o", "none"]);
    let me = user_object_id(&env);
    let pem = openssl_key(&env);
    // (arguments, expected exit code): 0, or 1 with (NotSupported) for options that are refused.
    let lines: Vec<(Vec<&str>, i32)> = vec![
        (
            vec![
                "keyvault",
                "create",
                "-n",
                "kv1",
                "-g",
                "rg",
                "-l",
                "eastus",
                "--sku",
                "standard",
                "--enable-rbac-authorization",
                "false",
                "--public-network-access",
                "Disabled",
                "--enabled-for-disk-encryption",
                "true",
                "--tags",
                "env=test",
                "team=storage",
                "--no-self-perms",
                "--enable-purge-protection",
                "true",
            ],
            0,
        ),
        (
            vec!["keyvault", "update", "-n", "kv1", "--set", "tags.stage=2"],
            0,
        ),
        (
            vec![
                "keyvault",
                "set-policy",
                "-n",
                "kv1",
                "--object-id",
                &me,
                "--key-permissions",
                "all",
                "--secret-permissions",
                "get",
                "list",
                "--certificate-permissions",
                "get",
                "--application-id",
                "11111111-2222-3333-4444-555555555555",
            ],
            0,
        ),
        (
            vec![
                "keyvault",
                "key",
                "create",
                "--vault-name",
                "kv1",
                "-n",
                "k1",
                "-p",
                "software",
                "--ops",
                "encrypt",
                "decrypt",
                "wrapKey",
                "unwrapKey",
                "--disabled",
                "false",
                "--expires",
                "2099-01-01T00:00:00Z",
                "--not-before",
                "2020-01-01T00:00:00Z",
                "--tags",
                "purpose=disks",
                "--exportable",
                "false",
            ],
            0,
        ),
        (
            vec![
                "keyvault",
                "key",
                "create",
                "--vault-name",
                "kv1",
                "-n",
                "k2",
                "--curve",
                "P-256",
            ],
            1,
        ),
        (
            vec![
                "keyvault",
                "key",
                "import",
                "--vault-name",
                "kv1",
                "-n",
                "imp",
                "--pem-string",
                &pem,
            ],
            0,
        ),
        (
            vec![
                "keyvault",
                "key",
                "import",
                "--vault-name",
                "kv1",
                "-n",
                "imp2",
                "--pem-string",
                &pem,
                "--pem-password",
                "secret",
            ],
            1,
        ),
        (
            vec![
                "keyvault",
                "key",
                "list",
                "--vault-name",
                "kv1",
                "--maxresults",
                "1",
            ],
            0,
        ),
        (
            vec![
                "keyvault",
                "key",
                "list",
                "--id",
                "https://kv1.vault.azure.net",
                "--maxresults",
                "5",
            ],
            0,
        ),
        (
            vec![
                "keyvault",
                "key",
                "list-versions",
                "--vault-name",
                "kv1",
                "-n",
                "k1",
                "--maxresults",
                "1",
            ],
            0,
        ),
        (
            vec![
                "disk",
                "create",
                "-n",
                "d1",
                "-g",
                "rg",
                "--size-gb",
                "1",
                "--tags",
                "a=b",
                "--zone",
                "1",
                "--os-type",
                "Linux",
                "--hyper-v-generation",
                "V2",
                "--max-shares",
                "1",
                "--tier",
                "P4",
                "--network-access-policy",
                "AllowAll",
            ],
            0,
        ),
        (
            vec![
                "snapshot",
                "create",
                "-n",
                "s1",
                "-g",
                "rg",
                "--source",
                "d1",
                "--size-gb",
                "1",
                "--incremental",
                "true",
                "--tags",
                "a=b",
            ],
            0,
        ),
        (vec!["disk", "list", "--max-items", "1"], 0),
        (
            vec![
                "keyvault", "create", "-n", "kv2", "-g", "rg", "-l", "eastus",
            ],
            0,
        ),
        (vec!["keyvault", "delete", "-n", "kv2"], 0),
        (
            vec!["keyvault", "recover", "-n", "kv2", "--location", "eastus"],
            0,
        ),
        (vec!["keyvault", "delete", "-n", "kv2"], 0),
        (
            vec!["keyvault", "purge", "-n", "kv2", "--location", "eastus"],
            0,
        ),
        // `disk delete --ids` belongs to the --ids work of the same issue (branch "help"),
        // not to this branch: it is tested there.
    ];
    for (args, code) in &lines {
        let r = env.run(args);
        not_a_usage_error(args, &r);
        assert_eq!(r.code, *code, "ssefs {args:?}: {}{}", r.stdout, r.stderr);
        if *code == 1 {
            assert!(
                r.stderr.contains("(NotSupported)"),
                "{args:?}: {}",
                r.stderr
            );
        }
    }
    // The key lines that need a key URL.
    let kid = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv1",
        "-n",
        "k1",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    let version = kid.rsplit('/').next().unwrap().to_string();
    let shown = env.json(&[
        "keyvault", "key", "show", "--vault", "kv1", "-n", "k1", "-v", &version,
    ]);
    assert_eq!(shown["key"]["kid"], json!(kid));
    let versions = env.json(&["keyvault", "key", "list-versions", "--id", &kid]);
    assert_eq!(versions.as_array().unwrap().len(), 1);
    // The DES line of the issue, with the set's identity granted access.
    let vault_id = env.ok(&[
        "keyvault", "show", "-n", "kv1", "--query", "id", "-o", "tsv",
    ]);
    let args = [
        "disk-encryption-set",
        "create",
        "-n",
        "des1",
        "-g",
        "rg",
        "--key-url",
        &kid,
        "--source-vault",
        &vault_id,
        "--encryption-type",
        "EncryptionAtRestWithCustomerKey",
        "--mi-system-assigned",
        "--mi-user-assigned",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
        "--federated-client-id",
        "fed-1",
        "--tags",
        "x=y",
    ];
    let r = env.run(&args);
    not_a_usage_error(&args, &r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let des: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(des["tags"], json!({"x": "y"}));
    assert_eq!(des["federatedClientId"], json!("fed-1"));
    assert_eq!(
        des["identity"]["type"],
        json!("SystemAssigned, UserAssigned")
    );
    assert_eq!(des["activeKey"]["sourceVault"]["id"], json!(vault_id));
}

#[test]
fn options_without_local_meaning_are_refused_as_not_supported() {
    let env = Env::new();
    env.ok(&[
        "keyvault", "create", "-n", "kvx", "-g", "rg", "-l", "eastus", "-o", "none",
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
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "keyvault",
                "create",
                "-n",
                "kv2",
                "-g",
                "rg",
                "--hsm-name",
                "h",
            ],
            "--hsm-name",
        ),
        (
            &["keyvault", "show", "-n", "kvx", "--hsm-name", "h"],
            "--hsm-name",
        ),
        (
            &[
                "keyvault",
                "set-policy",
                "-n",
                "kvx",
                "--upn",
                "a@b",
                "--key-permissions",
                "get",
            ],
            "--upn",
        ),
        (
            &[
                "keyvault",
                "key",
                "create",
                "--vault-name",
                "kvx",
                "-n",
                "k",
                "--exportable",
            ],
            "--exportable",
        ),
        (
            &[
                "keyvault",
                "key",
                "create",
                "--vault-name",
                "kvx",
                "-n",
                "k",
                "--default-policy",
            ],
            "--default-policy",
        ),
        (
            &[
                "keyvault",
                "key",
                "import",
                "--vault-name",
                "kvx",
                "-n",
                "k",
                "--byok-file",
                "x.byok",
            ],
            "--byok-file",
        ),
        (
            &[
                "disk",
                "create",
                "-n",
                "d2",
                "-g",
                "rg",
                "--size-gb",
                "1",
                "--upload-type",
                "Upload",
            ],
            "--upload-type",
        ),
        (
            &[
                "disk",
                "create",
                "-n",
                "d2",
                "-g",
                "rg",
                "--size-gb",
                "1",
                "--security-type",
                "TrustedLaunch",
            ],
            "--security-type",
        ),
        (
            &[
                "disk",
                "update",
                "-n",
                "d",
                "-g",
                "rg",
                "--set",
                "encryption.type=EncryptionAtRestWithPlatformKey",
            ],
            "encryption.type",
        ),
        (
            &[
                "disk", "update", "-n", "d", "-g", "rg", "--add", "zones", "2",
            ],
            "--add",
        ),
        (&["disk", "list", "--next-token", "x"], "--next-token"),
        (
            &[
                "snapshot",
                "create",
                "-n",
                "s",
                "-g",
                "rg",
                "--source",
                "d",
                "--copy-start",
            ],
            "--copy-start",
        ),
        (
            &[
                "disk",
                "grant-access",
                "-n",
                "d",
                "-g",
                "rg",
                "--access-level",
                "Read",
                "--duration-in-seconds",
                "60",
                "--secure-vm-guest-state-sas",
            ],
            "--secure-vm-guest-state-sas",
        ),
        (
            &[
                "image",
                "create",
                "-n",
                "i",
                "-g",
                "rg",
                "--source",
                "d",
                "--data-disk-sources",
                "d",
            ],
            "--data-disk-sources",
        ),
        (
            &[
                "keyvault",
                "key",
                "encrypt",
                "--vault-name",
                "kvx",
                "-n",
                "k",
                "--algorithm",
                "RSA1_5",
                "--value",
                "aGk=",
            ],
            "RSA1_5",
        ),
        (
            &[
                "group",
                "delete",
                "-n",
                "rg",
                "--yes",
                "--force-deletion-types",
                "Microsoft.Compute/virtualMachines",
            ],
            "--force-deletion-types",
        ),
        (
            &[
                "vm",
                "create",
                "-g",
                "rg",
                "-n",
                "vmx",
                "--image",
                "UbuntuLTS",
                "--priority",
                "Spot",
            ],
            "--priority",
        ),
        (
            &[
                "vmss",
                "create",
                "-g",
                "rg",
                "-n",
                "ssx",
                "--image",
                "UbuntuLTS",
                "--ephemeral-os-disk",
            ],
            "--ephemeral-os-disk",
        ),
    ];
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kvx",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    for (args, option) in cases {
        let r = env.run(args);
        not_a_usage_error(args, &r);
        assert_eq!(r.code, 1, "ssefs {args:?}: {}{}", r.stdout, r.stderr);
        let line = r.stderr.trim_end().lines().last().unwrap_or_default();
        assert!(
            line.starts_with("(NotSupported) ") && line.contains(option),
            "ssefs {args:?}: {line}"
        );
    }
    // Nothing was changed by a refused command.
    assert_eq!(env.run(&["disk", "show", "-n", "d2", "-g", "rg"]).code, 3);
    assert_eq!(env.run(&["keyvault", "show", "-n", "kv2"]).code, 3);
    assert_eq!(env.run(&["group", "show", "-n", "rg"]).code, 0);
}

#[test]
fn tags_are_stored_and_shown_on_every_resource_type() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kvt", "kt", "dest", "eastus");
    let tags = || vec!["--tags", "env=test", "owner=me"];
    let want = json!({"env": "test", "owner": "me"});
    let with = |base: &[&str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(tags().into_iter().map(String::from))
            .collect()
    };
    let run = |args: Vec<String>| -> Value {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        env.json(&refs)
    };
    // Create with --tags: shown by create and by show.
    run(with(&[
        "keyvault", "create", "-n", "kv2", "-g", "rg", "-l", "eastus",
    ]));
    assert_eq!(env.json(&["keyvault", "show", "-n", "kv2"])["tags"], want);
    run(with(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv2",
        "-n",
        "k",
    ]));
    assert_eq!(
        env.json(&["keyvault", "key", "show", "--vault-name", "kv2", "-n", "k"])["tags"],
        want
    );
    assert_eq!(
        env.json(&["keyvault", "key", "list", "--vault-name", "kv2"])[0]["tags"],
        want
    );
    run(with(&[
        "disk-encryption-set",
        "create",
        "-n",
        "des2",
        "-g",
        "rg",
        "--key-url",
        &cmk.key_url,
    ]));
    assert_eq!(
        env.json(&["disk-encryption-set", "show", "-n", "des2", "-g", "rg"])["tags"],
        want
    );
    let disk = run(with(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
    ]));
    assert_eq!(disk["tags"], want);
    assert_eq!(
        env.json(&["disk", "show", "-n", "d", "-g", "rg"])["tags"],
        want
    );
    assert_eq!(env.json(&["disk", "list"])[0]["tags"], want);
    run(with(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d",
    ]));
    assert_eq!(
        env.json(&["snapshot", "show", "-n", "s", "-g", "rg"])["tags"],
        want
    );
    run(with(&[
        "image", "create", "-n", "i", "-g", "rg", "--source", "d",
    ]));
    assert_eq!(
        env.json(&["image", "show", "-n", "i", "-g", "rg"])["tags"],
        want
    );
    run(with(&["group", "create", "-n", "rg2", "-l", "eastus"]));
    assert_eq!(env.json(&["group", "show", "-n", "rg2"])["tags"], want);
    // Nothing else got tags.
    assert_eq!(
        env.json(&["keyvault", "show", "-n", "kvt"])["tags"],
        json!({})
    );
    assert_eq!(
        env.json(&["keyvault", "key", "show", "--vault-name", "kvt", "-n", "kt"])["tags"],
        Value::Null
    );

    // Updates: --set tags.K=V adds, --remove tags.K removes, --tags replaces, --tags "" clears.
    let d = env.json(&[
        "disk",
        "update",
        "-n",
        "d",
        "-g",
        "rg",
        "--set",
        "tags.stage=2",
        "--remove",
        "tags.owner",
    ]);
    assert_eq!(d["tags"], json!({"env": "test", "stage": "2"}));
    let s = env.json(&[
        "snapshot", "update", "-n", "s", "-g", "rg", "--set", "tags.x=1",
    ]);
    assert_eq!(s["tags"]["x"], json!("1"));
    let v = env.json(&["keyvault", "update", "-n", "kv2", "--set", "tags.a=1"]);
    assert_eq!(v["tags"]["a"], json!("1"));
    let des = env.json(&[
        "disk-encryption-set",
        "update",
        "-n",
        "des2",
        "-g",
        "rg",
        "--set",
        "tags.a=1",
    ]);
    assert_eq!(des["tags"]["a"], json!("1"));
    let i = env.json(&[
        "image",
        "update",
        "-n",
        "i",
        "-g",
        "rg",
        "--tags",
        "only=this",
    ]);
    assert_eq!(i["tags"], json!({"only": "this"}));
    let g = env.json(&["group", "update", "-n", "rg2", "--set", "tags.b=2"]);
    assert_eq!(g["tags"]["b"], json!("2"));
    let k = env.json(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv2",
        "-n",
        "k",
        "--tags",
        "new=1",
    ]);
    assert_eq!(k["tags"], json!({"new": "1"}));
    let i = env.json(&["image", "update", "-n", "i", "-g", "rg", "--tags", ""]);
    assert_eq!(i["tags"], json!({}));
    // Tags survive in the record: a fresh process reads them back.
    assert_eq!(
        env.json(&["disk", "show", "-n", "d", "-g", "rg"])["tags"]["stage"],
        json!("2")
    );
}

#[test]
fn recorded_settings_are_shown_where_az_shows_them() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kvr", "kr", "desr", "eastus");
    let vault = env.json(&["keyvault", "show", "-n", "kvr"]);
    assert_eq!(vault["properties"]["publicNetworkAccess"], json!("Enabled"));
    let vault = env.json(&[
        "keyvault",
        "update",
        "-n",
        "kvr",
        "--public-network-access",
        "disabled",
        "--bypass",
        "AzureServices",
        "--default-action",
        "deny",
    ]);
    assert_eq!(
        vault["properties"]["publicNetworkAccess"],
        json!("Disabled")
    );
    assert_eq!(
        vault["properties"]["networkAcls"]["defaultAction"],
        json!("Deny")
    );
    // activeKey.sourceVault stays null when --source-vault was not given.
    let des = env.json(&[
        "disk-encryption-set",
        "create",
        "-n",
        "nosv",
        "-g",
        "rg",
        "--key-url",
        &cmk.key_url,
    ]);
    assert_eq!(des["activeKey"]["sourceVault"], Value::Null);
    let disk = env.json(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--zone",
        "3",
        "--os-type",
        "windows",
        "--hyper-v-generation",
        "V2",
        "--max-shares",
        "2",
        "--tier",
        "P10",
        "--network-access-policy",
        "DenyAll",
        "--public-network-access",
        "Disabled",
    ]);
    assert_eq!(disk["zones"], json!(["3"]));
    assert_eq!(disk["osType"], json!("Windows"));
    assert_eq!(disk["hyperVGeneration"], json!("V2"));
    assert_eq!(disk["maxShares"], json!(2));
    assert_eq!(disk["tier"], json!("P10"));
    assert_eq!(disk["networkAccessPolicy"], json!("DenyAll"));
    assert_eq!(disk["publicNetworkAccess"], json!("Disabled"));
    let d = env.json(&[
        "disk",
        "update",
        "-n",
        "d",
        "-g",
        "rg",
        "--network-access-policy",
        "AllowAll",
    ]);
    assert_eq!(d["networkAccessPolicy"], json!("AllowAll"));
    let snap = env.json(&[
        "snapshot",
        "create",
        "-n",
        "s",
        "-g",
        "rg",
        "--source",
        "d",
        "--incremental",
    ]);
    assert_eq!(snap["completionPercent"], json!(100));
    assert_eq!(snap["incremental"], json!(true));
    // --size-gb has its local meaning: a larger snapshot than its source.
    let big = env.json(&[
        "snapshot",
        "create",
        "-n",
        "s2",
        "-g",
        "rg",
        "--source",
        "d",
        "--size-gb",
        "2",
    ]);
    assert_eq!(big["diskSizeGB"], json!(2));
    let r = env.run(&[
        "snapshot",
        "create",
        "-n",
        "s3",
        "-g",
        "rg",
        "--source",
        "big",
        "--size-gb",
        "0",
    ]);
    assert_ne!(r.code, 0);
}

#[test]
fn grant_access_exports_the_plaintext_file_and_blocks_changes_until_revoked() {
    let env = Env::new();
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
    let grant = env.json(&[
        "disk",
        "grant-access",
        "-n",
        "d",
        "-g",
        "rg",
        "--access-level",
        "Read",
        "--duration-in-seconds",
        "3600",
    ]);
    let path = grant["accessSas"].as_str().expect("accessSas");
    let mut mnt = env.store().into_os_string();
    mnt.push(".mnt");
    assert_eq!(
        PathBuf::from(path),
        PathBuf::from(mnt).join("disks").join("d")
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "d",
            "-g",
            "rg",
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "ActiveSAS"
    );
    env.fails(
        &["disk", "update", "-n", "d", "-g", "rg", "--size-gb", "2"],
        1,
        "ActiveSAS",
    );
    env.fails(
        &["disk", "delete", "-n", "d", "-g", "rg", "--yes"],
        1,
        "revoke-access",
    );
    assert_eq!(
        env.ok(&["disk", "revoke-access", "-n", "d", "-g", "rg"]),
        ""
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "d",
            "-g",
            "rg",
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "Unattached"
    );
    env.ok(&[
        "disk",
        "update",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "2",
        "-o",
        "none",
    ]);
    // Snapshots are read-only: no Write access.
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);
    env.fails(
        &[
            "snapshot",
            "grant-access",
            "-n",
            "s",
            "-g",
            "rg",
            "--access-level",
            "Write",
            "--duration-in-seconds",
            "60",
        ],
        1,
        "read-only",
    );
    // An export ends by itself at the end of its duration (the test clock moves past it).
    env.ok(&["config", "set", "test-clock", "true"]);
    let mut env = env;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    env.extra_env = vec![("SSEFS_NOW".into(), now.to_string())];
    env.ok(&[
        "disk",
        "grant-access",
        "-n",
        "d",
        "-g",
        "rg",
        "--access-level",
        "Write",
        "--duration-in-seconds",
        "60",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "d",
            "-g",
            "rg",
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "ActiveSAS"
    );
    env.extra_env = vec![("SSEFS_NOW".into(), (now + 61).to_string())];
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "d",
            "-g",
            "rg",
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "Unattached"
    );
    env.ok(&[
        "disk",
        "update",
        "-n",
        "d",
        "-g",
        "rg",
        "--sku",
        "Premium_LRS",
        "-o",
        "none",
    ]);
}

#[test]
fn snapshot_update_changes_sku_but_not_the_key() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kvs", "ks", "dess", "eastus");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--disk-encryption-set",
        &cmk.des_id,
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);
    let s = env.json(&[
        "snapshot",
        "update",
        "-n",
        "s",
        "-g",
        "rg",
        "--sku",
        "Premium_LRS",
    ]);
    assert_eq!(s["sku"]["name"], json!("Premium_LRS"));
    // The same set again is accepted; the platform key is refused (same-key rule).
    env.ok(&[
        "snapshot",
        "update",
        "-n",
        "s",
        "-g",
        "rg",
        "--disk-encryption-set",
        &cmk.des_id,
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "snapshot",
            "update",
            "-n",
            "s",
            "-g",
            "rg",
            "--encryption-type",
            "EncryptionAtRestWithPlatformKey",
        ],
        1,
        "must keep the key of its source",
    );
    env.fails(
        &[
            "snapshot",
            "update",
            "-n",
            "s",
            "-g",
            "rg",
            "--sku",
            "UltraSSD_LRS",
        ],
        2,
        "--sku",
    );
}

#[test]
fn list_deleted_and_location_of_deleted_vaults() {
    let env = Env::new();
    env.ok(&[
        "keyvault", "create", "-n", "kvd", "-g", "rg", "-l", "westus", "-o", "none",
    ]);
    assert_eq!(env.json(&["keyvault", "list-deleted"]), json!([]));
    assert_eq!(env.ok(&["keyvault", "delete", "-n", "kvd"]), "");
    let deleted = env.json(&["keyvault", "list-deleted"]);
    assert_eq!(deleted[0]["name"], json!("kvd"));
    assert_eq!(
        deleted[0]["type"],
        json!("Microsoft.KeyVault/deletedVaults")
    );
    assert_eq!(
        env.json(&["keyvault", "show-deleted", "-n", "kvd"])["type"],
        json!("Microsoft.KeyVault/deletedVaults")
    );
    assert_eq!(
        env.json(&["keyvault", "list-deleted", "--resource-type", "hsm"]),
        json!([])
    );
    env.fails(
        &["keyvault", "recover", "-n", "kvd", "--location", "eastus"],
        3,
        "eastus",
    );
    env.ok(&[
        "keyvault",
        "recover",
        "-n",
        "kvd",
        "--location",
        "westus",
        "-o",
        "none",
    ]);
    assert_eq!(env.json(&["keyvault", "list-deleted"]), json!([]));
}

#[test]
fn des_identity_assign_remove_show() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kvi", "ki", "desi", "eastus");
    let id1 = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/one";
    let shown = env.json(&[
        "disk-encryption-set",
        "identity",
        "show",
        "-n",
        "desi",
        "-g",
        "rg",
    ]);
    assert_eq!(shown["type"], json!("SystemAssigned"));
    assert_eq!(shown["principalId"], json!(cmk.principal));
    let assigned = env.json(&[
        "disk-encryption-set",
        "identity",
        "assign",
        "-n",
        "desi",
        "-g",
        "rg",
        "--user-assigned",
        id1,
    ]);
    assert_eq!(assigned["type"], json!("SystemAssigned, UserAssigned"));
    assert!(assigned["userAssignedIdentities"][id1]["principalId"].is_string());
    env.fails(
        &[
            "disk-encryption-set",
            "identity",
            "assign",
            "-n",
            "desi",
            "-g",
            "rg",
            "--user-assigned",
            "not-an-id",
        ],
        2,
        "user-assigned",
    );
    env.fails(
        &[
            "disk-encryption-set",
            "identity",
            "remove",
            "-n",
            "desi",
            "-g",
            "rg",
            "--system-assigned",
        ],
        1,
        "(NotSupported)",
    );
    let removed = env.json(&[
        "disk-encryption-set",
        "identity",
        "remove",
        "-n",
        "desi",
        "-g",
        "rg",
        "--user-assigned",
        id1,
        "--yes",
    ]);
    assert_eq!(removed["type"], json!("SystemAssigned"));
    assert_eq!(removed["userAssignedIdentities"], Value::Null);
    // The set still works: a disk can use it.
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--disk-encryption-set",
        &cmk.des_id,
        "-o",
        "none",
    ]);
}

#[test]
fn key_encrypt_decrypt_round_trip_ops_and_permissions() {
    let env = Env::new();
    env.ok(&[
        "keyvault", "create", "-n", "kve", "-g", "rg", "-l", "eastus", "-o", "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kve",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let enc = env.json(&[
        "keyvault",
        "key",
        "encrypt",
        "--vault-name",
        "kve",
        "-n",
        "k",
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        "c2VjcmV0IGRhdGE=",
    ]);
    let kid = enc["kid"].as_str().unwrap().to_string();
    assert!(kid.starts_with("https://kve.vault.azure.net/keys/k/"));
    assert_eq!(enc["algorithm"], json!("RSA-OAEP-256"));
    assert_eq!(enc["iv"], Value::Null);
    let cipher = enc["result"].as_str().unwrap().to_string();
    assert_ne!(cipher, "c2VjcmV0IGRhdGE=");
    let dec = env.json(&[
        "keyvault",
        "key",
        "decrypt",
        "--id",
        &kid,
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        &cipher,
    ]);
    assert_eq!(
        dec,
        json!({"algorithm": "RSA-OAEP-256", "kid": kid, "result": "c2VjcmV0IGRhdGE="})
    );
    let text = env.ok(&[
        "keyvault",
        "key",
        "decrypt",
        "--vault-name",
        "kve",
        "-n",
        "k",
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        &cipher,
        "--data-type",
        "plaintext",
        "--query",
        "result",
        "-o",
        "tsv",
    ]);
    assert_eq!(text, "secret data");
    // --data-type plaintext on encrypt takes the text itself.
    let c2 = env.ok(&[
        "keyvault",
        "key",
        "encrypt",
        "--vault-name",
        "kve",
        "-n",
        "k",
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        "hello",
        "--data-type",
        "plaintext",
        "--query",
        "result",
        "-o",
        "tsv",
    ]);
    let back = env.ok(&[
        "keyvault",
        "key",
        "decrypt",
        "--vault-name",
        "kve",
        "-n",
        "k",
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        &c2,
        "--data-type",
        "plaintext",
        "--query",
        "result",
        "-o",
        "tsv",
    ]);
    assert_eq!(back, "hello");
    // A key whose --ops exclude encrypt refuses it.
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kve",
        "-n",
        "wraponly",
        "--ops",
        "wrapKey",
        "unwrapKey",
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "keyvault",
            "key",
            "encrypt",
            "--vault-name",
            "kve",
            "-n",
            "wraponly",
            "--algorithm",
            "RSA-OAEP-256",
            "--value",
            "aGk=",
        ],
        1,
        "not permitted",
    );
    // Access policy: without the encrypt/decrypt permissions the caller is refused.
    let me = user_object_id(&env);
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kve",
        "--object-id",
        &me,
        "--key-permissions",
        "get",
        "list",
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "keyvault",
            "key",
            "encrypt",
            "--vault-name",
            "kve",
            "-n",
            "k",
            "--algorithm",
            "RSA-OAEP-256",
            "--value",
            "aGk=",
        ],
        1,
        "encrypt",
    );
    env.fails(
        &[
            "keyvault",
            "key",
            "decrypt",
            "--vault-name",
            "kve",
            "-n",
            "k",
            "--algorithm",
            "RSA-OAEP-256",
            "--value",
            &cipher,
        ],
        1,
        "decrypt",
    );
    let audit = env.ok(&["keyvault", "audit", "-n", "kve"]);
    assert!(
        audit.contains("Encrypt") && audit.contains("Forbidden"),
        "{audit}"
    );
}

#[test]
fn unique_prefixes_of_long_options_are_accepted_ambiguous_ones_are_not() {
    let env = Env::new();
    env.ok(&[
        "keyvault",
        "create",
        "--na",
        "kvp",
        "--resource",
        "rg",
        "--loc",
        "eastus",
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault", "key", "create", "--vault", "kvp", "-n", "k", "-o", "none",
    ]);
    assert_eq!(
        env.ok(&[
            "keyvault", "key", "show", "--vault", "kvp", "--na", "k", "--que", "name", "-o", "tsv"
        ]),
        "k"
    );
    env.ok(&[
        "disk", "create", "-n", "d", "-g", "rg", "--size", "1", "-o", "none",
    ]);
    // --s is a prefix of --size-gb, --sku, --source, --store, --set ...: a usage error.
    let r = env.run(&["disk", "create", "-n", "d2", "-g", "rg", "--s", "1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn no_wait_prints_nothing_and_the_work_is_done() {
    let env = Env::new();
    let r = env.run(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--no-wait",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert_eq!(
        env.ok(&[
            "disk", "show", "-n", "d", "-g", "rg", "--query", "name", "-o", "tsv"
        ]),
        "d"
    );
    assert_eq!(
        env.ok(&["keyvault", "create", "-n", "kvw", "-g", "rg", "--no-wait"]),
        ""
    );
    assert_eq!(
        env.ok(&["keyvault", "delete", "-n", "kvw", "--no-wait"]),
        ""
    );
    assert_eq!(
        env.json(&["keyvault", "list-deleted"])[0]["name"],
        json!("kvw")
    );
    // Errors still print.
    env.fails(
        &[
            "disk",
            "delete",
            "-n",
            "nope",
            "-g",
            "rg",
            "--yes",
            "--no-wait",
        ],
        3,
        "nope",
    );
}

#[test]
fn max_items_cuts_listings() {
    let env = Env::new();
    for d in ["a", "b", "c"] {
        env.ok(&[
            "disk",
            "create",
            "-n",
            d,
            "-g",
            "rg",
            "--size-gb",
            "1",
            "-o",
            "none",
        ]);
    }
    assert_eq!(env.json(&["disk", "list"]).as_array().unwrap().len(), 3);
    assert_eq!(
        env.json(&["disk", "list", "--max-items", "2"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    env.ok(&["keyvault", "create", "-n", "kvm", "-g", "rg", "-o", "none"]);
    for k in ["k1", "k2"] {
        env.ok(&[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kvm",
            "-n",
            k,
            "-o",
            "none",
        ]);
    }
    assert_eq!(
        env.json(&[
            "keyvault",
            "key",
            "list",
            "--vault-name",
            "kvm",
            "--maxresults",
            "1"
        ])
        .as_array()
        .unwrap()
        .len(),
        1
    );
}

/// VMs and scale sets take `--tags` too; they run under the mount, with a script standing in
/// for qemu (as in cli_vms.rs). Needs root and /dev/fuse.
#[test]
fn vm_and_vmss_tags() {
    let env = Env::new();
    let mnt = env.dir.path().join("mnt");
    let runner = env.dir.path().join("runner.sh");
    std::fs::write(
        &runner,
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.ok(&["group", "create", "-n", "rg", "-l", "eastus", "-o", "none"]);
    env.ok(&["config", "set", "mount-point", mnt.to_str().unwrap()]);
    env.ok(&[
        "config",
        "set",
        "vm.runner",
        &format!("{} {{name}}", runner.display()),
    ]);
    struct Unmount<'a>(&'a Env, PathBuf);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = self
                .0
                .run(&["unmount", self.1.to_str().unwrap_or_default()]);
        }
    }
    let _unmount = Unmount(&env, mnt.clone());
    env.ok(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "vm1",
        "--image",
        "UbuntuLTS",
        "--generate-ssh-keys",
        "--tags",
        "role=web",
        "tier=1",
        "--zone",
        "1",
        "--computer-name",
        "web1",
        "--accelerated-networking",
        "true",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.json(&["vm", "show", "-g", "rg", "-n", "vm1"])["tags"],
        json!({"role": "web", "tier": "1"})
    );
    let set = env.json(&[
        "vmss",
        "create",
        "-g",
        "rg",
        "-n",
        "ss1",
        "--image",
        "UbuntuLTS",
        "--instance-count",
        "1",
        "--generate-ssh-keys",
        "--tags",
        "role=batch",
        "--zones",
        "1",
        "2",
        "--orchestration-mode",
        "Uniform",
    ]);
    assert_eq!(set["tags"], json!({"role": "batch"}));
    assert_eq!(
        env.json(&["vmss", "show", "-g", "rg", "-n", "ss1"])["tags"],
        json!({"role": "batch"})
    );
}

#[test]
fn set_paths_with_a_local_meaning_go_to_their_options() {
    let env = Env::new();
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
    let d = env.json(&[
        "disk",
        "update",
        "-n",
        "d",
        "-g",
        "rg",
        "--set",
        "diskSizeGB=2",
        "sku.name=Premium_LRS",
    ]);
    assert_eq!(d["diskSizeGB"], json!(2));
    assert_eq!(d["sku"]["name"], json!("Premium_LRS"));
    env.ok(&[
        "keyvault", "create", "-n", "kvset", "-g", "rg", "-o", "none",
    ]);
    let v = env.json(&[
        "keyvault",
        "update",
        "-n",
        "kvset",
        "--set",
        "properties.enablePurgeProtection=true",
        "properties.softDeleteRetentionInDays=30",
    ]);
    assert_eq!(v["properties"]["enablePurgeProtection"], json!(true));
    assert_eq!(v["properties"]["softDeleteRetentionInDays"], json!(30));
    // The rule still holds through --set: purge protection cannot be turned off.
    env.fails(
        &[
            "keyvault",
            "update",
            "-n",
            "kvset",
            "--set",
            "properties.enablePurgeProtection=false",
        ],
        1,
        "cannot be turned off",
    );
    env.fails(
        &[
            "keyvault",
            "update",
            "-n",
            "kvset",
            "--set",
            "properties.enableSoftDelete=false",
        ],
        1,
        "soft delete",
    );
}

#[test]
fn subscription_is_honoured_for_the_current_one_and_refused_for_another() {
    let env = Env::new();
    env.ok(&["group", "create", "-n", "rg", "-l", "eastus", "-o", "none"]);
    let id = env.ok(&["account", "show", "--query", "id", "-o", "tsv"]);
    let name = env.ok(&["account", "show", "--query", "name", "-o", "tsv"]);
    // The current subscription, by id or by name: the command runs.
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d1",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--subscription",
        &id,
        "-o",
        "none",
    ]);
    env.ok(&[
        "disk",
        "show",
        "-n",
        "d1",
        "-g",
        "rg",
        "--subscription",
        &name,
        "-o",
        "none",
    ]);
    env.ok(&["keyvault", "list", "--subscription", &id, "-o", "none"]);
    // Another known subscription: not supported, naming the option; nothing done.
    env.ok(&[
        "account",
        "set",
        "--subscription",
        "11111111-2222-3333-4444-555555555555",
        "-o",
        "none",
    ]);
    let msg = env.fails(
        &[
            "disk",
            "create",
            "-n",
            "d2",
            "-g",
            "rg",
            "--size-gb",
            "1",
            "--subscription",
            &id,
        ],
        1,
        "(NotSupported) --subscription",
    );
    assert!(msg.contains("account set"), "{msg}");
    env.ok(&["account", "set", "--subscription", &id, "-o", "none"]);
    env.fails(&["disk", "show", "-n", "d2", "-g", "rg"], 3, "");
    // An unknown one: az's error.
    env.fails(
        &["disk", "list", "--subscription", "no-such-sub"],
        1,
        "doesn't exist in cloud 'AzureCloud'",
    );
    // `account set --subscription` keeps its own meaning.
    env.ok(&["account", "set", "--subscription", &name, "-o", "none"]);
}

#[test]
fn key_commands_take_the_keys_id() {
    let env = Env::new();
    env.ok(&["group", "create", "-n", "rg", "-l", "eastus", "-o", "none"]);
    env.ok(&[
        "keyvault", "create", "-n", "kvid1", "-g", "rg", "-o", "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kvid1",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let kid = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kvid1",
        "-n",
        "k",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    let base = "https://kvid1.vault.azure.net/keys/k";
    assert_eq!(
        env.ok(&[
            "keyvault",
            "key",
            "set-attributes",
            "--id",
            &kid,
            "--enabled",
            "false",
            "--query",
            "attributes.enabled",
            "-o",
            "tsv"
        ]),
        "False"
    );
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--id",
        base,
        "--enabled",
        "true",
        "-o",
        "none",
    ]);
    env.ok(&["keyvault", "key", "rotate", "--id", base, "-o", "none"]);
    env.ok(&[
        "keyvault",
        "key",
        "rotation-policy",
        "show",
        "--id",
        &format!("{base}/rotationpolicy"),
        "-o",
        "none",
    ]);
    env.ok(&["keyvault", "key", "delete", "--id", base, "-o", "none"]);
    let deleted = "https://kvid1.vault.azure.net/deletedkeys/k";
    env.ok(&[
        "keyvault",
        "key",
        "show-deleted",
        "--id",
        deleted,
        "-o",
        "none",
    ]);
    env.ok(&["keyvault", "key", "recover", "--id", deleted, "-o", "none"]);
    env.ok(&["keyvault", "key", "show", "--id", base, "-o", "none"]);
}
