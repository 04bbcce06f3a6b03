//! `ssefs check`: inspects a store and reports every problem it finds, changing nothing (no
//! lock taken, no temporaries removed, no key used: an unwrap would be an audited vault
//! operation, so customer keys are checked for presence and state only). The vaults are read
//! where the setting `vault.dir` puts them; an unreachable vault directory is one problem.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::config::Config;
use crate::crypto::KeyPair;
use crate::format::{
    DesRecord, Kek, KeyRecord, PendingChange, STORE_TAG, StoreRecord, VaultRecord, Versioned,
    VolumeRecord,
};
use crate::fsio;
use crate::ids::KeyUrl;

/// One finding: the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub problem: String,
}

/// What `check` found.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Finding>,
    /// Harmless observations (leftovers of interrupted writes, unfinished rotations).
    pub notes: Vec<Finding>,
    pub disks: usize,
    pub snapshots: usize,
    pub images: usize,
    pub sets: usize,
    pub vaults: usize,
}

impl Report {
    fn problem(&mut self, path: &Path, problem: impl Into<String>) {
        self.problems.push(Finding {
            path: path.to_path_buf(),
            problem: problem.into(),
        });
    }
    fn note(&mut self, path: &Path, note: impl Into<String>) {
        self.notes.push(Finding {
            path: path.to_path_buf(),
            problem: note.into(),
        });
    }
}

fn load<T: serde::de::DeserializeOwned + Versioned>(path: &Path, report: &mut Report) -> Option<T> {
    match fsio::read_json::<T>(path).and_then(|r| r.check_version(path).map(|()| r)) {
        Ok(r) => Some(r),
        Err(e) => {
            report.problem(path, strip_path(&e.to_string(), path));
            None
        }
    }
}

/// Error messages already start with the path; the report prints it once.
fn strip_path(message: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
}

fn leftovers(dir: &Path, report: &mut Report) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(fsio::TMP_PREFIX)
            {
                report.note(
                    &e.path(),
                    "leftover of an interrupted write (removed when the store is next opened)",
                );
            }
        }
    }
}

