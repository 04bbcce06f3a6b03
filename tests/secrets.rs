//! No secret leaves its file: a whole workflow, run with --debug, prints no DEK (raw, hex or
//! base64) and no private-key material, and neither do the store's records and audit logs;
//! key files are 0600 and store directories 0700.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use common::{Env, cmk_setup};
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;

/// Unwraps a resource's DEK independently of ssefs' own types, from its record and the PEM of
/// the key that wrapped it (the test's way of knowing the secret it then searches for).
fn dek_of(store: &Path, rel: &str) -> Vec<u8> {
    let rec: Value =
        serde_json::from_slice(&std::fs::read(store.join(rel).join("volume.json")).unwrap())
            .unwrap();
    let pem_path = match rec["key"]["kek"]["type"].as_str().unwrap() {
        "platform" => store.join("platform-key.pem"),
        _ => {
            let url = rec["key"]["kek"]["keyUrl"].as_str().unwrap();
            let parts: Vec<&str> = url.split('/').collect();
            let vault = parts[2].split('.').next().unwrap();
            store.join(format!("vaults/{vault}/keys/{}/{}.pem", parts[4], parts[5]))
        }
    };
    let key = rsa::PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(pem_path).unwrap()).unwrap();
    let wrapped = Base64::decode_vec(rec["key"]["wrappedDek"].as_str().unwrap()).unwrap();
    let dek = key.oaep_decrypt::<rsa::sha2::Sha256>(&wrapped).unwrap();
    assert_eq!(dek.len(), 64);
    dek
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push(p.clone());
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_secret_in_output_records_or_logs_and_private_modes() {
    let env = Env::new();
    let mut transcript = Vec::new();
    let mut run = |args: &[&str]| {
        let mut with_debug = args.to_vec();
        with_debug.push("--debug");
        let r = env.run(&with_debug);
        transcript.extend_from_slice(r.stdout.as_bytes());
        transcript.extend_from_slice(r.stderr.as_bytes());
        r
    };
    let cmk = cmk_setup(&env, "kv-sec", "k", "des", "eastus");
    for args in [
        vec![
            "disk",
            "create",
            "-n",
            "cmk",
            "-g",
            "rg",
            "--disk-encryption-set",
            "des",
            "--size-gb",
            "1",
        ],
        vec!["disk", "create", "-n", "pmk", "-g", "rg", "--size-gb", "1"],
        vec![
            "snapshot", "create", "-n", "s", "-g", "rg", "--source", "cmk",
        ],
        vec![
            "keyvault",
            "key",
            "rotate",
            "--vault-name",
            "kv-sec",
            "-n",
            "k",
        ],
        vec![
            "keyvault",
            "key",
            "show",
            "--vault-name",
            "kv-sec",
            "-n",
            "k",
        ],
        vec!["keyvault", "audit", "-n", "kv-sec"],
        vec!["disk", "show", "-n", "cmk"],
        vec![
            "disk",
            "update",
            "-n",
            "cmk",
            "--encryption-type",
            "EncryptionAtRestWithPlatformKey",
        ],
        vec![
            "keyvault",
            "key",
            "import",
            "--vault-name",
            "kv-sec",
            "-n",
            "imp",
            "--pem-file",
            "/nonexistent",
        ],
    ] {
        run(&args);
    }
    let new_url = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-sec",
        "-n",
        "k",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    run(&[
        "disk-encryption-set",
        "update",
        "-n",
        "des",
        "--key-url",
        &new_url,
    ]);
    assert!(!cmk.principal.is_empty());

    // The secrets: every DEK (raw, hex, base64), and every private key's PEM body.
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for rel in ["disks/cmk", "disks/pmk", "snapshots/s"] {
        let raw = dek_of(&env.store(), rel);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = Base64::encode_string(&raw);
        secrets.push(raw[..16].to_vec());
        secrets.push(hex.as_bytes()[..32].to_vec());
        secrets.push(b64.as_bytes()[..24].to_vec());
    }
    let mut files = Vec::new();
    walk(&env.store(), &mut files);
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "pem"))
    {
        let pem = std::fs::read_to_string(f).unwrap();
        let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        // A line from the middle of the key (the start is a fixed ASN.1 header).
        secrets.push(body[body.len() / 2].as_bytes().to_vec());
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    assert!(secrets.len() >= 9 + 3);

    for secret in &secrets {
        assert!(!contains(&transcript, secret), "a secret was printed");
    }
    for f in &files {
        let meta = std::fs::metadata(f).unwrap();
        if meta.is_dir() {
            assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", f.display());
            continue;
        }
        let name = f.file_name().unwrap().to_string_lossy();
        if name == "data" || name.ends_with(".pem") {
            continue; // ciphertext, and the key files themselves
        }
        let bytes = std::fs::read(f).unwrap();
        for secret in &secrets {
            assert!(!contains(&bytes, secret), "a secret is in {}", f.display());
        }
    }
    assert_eq!(
        std::fs::metadata(env.store()).unwrap().permissions().mode() & 0o777,
        0o700
    );
}
