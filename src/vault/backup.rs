//! Key backup and restore (`keyvault key backup|restore`): every version of a key, its record
//! and its private keys, in one file sealed under the vault directory's backup key and bound to
//! the vault's subscription (the envelope is [`crate::crypto::seal`]; the layout is in
//! docs/FORMAT.md, "Key backups").
//!
//! What protects a backup: the backup key, `backup.key` (0600) in the vault directory, made
//! on the first backup. It lives with the vaults, not with the disks, so that neither a stolen
//! backup file nor a stolen store (even both together) yields a key; whoever holds the vault
//! directory holds every key anyway. A restore therefore needs the same vault directory's
//! backup key: into another store, copy `backup.key` along (keep a copy of it apart: a lost
//! vault directory takes its backup key with it).

use std::path::PathBuf;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::*;
use crate::crypto::{self, BackupKey, KeyPair, Sealed};
use crate::error::{Error, IoContext, Result};
use crate::format::KeyRecord;
use crate::fsio;
use crate::ids::{self, Kind};

/// The backup key's file in the vault directory (not a vault name: those have no '.').
pub const BACKUP_KEY_FILE: &str = "backup.key";

/// The `format` of a backup's payload.
const PAYLOAD_FORMAT: &str = "ssefs-key-backup";

/// What a backup holds, once opened: JSON, wiped with its buffer. No `Debug` or `Clone`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Payload {
    format: String,
    version: u32,
    /// The vault it was taken from (for the audit of a restore elsewhere).
    vault: String,
    key: KeyRecord,
    private_keys: Vec<PrivateKey>,
}

/// One version's private key, PKCS#8 PEM.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrivateKey {
    version: String,
    pem: Zeroizing<String>,
}

impl Vaults {
    /// `VAULT_DIR/backup.key`.
    pub fn backup_key_path(&self) -> PathBuf {
        self.dir.join(BACKUP_KEY_FILE)
    }

    /// Reads the backup key; with `create`, makes it when there is none yet.
    fn backup_key(&self, create: bool) -> Result<Option<BackupKey>> {
        let path = self.root()?.join(BACKUP_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                BackupKey::from_text(&text)
                    .map(Some)
                    .map_err(|e| Error::corrupt(&path, e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = BackupKey::generate()?;
                write_new(&path, key.to_text().as_bytes())?;
                // Another writer may have won the race: its key is the one on disk.
                self.backup_key(false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                format!("read the backup key {}", path.display()),
                e,
            )),
        }
    }

    /// `key backup`: the sealed backup of every version of `key` (needs `backup`).
    pub fn backup_key_file(&self, vault: &str, key: &str, caller: &Caller) -> Result<Vec<u8>> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "backup", "KeyBackup", Some(key))?;
        let rec = self.key(vault, key)?;
        if !rec.protection.eq_ignore_ascii_case("software") {
            let e = Error::not_allowed(format!(
                "key '{}' is protected by '{}': its private key cannot leave the HSM, so ssefs cannot back it up (only software-protected keys can be backed up for now)",
                rec.name, rec.protection
            ));
            self.audit(
                &vrec.name,
                "KeyBackup",
                caller,
                Some(&rec.name),
                None,
                &format!("Refused: {e}"),
            );
            return Err(e);
        }
        let mut private_keys = Vec::with_capacity(rec.versions.len());
        for v in &rec.versions {
            private_keys.push(PrivateKey {
                version: v.id.clone(),
                pem: self.load_pair(&vrec.name, &rec.name, &v.id)?.to_pem()?,
            });
        }
        let payload = Payload {
            format: PAYLOAD_FORMAT.into(),
            version: 1,
            vault: vrec.name.clone(),
            key: rec.clone(),
            private_keys,
        };
        // Sized up front so that the buffer holding private keys is not reallocated (a
        // reallocation would leave an unwiped copy behind).
        let estimate = payload
            .private_keys
            .iter()
            .map(|p| p.pem.len() + 2048)
            .sum::<usize>()
            + 4096;
        let mut json = Zeroizing::new(Vec::with_capacity(estimate));
        serde_json::to_writer(&mut *json, &payload)
            .map_err(|e| Error::invalid(format!("encode the backup: {e}")))?;
        let backup_key = self
            .backup_key(true)?
            .ok_or_else(|| Error::invalid("the backup key could not be made"))?;
        let sealed = crypto::seal(&backup_key, &vrec.subscription_id, &json)?;
        self.audit(
            &vrec.name,
            "KeyBackup",
            caller,
            Some(&rec.name),
            None,
            &format!("Succeeded: {} version(s)", rec.versions.len()),
        );
        Ok(sealed)
    }

    /// `key restore`: restores the key a backup holds into `vault` (needs `restore`), under its
    /// own name, with every version and attribute. `source` names the file in messages.
    pub fn restore_key_file(
        &self,
        vault: &str,
        source: &str,
        bytes: &[u8],
        caller: &Caller,
    ) -> Result<KeyRecord> {
        let unusable =
            |e: Error| Error::invalid(format!("{source} is not a usable key backup: {e}"));
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "restore", "KeyRestore", None)?;
        let sealed = Sealed::parse(bytes).map_err(unusable)?;
        let backup_key = match self.backup_key(false)? {
            Some(k) if k.id() == sealed.key_id => k,
            found => {
                return Err(Error::not_allowed(format!(
                    "{source} was sealed with another backup key (id {}; this vault directory's is {}): it was made from another store or vault directory; restore it there, or put that backup key in {}",
                    crypto::key_id_hex(&sealed.key_id),
                    found.map_or("not made yet".to_string(), |k| crypto::key_id_hex(&k.id())),
                    self.backup_key_path().display()
                )));
            }
        };
        let json = sealed.open(&backup_key).map_err(unusable)?;
        if !sealed
            .subscription
            .eq_ignore_ascii_case(&vrec.subscription_id)
        {
            let e = Error::not_allowed(format!(
                "{source} was made in subscription {} and cannot be restored into key vault '{}' of subscription {}: a key backup can only be restored within its subscription",
                sealed.subscription, vrec.name, vrec.subscription_id
            ));
            self.audit(
                &vrec.name,
                "KeyRestore",
                caller,
                None,
                None,
                &format!("Refused: {e}"),
            );
            return Err(e);
        }
        let payload: Payload = serde_json::from_slice(&json)
            .map_err(|e| unusable(Error::invalid(format!("its contents are not valid: {e}"))))?;
        drop(json);
        let mut rec = check_payload(payload.key, &payload.private_keys).map_err(unusable)?;
        rec.deleted = None;

        let keys_dir = self.vault_dir(&vrec.name)?.join("keys");
        if let Some(dir) = fsio::find_entry(&keys_dir, &rec.name)? {
            let existing = Self::load_key_at(&dir)?;
            let e = Error::AlreadyExists {
                kind: "key",
                name: if existing.deleted.is_some() {
                    format!(
                        "{}' is soft-deleted in vault '{}'; recover or purge it before restoring the name '{}",
                        existing.name, vrec.name, rec.name
                    )
                } else {
                    format!("{}' in vault '{}", existing.name, vrec.name)
                },
            };
            self.audit(
                &vrec.name,
                "KeyRestore",
                caller,
                Some(&rec.name),
                None,
                &format!("Refused: {e}"),
            );
            return Err(e);
        }
        // Built aside and renamed into place: a crash leaves a temporary (removed at the next
        // open), never a key directory without its record.
        let staging = keys_dir.join(format!(
            "{}restore-{}-{}",
            fsio::TMP_PREFIX,
            rec.name.to_ascii_lowercase(),
            std::process::id()
        ));
        let written = (|| {
            fsio::create_private_dir(&staging)?;
            for p in &payload.private_keys {
                fsio::write_atomic(
                    &staging.join(format!("{}.pem", p.version)),
                    p.pem.as_bytes(),
                    0o600,
                )?;
            }
            fsio::write_json(&staging.join("key.json"), &rec, 0o600)?;
            let target = keys_dir.join(rec.name.to_ascii_lowercase());
            std::fs::rename(&staging, &target)
                .ctx(|| format!("rename {} to {}", staging.display(), target.display()))?;
            fsio::sync_dir(&keys_dir)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        self.audit(
            &vrec.name,
            "KeyRestore",
            caller,
            Some(&rec.name),
            None,
            &format!(
                "Succeeded: {} version(s), backed up from vault '{}'",
                rec.versions.len(),
                payload.vault
            ),
        );
        Ok(rec)
    }
}