/// Checks the store at `root`.
pub fn check(root: &Path) -> Report {
    let mut r = Report::default();
    let store_json = root.join("store.json");
    match load::<StoreRecord>(&store_json, &mut r) {
        Some(rec) if rec.format != STORE_TAG => r.problem(&store_json, "not an ssefs store record"),
        Some(_) => {}
        None => return r,
    }
    let config = match Config::load(root) {
        Ok(config) => {
            if config.test_clock() {
                r.note(
                    &Config::path(root),
                    "test-clock is true: SSEFS_NOW moves this store's clock (for test stores only; audit entries made under it say so)",
                );
            }
            config
        }
        Err(e) => {
            r.problem(
                &Config::path(root),
                strip_path(&e.to_string(), &Config::path(root)),
            );
            Config::default()
        }
    };
    let platform = root.join("platform-key.pem");
    let platform_key = match std::fs::read_to_string(&platform).map(Zeroizing::new) {
        Ok(pem) => match KeyPair::from_pem(&pem) {
            Ok(k) => Some(k),
            Err(_) => {
                r.problem(&platform, "not a valid RSA private key");
                None
            }
        },
        Err(e) => {
            r.problem(&platform, format!("cannot be read: {e}"));
            None
        }
    };
    leftovers(root, &mut r);

    // Vaults and keys, in the vault directory (the setting vault.dir, else STORE/vaults). One
    // that cannot be reached is one problem, not one per resource that needs a key.
    let vaults_dir = config.vault_dir(root);
    let vaults_reachable = match crate::vault_dir::reachable(&vaults_dir) {
        Ok(()) => true,
        Err(why) => {
            r.problem(
                &vaults_dir,
                format!(
                    "the key vault directory{} cannot be reached ({why}): customer-key disks, snapshots and sets cannot be used until it is back",
                    if config.vaults_elsewhere(root) { " (setting vault.dir)" } else { "" }
                ),
            );
            false
        }
    };
    if config.vaults_elsewhere(root) {
        let left = root.join("vaults");
        if !fsio::list_entries(&left).unwrap_or_default().is_empty() {
            r.problem(
                &left,
                format!(
                    "key files are still in the store although vault.dir is {}: left by an interrupted move; once {} holds the vaults, remove this directory",
                    vaults_dir.display(),
                    vaults_dir.display()
                ),
            );
        }
    }
    let backup_key = vaults_dir.join(crate::vault::BACKUP_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&backup_key).map(Zeroizing::new)
        && let Err(e) = crate::crypto::BackupKey::from_text(&text)
    {
        r.problem(&backup_key, e.to_string());
    }
    leftovers(&vaults_dir, &mut r);
    let mut vaults: Vec<(VaultRecord, Vec<KeyRecord>)> = Vec::new();
    // Opened at the first HSM-protected version, once.
    let mut token: Option<crate::error::Result<crate::hsm::Token>> = None;
    for name in fsio::list_entries(&vaults_dir)
        .unwrap_or_default()
        .into_iter()
        // Vault names only: the backup key and a filesystem's lost+found live here too.
        .filter(|n| crate::ids::validate_name(crate::ids::Kind::Vault, n).is_ok())
    {
        let dir = vaults_dir.join(&name);
        let Some(vault) = load::<VaultRecord>(&dir.join("vault.json"), &mut r) else {
            continue;
        };
        r.vaults += 1;
        let mut keys = Vec::new();
        for key_name in fsio::list_entries(&dir.join("keys")).unwrap_or_default() {
            let kdir = dir.join("keys").join(&key_name);
            let Some(key) = load::<KeyRecord>(&kdir.join("key.json"), &mut r) else {
                continue;
            };
            for v in &key.versions {
                let pem_path = kdir.join(format!("{}.pem", v.id));
                if v.hsm.is_some() {
                    check_hsm_version(root, &kdir, &pem_path, v, &mut token, &mut r);
                    continue;
                }
                let pem = std::fs::read_to_string(&pem_path).map(Zeroizing::new);
                match pem.map(|p| KeyPair::from_pem(&p)) {
                    Err(e) => r.problem(&pem_path, format!("key version file cannot be read: {e}")),
                    Ok(Err(_)) => r.problem(&pem_path, "not a valid RSA private key"),
                    Ok(Ok(pair)) => {
                        use base64ct::{Base64UrlUnpadded, Encoding};
                        if Base64UrlUnpadded::encode_string(&pair.public().modulus()) != v.n {
                            r.problem(
                                &pem_path,
                                "the private key does not match the version's public key",
                            );
                        }
                    }
                }
            }
            check_key_lifetime(&kdir.join("key.json"), &key, &mut r);
            leftovers(&kdir, &mut r);
            keys.push(key);
        }
        vaults.push((vault, keys));
    }
    let key_state = |url: &str| -> Result<(), String> {
        let u = KeyUrl::parse(url).map_err(|e| e.to_string())?;
        if !vaults_reachable {
            // Reported once above.
            return Ok(());
        }
        let (vault, keys) = vaults
            .iter()
            .find(|(v, _)| v.name.eq_ignore_ascii_case(&u.vault))
            .ok_or(format!("key vault '{}' is missing", u.vault))?;
        let key = keys
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(&u.key))
            .ok_or(format!(
                "key '{}' is missing from vault '{}'",
                u.key, vault.name
            ))?;
        let version = u.version.unwrap_or_default();
        if !key
            .versions
            .iter()
            .any(|v| v.id.eq_ignore_ascii_case(&version))
        {
            return Err(format!(
                "key version {version} of '{}' is missing",
                key.name
            ));
        }
        Ok(())
    };

    // Disk encryption sets.
    let des_dir = root.join("diskEncryptionSets");
    let mut sets: Vec<DesRecord> = Vec::new();
    for name in fsio::list_entries(&des_dir).unwrap_or_default() {
        let path = des_dir.join(&name);
        let Some(des) = load::<DesRecord>(&path, &mut r) else {
            continue;
        };
        r.sets += 1;
        if let Err(e) = key_state(&des.active_key.key_url) {
            r.problem(&path, format!("active key: {e}"));
        } else if let Some(why) = cannot_wrap(&vaults, &des.active_key.key_url) {
            r.note(
                &path,
                format!("new disks and snapshots of this set are refused until its key is rotated: {why}"),
            );
        }
        if !des.previous_keys.is_empty() {
            r.note(
                &path,
                "a rotation is unfinished (the next command that opens the store finishes it)",
            );
        }
        sets.push(des);
    }
    leftovers(&des_dir, &mut r);

    // Disks, snapshots and images; which protectors wrap each DEK (by check value).
    let mut protectors: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    let volume_dirs = ["disks", "snapshots", "images"];
    // A bar on the caller's terminal for a large store (src/progress.rs): each volume's data
    // file is read for its check value, which is where the time goes.
    let progress = crate::progress::Progress::items(
        "checking disks, snapshots and images",
        volume_dirs
            .iter()
            .map(|d| fsio::list_entries(&root.join(d)).map_or(0, |v| v.len() as u64))
            .sum(),
    );
    for dir_name in volume_dirs {
        let dir = root.join(dir_name);
        leftovers(&dir, &mut r);
        for name in fsio::list_entries(&dir).unwrap_or_default() {
            progress.inc(1);
            let vdir = dir.join(&name);
            let Some(rec) = load::<VolumeRecord>(&vdir.join("volume.json"), &mut r) else {
                continue;
            };
            match dir_name {
                "disks" => r.disks += 1,
                "snapshots" => r.snapshots += 1,
                _ => r.images += 1,
            }
            let data = vdir.join("data");
            let resizing_from = match &rec.pending {
                Some(PendingChange::Resize { from_bytes }) => Some(*from_bytes),
                _ => None,
            };
            match &rec.pending {
                Some(PendingChange::Resize { .. }) => r.note(
                    &vdir.join("volume.json"),
                    "a resize is unfinished (the next command that opens the store finishes it)",
                ),
                Some(PendingChange::Rekey { copied, .. }) => r.note(
                    &vdir.join("volume.json"),
                    format!(
                        "a re-encryption under a new key is unfinished ({}; the next command that opens the store {})",
                        if *copied { "its data is copied" } else { "its data is being copied" },
                        if *copied { "finishes it" } else { "starts it again" }
                    ),
                ),
                None => {}
            }
            match std::fs::metadata(&data) {
                Err(e) => r.problem(&data, format!("data file missing: {e}")),
                Ok(m)
                    if resizing_from
                        .is_some_and(|from| m.len() >= from && m.len() <= rec.size_bytes) => {}
                Ok(m) if m.len() != rec.size_bytes => r.problem(
                    &data,
                    format!(
                        "data file is {} bytes, the record says {}",
                        m.len(),
                        rec.size_bytes
                    ),
                ),
                Ok(_) => {}
            }
            let protector = match &rec.key.kek {
                Kek::Platform => "the platform key".to_string(),
                Kek::Customer { .. } => format!(
                    "disk encryption set {}",
                    rec.disk_encryption_set_id
                        .as_deref()
                        .unwrap_or("?")
                        .to_ascii_lowercase()
                ),
            };
            protectors
                .entry(rec.key.dek_check.clone())
                .or_default()
                .push((vdir.join("volume.json"), protector));
            check_volume_key(
                &rec,
                &vdir.join("volume.json"),
                platform_key.as_ref(),
                &sets,
                &key_state,
                &mut r,
            );
        }
    }
    check_dek_sharing(&protectors, &mut r);
    r
}

