//! Key rotation policies and version dates through the command line: `rotation-policy
//! show|update` and every refusal, `--expires`/`--not-before`, rotations a policy makes due at
//! the start of a command (on the test clock), sets with auto-rotation following them without
//! touching a byte of ciphertext, and an expired version that wraps nothing but still unwraps.

mod common;

use std::io::Read;
use std::path::Path;

use common::{Cmk, Env, cmk_setup};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ssefs::ids::Kind;
use ssefs::service::Service;
use ssefs::volume::Volume;

const DAY: i64 = 86_400;
/// The vault service's object id, the caller of automatic rotations.
const VAULT_SERVICE: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

const POLICY_30D: &str = r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}},{"trigger":{"timeBeforeExpiry":"P7D"},"action":{"type":"Notify"}}],"attributes":{"expiryTime":"P90D"}}"#;

/// Runs `f` with `SSEFS_NOW` set to `now` for the commands it runs.
fn at<T>(env: &mut Env, now: i64, f: impl FnOnce(&Env) -> T) -> T {
    env.extra_env = vec![("SSEFS_NOW".into(), now.to_string())];
    let out = f(env);
    env.extra_env.clear();
    out
}

fn key_record(env: &Env, vault: &str, key: &str) -> Value {
    let path = env.path(&format!("vaults/{vault}/keys/{key}/key.json"));
    serde_json::from_slice(&common::file_bytes(&path)).unwrap()
}

fn versions(env: &Env, vault: &str, key: &str) -> Vec<Value> {
    key_record(env, vault, key)["versions"]
        .as_array()
        .unwrap()
        .clone()
}

fn disk_key_url(env: &Env, kind: &str, name: &str) -> String {
    let path = env.path(&format!("{kind}/{name}/volume.json"));
    let rec: Value = serde_json::from_slice(&common::file_bytes(&path)).unwrap();
    rec["key"]["kek"]["keyUrl"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn sha256_file(p: &Path) -> Vec<u8> {
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().to_vec()
}

/// Opens a volume through the library (an unwrap of its DEK, audited).
fn open(s: &Service, kind: Kind, name: &str, read_only: bool) -> ssefs::Result<Volume> {
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

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

/// Writes `data` at offset 0 of a disk, through the library.
fn write_disk(env: &Env, name: &str, data: &[u8]) {
    let s = Service::open(&env.store()).unwrap();
    let v = open(&s, Kind::Disk, name, false).unwrap();
    assert_eq!(v.write_at(data, 0).unwrap(), data.len());
    v.sync().unwrap();
}

fn read_disk(s: &Service, kind: Kind, name: &str, len: usize) -> ssefs::Result<Vec<u8>> {
    let v = open(s, kind, name, true)?;
    let mut buf = vec![0u8; len];
    assert_eq!(v.read_at(&mut buf, 0)?, len);
    Ok(buf)
}

fn policy_args<'a>(vault: &'a str, key: &'a str, value: &'a str) -> Vec<&'a str> {
    vec![
        "keyvault",
        "key",
        "rotation-policy",
        "update",
        "--vault-name",
        vault,
        "-n",
        key,
        "--value",
        value,
    ]
}

fn set_attrs<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv-dates",
        "-n",
        "k",
    ];
    args.extend_from_slice(flags);
    args
}

fn vault_and_key(env: &Env, vault: &str, key: &str, extra: &[&str]) {
    env.ok(&[
        "keyvault",
        "create",
        "-n",
        vault,
        "-g",
        "rg",
        "-l",
        "eastus",
        "--enable-purge-protection",
        "true",
        "-o",
        "none",
    ]);
    let mut args = vec![
        "keyvault",
        "key",
        "create",
        "--vault-name",
        vault,
        "-n",
        key,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "none"]);
    env.ok(&args);
}

