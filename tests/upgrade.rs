//! A store written by the first release opens with this one and passes `ssefs check`, with no
//! manual step: records without the fields added since (`pending`, `osType`,
//! `enableRbacAuthorization`) read unchanged, and everything keeps working on it (listing,
//! rotation, snapshots, the new commands).

mod common;

use std::path::Path;

use common::Env;

fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else if entry.file_name() != "README.md" {
            std::fs::copy(entry.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

/// Git keeps no sparse files: the fixture's data files were all holes; make them again.
fn recreate_data_files(store: &Path) {
    for kind in ["disks", "snapshots"] {
        for entry in std::fs::read_dir(store.join(kind)).unwrap() {
            let dir = entry.unwrap().path();
            let rec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("volume.json")).unwrap()).unwrap();
            let f = std::fs::File::create(dir.join("data")).unwrap();
            f.set_len(rec["sizeBytes"].as_u64().unwrap()).unwrap();
        }
    }
}

fn check(env: &Env) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ssefs"))
        .arg("check")
        .env("SSEFS_STORE", env.store())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "ssefs check failed:\n{text}");
    text
}

#[test]
fn a_first_release_store_opens_and_checks_clean() {
    let env = Env::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-0.1.0");
    copy_tree(&fixture, &env.store());
    recreate_data_files(&env.store());
    assert!(check(&env).contains("no problems found"));

    assert_eq!(
        env.ok(&["disk", "list", "--query", "[].name", "-o", "tsv"]),
        "cmk-old\npmk-old"
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "cmk-old",
            "-g",
            "rg-old",
            "--query",
            "encryption.type",
            "-o",
            "tsv"
        ]),
        "EncryptionAtRestWithCustomerKey"
    );
    assert_eq!(
        env.ok(&[
            "keyvault",
            "show",
            "-n",
            "kv-old",
            "--query",
            "properties.enableRbacAuthorization",
            "-o",
            "tsv"
        ]),
        "False"
    );
    // The old data keys still unwrap: copies and a rotation work on them.
    env.ok(&[
        "snapshot", "create", "-n", "snap-new", "-g", "rg-old", "--source", "cmk-old", "-o", "none",
    ]);
    env.ok(&[
        "image", "create", "-n", "img-new", "-g", "rg-old", "--source", "cmk-old", "-o", "none",
    ]);
    let url = env.ok(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kv-old",
        "-n",
        "k1",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    env.ok(&[
        "disk-encryption-set",
        "update",
        "-n",
        "des-old",
        "-g",
        "rg-old",
        "--key-url",
        &url,
        "-o",
        "none",
    ]);
    let after = check(&env);
    assert!(after.contains("no problems found"), "{after}");
    assert!(after.contains("2 snapshots"), "{after}");
}