/// A key's dates and rotation policy: an expiry not after the activation, or a policy Key
/// Vault would refuse, is a problem (neither can be set through ssefs).
fn check_key_lifetime(path: &Path, key: &KeyRecord, r: &mut Report) {
    for v in &key.versions {
        if let (Some(nbf), Some(exp)) = (v.not_before, v.expires)
            && exp <= nbf
        {
            r.problem(
                path,
                format!(
                    "version {}: expires {} is not after notBefore {}",
                    v.id,
                    crate::clock::rfc3339(exp),
                    crate::clock::rfc3339(nbf)
                ),
            );
        }
    }
    if let Some(p) = &key.rotation_policy
        && let Err(e) = crate::vault::rotation_policy::validate(
            p.lifetime_actions.clone(),
            p.expiry_time.clone(),
        )
    {
        r.problem(path, format!("rotation policy: {e}"));
    }
}

/// Why the key version `url` cannot wrap now (expired or not yet valid), from the records.
fn cannot_wrap(vaults: &[(VaultRecord, Vec<KeyRecord>)], url: &str) -> Option<String> {
    let u = KeyUrl::parse(url).ok()?;
    let version = u.version.as_deref()?;
    let v = vaults
        .iter()
        .filter(|(v, _)| v.name.eq_ignore_ascii_case(&u.vault))
        .flat_map(|(_, keys)| keys)
        .filter(|k| k.name.eq_ignore_ascii_case(&u.key))
        .flat_map(|k| &k.versions)
        .find(|v| v.id.eq_ignore_ascii_case(version))?;
    crate::vault::check_can_wrap(url, v, crate::clock::now_secs())
        .err()
        .map(|e| e.to_string())
}