#[test]
fn policy_update_and_show_round_trip_in_azs_shape() {
    let env = Env::new();
    vault_and_key(&env, "kv-pol", "k", &[]);
    let show = [
        "keyvault",
        "key",
        "rotation-policy",
        "show",
        "--vault-name",
        "kv-pol",
        "-n",
        "k",
    ];

    // No policy yet: Key Vault's default (notify 30 days before expiry), no dates.
    let default = env.json(&show);
    assert_eq!(
        default["id"],
        "https://kv-pol.vault.azure.net/keys/k/rotationpolicy"
    );
    assert_eq!(
        default["lifetimeActions"],
        json!([{"action": "Notify", "timeAfterCreate": null, "timeBeforeExpiry": "P30D"}])
    );
    assert_eq!(default["createdOn"], Value::Null);
    assert_eq!(default["attributes"]["expiryTime"], Value::Null);

    // The documented JSON, as a string.
    let set = env.json(&policy_args("kv-pol", "k", POLICY_30D));
    assert_eq!(set["expiresIn"], "P90D");
    assert_eq!(set["attributes"]["expiryTime"], "P90D");
    assert!(set["attributes"]["created"].is_i64());
    assert!(set["createdOn"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(set["lifetimeActions"][0]["action"], "Rotate");
    assert_eq!(set["lifetimeActions"][0]["timeAfterCreate"], "P30D");
    assert_eq!(set["lifetimeActions"][0]["timeBeforeExpiry"], Value::Null);
    assert_eq!(set["lifetimeActions"][1]["action"], "Notify");
    assert_eq!(set["lifetimeActions"][1]["timeBeforeExpiry"], "P7D");
    assert_eq!(env.json(&show), set);
    assert_eq!(
        env.ok(&[
            "keyvault",
            "key",
            "rotation-policy",
            "show",
            "--vault-name",
            "kv-pol",
            "-n",
            "k",
            "--query",
            "lifetimeActions[0].timeAfterCreate",
            "-o",
            "tsv"
        ]),
        "P30D"
    );

    // A file, as az takes it (a path, or @path), in az's snake_case test-file shape.
    let file = env.dir.path().join("policy.json");
    std::fs::write(
        &file,
        r#"{"lifetime_actions":[{"trigger":{"time_after_create":"P15D","time_before_expiry":null},"action":{"type":"Rotate"}},{"trigger":{"time_before_expiry":"P7D"},"action":{"type":"Notify"}}],"attributes":{"expires_in":"P30D"}}"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let from_file = env.json(&policy_args("kv-pol", "k", path));
    assert_eq!(from_file["lifetimeActions"][0]["timeAfterCreate"], "P15D");
    assert_eq!(from_file["expiresIn"], "P30D");
    // Updating keeps the policy's creation time.
    assert_eq!(from_file["createdOn"], set["createdOn"]);
    let at_file = format!("@{path}");
    env.ok(&policy_args("kv-pol", "k", &at_file));

    // show's own output goes back in unchanged (az's shape).
    std::fs::write(&file, env.ok(&show)).unwrap();
    let again = env.json(&policy_args("kv-pol", "k", path));
    assert_eq!(again["lifetimeActions"], from_file["lifetimeActions"]);
    assert_eq!(again["expiresIn"], "P30D");

    // Both operations are audited, with their own names.
    let audit = env.json(&["keyvault", "audit", "-n", "kv-pol"]);
    let ops: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert!(ops.contains(&"KeyRotationPolicyGet"), "{ops:?}");
    assert!(ops.contains(&"KeyRotationPolicySet"), "{ops:?}");

    // Their permissions are getrotationpolicy and setrotationpolicy.
    let me = env.ok(&["account", "show", "--query", "user.objectId", "-o", "tsv"]);
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kv-pol",
        "--object-id",
        &me,
        "--key-permissions",
        "get",
        "list",
        "getrotationpolicy",
        "-o",
        "none",
    ]);
    env.ok(&show);
    env.fails(
        &policy_args("kv-pol", "k", POLICY_30D),
        1,
        "setrotationpolicy",
    );
    env.ok(&[
        "keyvault",
        "set-policy",
        "-n",
        "kv-pol",
        "--object-id",
        &me,
        "--key-permissions",
        "get",
        "-o",
        "none",
    ]);
    env.fails(&show, 1, "getrotationpolicy");
    let audit = env.json(&["keyvault", "audit", "-n", "kv-pol"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"] == "KeyRotationPolicySet"
                && e["outcome"].as_str().unwrap().starts_with("Forbidden"))
    );
}

#[test]
fn every_policy_refusal_names_the_rule() {
    let env = Env::new();
    vault_and_key(&env, "kv-ref", "k", &[]);
    let rot = |trigger: &str, expiry: &str| {
        format!(
            r#"{{"lifetimeActions":[{{"trigger":{trigger},"action":{{"type":"Rotate"}}}}],"attributes":{{"expiryTime":{expiry}}}}}"#
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}},{"trigger":{"timeAfterCreate":"P60D"},"action":{"type":"Rotate"}}]}"#.into(),
            "more than one Rotate",
        ),
        (
            rot(r#"{"timeAfterCreate":"P30D","timeBeforeExpiry":"P10D"}"#, r#""P90D""#),
            "exclusive",
        ),
        (rot("{}", "null"), "no trigger"),
        (rot(r#"{"timeAfterCreate":"P6D"}"#, "null"), "minimum rotation period of 7 days"),
        (rot(r#"{"timeBeforeExpiry":"P10D"}"#, "null"), "needs an expiryTime"),
        (rot(r#"{"timeBeforeExpiry":"P6D"}"#, r#""P90D""#), "minimum of 7 days"),
        (rot(r#"{"timeBeforeExpiry":"P25D"}"#, r#""P28D""#), "less than 7 days"),
        (rot(r#"{"timeAfterCreate":"P30D"}"#, r#""P27D""#), "minimum of 28 days"),
        (rot(r#"{"timeAfterCreate":"P90D"}"#, r#""P90D""#), "expire before it rotates"),
        (rot(r#"{"timeAfterCreate":"P1.5D"}"#, "null"), "not an ISO 8601 duration"),
        (rot(r#"{"timeAfterCreate":"30 days"}"#, "null"), "not an ISO 8601 duration"),
        (rot(r#"{"timeAfterCreate":30}"#, "null"), "duration string"),
        (
            r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Shred"}}]}"#.into(),
            "not Rotate or Notify",
        ),
        (
            r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Notify"}}]}"#.into(),
            "timeBeforeExpiry only",
        ),
        (r#"{"lifetimeAction":[]}"#.into(), "unknown field 'lifetimeAction'"),
        (r#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"}}]}"#.into(), "needs an action"),
        (r#"{"lifetimeActions": "#.into(), "not valid JSON"),
        ("[]".into(), "must be a JSON object"),
        ("".into(), "not valid JSON"),
    ];
    for (value, needle) in &cases {
        env.fails(&policy_args("kv-ref", "k", value), 2, needle);
    }
    // Nothing was stored by any of them.
    assert!(
        key_record(&env, "kv-ref", "k")
            .get("rotationPolicy")
            .is_none()
    );
    // A file that is not there, a key that is not there.
    env.fails(
        &policy_args("kv-ref", "k", "/nonexistent/policy.json"),
        1,
        "/nonexistent/policy.json",
    );
    env.fails(
        &policy_args("kv-ref", "k", "@/nonexistent/p.json"),
        1,
        "/nonexistent/p.json",
    );
    env.fails(&policy_args("kv-ref", "nokey", POLICY_30D), 3, "nokey");
}

#[test]
fn expires_and_not_before_are_shown_and_rotation_applies_the_policys_expiry() {
    let env = Env::new();
    vault_and_key(
        &env,
        "kv-dates",
        "k",
        &[
            "--expires",
            "2099-01-02T03:04:05Z",
            "--not-before",
            "2020-06-30",
        ],
    );
    let attrs = |version: Option<&str>| {
        let mut args = vec![
            "keyvault",
            "key",
            "show",
            "--vault-name",
            "kv-dates",
            "-n",
            "k",
            "--query",
            "attributes",
        ];
        if let Some(v) = version {
            args.extend_from_slice(&["--version", v]);
        }
        env.json(&args)
    };
    let a = attrs(None);
    assert_eq!(a["expires"], "2099-01-02T03:04:05+00:00");
    assert_eq!(a["notBefore"], "2020-06-30T00:00:00+00:00");
    let v = &versions(&env, "kv-dates", "k")[0];
    assert_eq!(v["expires"], 4_071_006_245_i64);
    assert_eq!(v["notBefore"], 1_593_475_200_i64);

    // set-attributes changes the dates (az's flags), keeps what it is not given.
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv-dates",
        "-n",
        "k",
        "--expires",
        "2098-12-31T23:59+01:00",
        "-o",
        "none",
    ]);
    let a = attrs(None);
    assert_eq!(a["expires"], "2098-12-31T22:59:00+00:00");
    assert_eq!(a["notBefore"], "2020-06-30T00:00:00+00:00");
    assert_eq!(a["enabled"], true);

    // Refusals: bad forms, an expiry not after the activation, nothing to set.
    env.fails(
        &set_attrs(&["--expires", "next tuesday"]),
        2,
        "not a date and time",
    );
    env.fails(
        &set_attrs(&["--not-before", "2026-02-30"]),
        2,
        "not a date and time",
    );
    env.fails(
        &set_attrs(&["--not-before", "2099-01-01"]),
        2,
        "is not after --not-before",
    );
    env.fails(&set_attrs(&[]), 2, "--expires");
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-dates",
            "-n",
            "k2",
            "--expires",
            "2030-01-01",
            "--not-before",
            "2031-01-01",
        ],
        2,
        "is not after --not-before",
    );
    let audit = env.json(&["keyvault", "audit", "-n", "kv-dates"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"] == "KeyUpdate" && e["outcome"] == "Succeeded")
    );

    // Without a policy a rotated version has no expiry; with one, created + expiryTime.
    env.ok(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kv-dates",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    assert_eq!(attrs(None)["expires"], Value::Null);
    env.ok(&policy_args("kv-dates", "k", POLICY_30D));
    let rotated = env.json(&[
        "keyvault",
        "key",
        "rotate",
        "--vault-name",
        "kv-dates",
        "-n",
        "k",
    ]);
    let latest = versions(&env, "kv-dates", "k").last().unwrap().clone();
    assert_eq!(
        latest["expires"].as_i64().unwrap(),
        latest["created"].as_i64().unwrap() + 90 * DAY
    );
    assert!(rotated["attributes"]["expires"].is_string());
    // The store checks clean with all of it.
    env.ok(&["check"]);
}

#[test]
fn a_due_rotation_happens_at_the_start_of_a_command_and_sets_follow() {
    let mut env = Env::new();
    let Cmk { des_id, .. } = cmk_setup(&env, "kv-auto", "k", "des", "eastus");
    env.ok(&["config", "set", "test-clock", "true", "-o", "none"]);
    env.ok(&[
        "disk-encryption-set",
        "update",
        "-n",
        "des",
        "-g",
        "rg",
        "--enable-auto-key-rotation",
        "true",
        "-o",
        "none",
    ]);
    for d in ["d1", "d2"] {
        env.ok(&[
            "disk",
            "create",
            "-n",
            d,
            "-g",
            "rg",
            "--disk-encryption-set",
            &des_id,
            "--size-gb",
            "1",
            "-o",
            "none",
        ]);
    }
    let data = pattern(3 << 20, 7);
    write_disk(&env, "d1", &data);
    env.ok(&[
        "snapshot", "create", "-g", "rg", "-n", "s1", "--source", "d1", "-o", "none",
    ]);
    // A second key with the same policy whose latest version is disabled: Key Vault leaves it.
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-auto",
        "-n",
        "off",
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "set-attributes",
        "--vault-name",
        "kv-auto",
        "-n",
        "off",
        "--enabled",
        "false",
        "-o",
        "none",
    ]);
    for key in ["k", "off"] {
        env.ok(&policy_args("kv-auto", key, POLICY_30D));
    }
    let first = versions(&env, "kv-auto", "k")[0].clone();
    let created = first["created"].as_i64().unwrap();
    let old_url = format!(
        "https://kv-auto.vault.azure.net/keys/k/{}",
        first["id"].as_str().unwrap()
    );
    let hashes: Vec<Vec<u8>> = ["disks/d1/data", "disks/d2/data", "snapshots/s1/data"]
        .iter()
        .map(|p| sha256_file(&env.path(p)))
        .collect();

    // 29 days after the version was created: not due.
    at(&mut env, created + 29 * DAY, |env| {
        env.ok(&["disk", "list", "-o", "none"]);
    });
    assert_eq!(versions(&env, "kv-auto", "k").len(), 1);

    // 31 days after: the first command that starts makes the new version, and the set moves.
    let shown = at(&mut env, created + 31 * DAY, |env| {
        env.ok(&["disk", "list", "-o", "none"]);
        env.json(&[
            "keyvault",
            "key",
            "list-versions",
            "--vault-name",
            "kv-auto",
            "-n",
            "k",
        ])
    });
    assert_eq!(shown.as_array().unwrap().len(), 2, "{shown}");
    let vs = versions(&env, "kv-auto", "k");
    assert_eq!(vs.len(), 2);
    let new = &vs[1];
    assert_eq!(new["created"].as_i64().unwrap(), created + 31 * DAY);
    assert_eq!(
        new["expires"].as_i64().unwrap(),
        created + 31 * DAY + 90 * DAY,
        "the policy's expiryTime"
    );
    let new_url = format!(
        "https://kv-auto.vault.azure.net/keys/k/{}",
        new["id"].as_str().unwrap()
    );
    assert_ne!(new_url, old_url);
    assert_eq!(
        env.ok(&[
            "disk-encryption-set",
            "show",
            "-n",
            "des",
            "-g",
            "rg",
            "--query",
            "activeKey.keyUrl",
            "-o",
            "tsv"
        ]),
        new_url
    );
    assert_eq!(
        env.ok(&[
            "disk-encryption-set",
            "show",
            "-n",
            "des",
            "-g",
            "rg",
            "--query",
            "length(previousKeys)"
        ]),
        "0"
    );
    for (kind, name) in [("disks", "d1"), ("disks", "d2"), ("snapshots", "s1")] {
        assert_eq!(disk_key_url(&env, kind, name), new_url, "{kind}/{name}");
    }
    // Re-wrapped, never re-encrypted: every data file is byte for byte the same.
    let after: Vec<Vec<u8>> = ["disks/d1/data", "disks/d2/data", "snapshots/s1/data"]
        .iter()
        .map(|p| sha256_file(&env.path(p)))
        .collect();
    assert_eq!(after, hashes);
    // The disabled key was left alone.
    assert_eq!(versions(&env, "kv-auto", "off").len(), 1);
    // One rotation, not one per command: the new version is only 0 days old.
    at(&mut env, created + 32 * DAY, |env| {
        env.ok(&["disk", "list", "-o", "none"]);
    });
    assert_eq!(versions(&env, "kv-auto", "k").len(), 2);

    // The vault service did it, under the test clock; the set's identity re-wrapped.
    let audit = env.json(&["keyvault", "audit", "-n", "kv-auto"]);
    let entries = audit.as_array().unwrap();
    let rotation: Vec<&Value> = entries
        .iter()
        .filter(|e| e["operation"] == "KeyRotateIfDue")
        .collect();
    assert_eq!(rotation.len(), 1, "{audit}");
    assert_eq!(rotation[0]["callerObjectId"], VAULT_SERVICE);
    assert_eq!(
        rotation[0]["resource"],
        "https://kv-auto.vault.azure.net/keys/k/rotationpolicy"
    );
    assert_eq!(rotation[0]["clockOverridden"], true);
    assert_eq!(rotation[0]["version"], new["id"]);
    assert!(entries.iter().any(|e| e["operation"] == "WrapKey"
        && e["version"] == new["id"]
        && e["outcome"] == "Succeeded"));

    // The data reads back under the new version.
    let s = Service::open(&env.store()).unwrap();
    assert_eq!(read_disk(&s, Kind::Disk, "d1", data.len()).unwrap(), data);
    assert_eq!(
        read_disk(&s, Kind::Snapshot, "s1", data.len()).unwrap(),
        data
    );
    drop(s);
    env.ok(&["check"]);
}

#[test]
fn a_rotation_before_expiry_is_due_from_the_versions_expires() {
    let mut env = Env::new();
    env.ok(&["config", "set", "test-clock", "true", "-o", "none"]);
    let now = 2_000_000_000;
    at(&mut env, now, |env| {
        vault_and_key(env, "kv-exp", "k", &["--expires", "2033-06-27T03:33:20Z"]);
        env.ok(&policy_args(
            "kv-exp",
            "k",
            r#"{"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P10D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P60D"}}"#,
        ));
    });
    // 2033-06-27T03:33:20Z is now + 40 days: due 10 days before, at now + 30 days.
    at(&mut env, now + 30 * DAY - 1, |env| {
        env.ok(&["group", "list", "-o", "none"])
    });
    assert_eq!(versions(&env, "kv-exp", "k").len(), 1);
    at(&mut env, now + 30 * DAY, |env| {
        env.ok(&["group", "list", "-o", "none"])
    });
    let vs = versions(&env, "kv-exp", "k");
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[1]["expires"], now + 30 * DAY + 60 * DAY);
}

#[test]
fn an_expired_version_wraps_nothing_but_still_unwraps() {
    let mut env = Env::new();
    env.ok(&["config", "set", "test-clock", "true", "-o", "none"]);
    let t0: i64 = 2_000_000_000;
    let Cmk { des_id, .. } = at(&mut env, t0, |env| {
        let cmk = cmk_setup(env, "kv-old", "k", "des", "eastus");
        env.ok(&[
            "keyvault",
            "key",
            "set-attributes",
            "--vault-name",
            "kv-old",
            "-n",
            "k",
            "--expires",
            "2033-05-28T03:33:20Z", // t0 + 10 days
            "-o",
            "none",
        ]);
        env.ok(&[
            "disk",
            "create",
            "-n",
            "d1",
            "-g",
            "rg",
            "--disk-encryption-set",
            &cmk.des_id,
            "--size-gb",
            "1",
            "-o",
            "none",
        ]);
        env.ok(&[
            "disk",
            "create",
            "-n",
            "p1",
            "-g",
            "rg",
            "--size-gb",
            "1",
            "-o",
            "none",
        ]);
        cmk
    });
    let version = versions(&env, "kv-old", "k")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ssefs::clock::set_override(Some(t0));
    let data = pattern(2 << 20, 3);
    write_disk(&env, "d1", &data);
    let before = sha256_file(&env.path("disks/d1/data"));

    let later = t0 + 11 * DAY;
    at(&mut env, later, |env| {
        // Every wrap under the expired version is refused, naming it and its dates.
        let err = env.fails(
            &[
                "disk",
                "create",
                "-n",
                "d2",
                "-g",
                "rg",
                "--disk-encryption-set",
                &des_id,
                "--size-gb",
                "1",
            ],
            1,
            "(KeyExpired)",
        );
        assert!(
            err.contains(&version) && err.contains("expired at 2033-05-28T03:33:20+00:00"),
            "{err}"
        );
        env.fails(
            &[
                "disk",
                "update",
                "-n",
                "p1",
                "-g",
                "rg",
                "--encryption-type",
                "EncryptionAtRestWithCustomerKey",
                "--disk-encryption-set",
                &des_id,
            ],
            1,
            "expired",
        );
        env.fails(
            &[
                "snapshot", "create", "-g", "rg", "-n", "s1", "--source", "d1",
            ],
            1,
            "(KeyExpired)",
        );
        // An unwrap still works: a platform-key copy of the disk unwraps its data key under
        // the expired version and wraps a fresh one under the platform key.
        env.ok(&[
            "disk",
            "create",
            "-n",
            "copy",
            "-g",
            "rg",
            "--source",
            "d1",
            "--encryption-type",
            "EncryptionAtRestWithPlatformKey",
            "-o",
            "none",
        ]);
        // ssefs check says so, as a note (nothing is damaged).
        let check = env.ok(&["check"]);
        assert!(
            check.contains("note:") && check.contains("refused until its key is rotated"),
            "{check}"
        );
        let audit = env.json(&["keyvault", "audit", "-n", "kv-old"]);
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["operation"] == "WrapKey"
                    && e["version"] == version.as_str()
                    && e["outcome"].as_str().unwrap().contains("expired"))
        );
    });
    // The disk itself still opens (an audited unwrap) and reads back, and so does the copy.
    ssefs::clock::set_override(Some(later));
    let s = Service::open(&env.store()).unwrap();
    assert_eq!(read_disk(&s, Kind::Disk, "d1", data.len()).unwrap(), data);
    assert_eq!(read_disk(&s, Kind::Disk, "copy", data.len()).unwrap(), data);
    drop(s);
    assert_eq!(
        disk_key_url(&env, "disks", "d1").rsplit('/').next(),
        Some(version.as_str())
    );
    assert_eq!(sha256_file(&env.path("disks/d1/data")), before);

    // A new version, and the set pointed at it, re-wrap the disk (an unwrap under the expired
    // version); then new disks work again.
    at(&mut env, later, |env| {
        let kid = env.ok(&[
            "keyvault",
            "key",
            "rotate",
            "--vault-name",
            "kv-old",
            "-n",
            "k",
            "--query",
            "key.kid",
            "-o",
            "tsv",
        ]);
        env.ok(&[
            "disk-encryption-set",
            "update",
            "-n",
            "des",
            "-g",
            "rg",
            "--key-url",
            &kid,
            "-o",
            "none",
        ]);
        assert_eq!(disk_key_url(env, "disks", "d1"), kid);
        env.ok(&[
            "disk",
            "create",
            "-n",
            "d2",
            "-g",
            "rg",
            "--disk-encryption-set",
            &des_id,
            "--size-gb",
            "1",
            "-o",
            "none",
        ]);
        // The expired version cannot be made a set's active key again.
        let old = format!("https://kv-old.vault.azure.net/keys/k/{version}");
        env.fails(
            &[
                "disk-encryption-set",
                "update",
                "-n",
                "des",
                "-g",
                "rg",
                "--key-url",
                &old,
            ],
            1,
            "(KeyExpired)",
        );
    });
    assert_eq!(sha256_file(&env.path("disks/d1/data")), before);

    // A version that is not valid yet cannot become a set's key either.
    let future = at(&mut env, later, |env| {
        env.ok(&[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-old",
            "-n",
            "soon",
            "--not-before",
            "2040-01-01",
            "--query",
            "key.kid",
            "-o",
            "tsv",
        ])
    });
    at(&mut env, later, |env| {
        env.fails(
            &[
                "disk-encryption-set",
                "create",
                "-n",
                "des2",
                "-g",
                "rg",
                "--key-url",
                &future,
            ],
            1,
            "not valid before 2040-01-01T00:00:00+00:00",
        );
    });
    ssefs::clock::set_override(None);
}