/// Checks what a backup holds before anything is written: names and versions that become
/// paths, one private key per version that matches its public key, software protection.
fn check_payload(rec: KeyRecord, keys: &[PrivateKey]) -> Result<KeyRecord> {
    ids::validate_name(Kind::Key, &rec.name)?;
    if rec.versions.is_empty() || rec.versions.len() != keys.len() {
        return Err(Error::invalid(format!(
            "it holds {} version record(s) and {} private key(s)",
            rec.versions.len(),
            keys.len()
        )));
    }
    if !rec.protection.eq_ignore_ascii_case("software") || !rec.kty.eq_ignore_ascii_case("RSA") {
        return Err(Error::invalid(format!(
            "it holds a {} key protected by '{}'; only software RSA keys are restored",
            rec.kty, rec.protection
        )));
    }
    for (v, k) in rec.versions.iter().zip(keys) {
        ids::validate_version(&v.id)?;
        if !v.id.eq_ignore_ascii_case(&k.version) {
            return Err(Error::invalid(
                "its private keys are not in the order of its versions",
            ));
        }
        let pair = KeyPair::from_pem(&k.pem)?;
        if Base64UrlUnpadded::encode_string(&pair.public().modulus()) != v.n {
            return Err(Error::invalid(format!(
                "the private key of version {} does not match its public key",
                v.id
            )));
        }
    }
    Ok(rec)
}

/// Creates `path` with `bytes` only if it does not exist (a hard link from a fsynced
/// temporary: atomic, and never replaces a key another writer made first).
fn write_new(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid(format!("{} has no parent directory", path.display())))?;
    let tmp = dir.join(format!(
        "{}backup-key-{}",
        fsio::TMP_PREFIX,
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = fsio::create_new_private(&tmp)?;
        std::io::Write::write_all(&mut f, bytes).ctx(|| format!("write {}", tmp.display()))?;
        f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("create {}", path.display()), e)),
        }
        fsio::sync_dir(dir)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