/// A DEK (by check value) must be wrapped under one protector only: the platform key, or one
/// disk encryption set. Otherwise whoever holds the other key-encryption key can read data
/// written under this one, and revoking a customer key would not make that data unreadable.
/// (A snapshot taken before a switch keeps the old DEK under the old protector; that is safe
/// because the switch gave the disk a fresh DEK, so the old DEK opens only older data and no
/// longer appears under two protectors. See docs/FORMAT.md, "One DEK, one protector".)
fn check_dek_sharing(protectors: &BTreeMap<String, Vec<(PathBuf, String)>>, r: &mut Report) {
    for users in protectors.values() {
        let mut distinct: Vec<&str> = users.iter().map(|(_, p)| p.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 {
            continue;
        }
        for (path, protector) in users {
            let others: Vec<String> = users
                .iter()
                .filter(|(_, p)| p != protector)
                .map(|(p, other)| format!("{} ({other})", p.display()))
                .collect();
            r.problem(
                path,
                format!(
                    "its data key, wrapped here by {protector}, is also wrapped by another protector in {}: data written under one key-encryption key can be decrypted with the other; give the disk a fresh data key with 'disk update --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set SET' (its current set), or delete the resources that should not share it",
                    others.join(", ")
                ),
            );
        }
    }
}

fn check_volume_key(
    rec: &VolumeRecord,
    path: &Path,
    platform: Option<&KeyPair>,
    sets: &[DesRecord],
    key_state: &dyn Fn(&str) -> Result<(), String>,
    r: &mut Report,
) {
    use base64ct::{Base64, Encoding};
    let Ok(wrapped) = Base64::decode_vec(&rec.key.wrapped_dek) else {
        return r.problem(path, "the wrapped key is not valid base64");
    };
    match &rec.key.kek {
        Kek::Platform => {
            if let Some(pk) = platform {
                match pk.unwrap_key(&wrapped) {
                    Ok(dek) if dek.check_value() == rec.key.dek_check => {}
                    Ok(_) => r.problem(
                        path,
                        "the unwrapped data key does not match its check value",
                    ),
                    Err(e) => r.problem(
                        path,
                        format!("the data key does not unwrap with the platform key: {e}"),
                    ),
                }
            }
        }
        Kek::Customer { key_url } => {
            if let Err(e) = key_state(key_url) {
                r.problem(path, format!("wrapping key: {e}"));
            }
            let set_known = rec.disk_encryption_set_id.as_deref().is_some_and(|id| {
                sets.iter()
                    .any(|s| super::views::des_id(s).eq_ignore_ascii_case(id))
            });
            if !set_known {
                r.problem(path, "its disk encryption set is missing");
            }
        }
    }
}

/// An HSM-protected version: no private key file may exist, and the token must hold the
/// private key as a sensitive, non-extractable object.
fn check_hsm_version(
    root: &Path,
    kdir: &Path,
    pem_path: &Path,
    v: &crate::format::KeyVersionRecord,
    token: &mut Option<crate::error::Result<crate::hsm::Token>>,
    r: &mut Report,
) {
    if pem_path.exists() {
        r.problem(
            pem_path,
            "an HSM-protected key version has a private key file on disk",
        );
    }
    let record = kdir.join("key.json");
    let opened = token.get_or_insert_with(|| {
        crate::config::Config::load(root).and_then(|c| crate::hsm::Token::open(&c.hsm()))
    });
    match opened {
        Err(e) => r.problem(
            &record,
            format!("version {}: the HSM token cannot be reached: {e}", v.id),
        ),
        Ok(t) => match t.is_protected(&crate::hsm::object_id(&v.id)) {
            Ok(true) => {}
            Ok(false) => r.problem(
                &record,
                format!(
                    "version {}: the token's private key is extractable or not sensitive",
                    v.id
                ),
            ),
            Err(e) => r.problem(&record, format!("version {}: {e}", v.id)),
        },
    }
}
