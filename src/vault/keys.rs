//! Keys and their versions: create or import, rotate, show, list, and enable or disable
//! versions. Each version's private key is written before the record that names it.

use base64ct::{Base64UrlUnpadded, Encoding};

use super::*;
use crate::clock;
use crate::crypto::KeyPair;
use crate::error::{Error, Result};
use crate::format::{KeyRecord, KeyVersionRecord, RECORD_VERSION, VaultRecord};
use crate::fsio;
use crate::ids::{self, Kind};

impl Vaults {
    /// Creates a key, or a new version of an existing one (as `az keyvault key create` does).
    /// `import` supplies the key material instead of generating it; `dates` are the new
    /// version's activation and expiry.
    #[allow(clippy::too_many_arguments)]
    pub fn create_key(
        &self,
        vault: &str,
        key: &str,
        kty: &str,
        size: Option<usize>,
        protection: &str,
        import: Option<KeyPair>,
        dates: VersionDates,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        ids::validate_name(Kind::Key, key)?;
        dates.check()?;
        let (op, perm) = if import.is_some() {
            ("KeyImport", "import")
        } else {
            ("KeyCreate", "create")
        };
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, perm, op, Some(key))?;
        if !kty.eq_ignore_ascii_case("RSA") {
            return Err(Error::invalid(format!(
                "--kty {kty} is not supported: ssefs vaults hold RSA keys only"
            )));
        }
        if protection.eq_ignore_ascii_case("hsm") {
            return Err(Error::invalid(
                "--protection hsm is not supported yet: ssefs has no HSM-backed keys; use --protection software",
            ));
        }
        if !protection.eq_ignore_ascii_case("software") {
            return Err(Error::invalid(format!(
                "--protection must be software or hsm, not '{protection}'"
            )));
        }
        let pair = match import {
            Some(pair) => {
                let bits = pair.public().bits();
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "the imported key has {bits} bits; RSA keys of 2048, 3072 or 4096 bits are accepted"
                    )));
                }
                pair
            }
            None => {
                let bits = size.unwrap_or(2048);
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "--size {bits} is not supported; use 2048, 3072 or 4096"
                    )));
                }
                KeyPair::generate(bits)?
            }
        };
        self.store_version(&vrec, key, pair, op, caller, dates)
    }

    /// Adds a version (`keyvault key rotate`) of the latest version's size; it expires after
    /// the rotation policy's `expiryTime`, when the key has one.
    pub fn rotate_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "rotate", "KeyRotate", Some(key))?;
        let rec = self.key(vault, key)?;
        let bits = rec.versions.last().map(|v| v.key_size).unwrap_or(2048);
        self.store_version(
            &vrec,
            &rec.name,
            KeyPair::generate(bits)?,
            "KeyRotate",
            caller,
            Self::rotation_dates(&rec),
        )
    }

    /// Writes a new version's private key (0600) and then the key record that names it, so a
    /// crash in between leaves only an unused file.
    pub(super) fn store_version(
        &self,
        vrec: &VaultRecord,
        key: &str,
        pair: KeyPair,
        op: &str,
        caller: &Caller,
        dates: VersionDates,
    ) -> Result<KeyRecord> {
        let keys_dir = self.vault_dir(&vrec.name)?.join("keys");
        let existing = fsio::find_entry(&keys_dir, key)?;
        let mut rec = match &existing {
            Some(dir) => {
                let rec = Self::load_key_at(dir)?;
                if rec.deleted.is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "key",
                        name: format!(
                            "{}' is soft-deleted; recover or purge it before reusing the name '{key}",
                            rec.name
                        ),
                    });
                }
                rec
            }
            None => KeyRecord {
                version: RECORD_VERSION,
                name: key.to_string(),
                kty: "RSA".into(),
                protection: "software".into(),
                deleted: None,
                versions: Vec::new(),
                rotation_policy: None,
            },
        };
        let dir = keys_dir.join(rec.name.to_ascii_lowercase());
        fsio::create_private_dir(&dir)?;
        let version = ids::new_version()?;
        let public = pair.public();
        let pem = pair.to_pem()?;
        fsio::write_atomic(&dir.join(format!("{version}.pem")), pem.as_bytes(), 0o600)?;
        let now = clock::now_secs();
        rec.versions.push(KeyVersionRecord {
            id: version.clone(),
            key_size: public.bits(),
            enabled: true,
            created: now,
            updated: now,
            n: Base64UrlUnpadded::encode_string(&public.modulus()),
            e: Base64UrlUnpadded::encode_string(&public.exponent()),
            expires: dates.expires,
            not_before: dates.not_before,
        });
        self.save_key(&vrec.name, &rec)?;
        if existing.is_none() {
            fsio::sync_dir(&keys_dir)?;
        }
        self.audit(
            &vrec.name,
            op,
            caller,
            Some(&rec.name),
            Some(&version),
            "Succeeded",
        );
        Ok(rec)
    }

    /// Reads a key for `key show` (needs `get`).
    pub fn show_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "get", "KeyGet", Some(key))?;
        let rec = self.key(vault, key)?;
        self.audit(
            &vrec.name,
            "KeyGet",
            caller,
            Some(&rec.name),
            None,
            "Succeeded",
        );
        Ok(rec)
    }

    /// Lists keys (needs `list`).
    pub fn list_keys(&self, vault: &str, caller: &Caller) -> Result<Vec<KeyRecord>> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "list", "KeyList", None)?;
        let keys = self.all_keys(vault)?;
        self.audit(&vrec.name, "KeyList", caller, None, None, "Succeeded");
        Ok(keys)
    }

    /// Sets `enabled` on one version, or on every version when `version` is `All`.
    pub fn set_enabled(
        &self,
        vault: &str,
        key: &str,
        which: VersionSelector,
        enabled: bool,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        self.set_attributes(
            vault,
            key,
            which,
            Some(enabled),
            VersionDates::default(),
            caller,
        )
    }

    /// `key set-attributes`: `enabled` and the dates of the selected versions (`None`:
    /// unchanged), in one record write. Audited as `KeyEnable`/`KeyDisable` and, for dates,
    /// `KeyUpdate`, once per version.
    pub fn set_attributes(
        &self,
        vault: &str,
        key: &str,
        which: VersionSelector,
        enabled: Option<bool>,
        dates: VersionDates,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        let mut ops = Vec::new();
        match enabled {
            Some(true) => ops.push("KeyEnable"),
            Some(false) => ops.push("KeyDisable"),
            None => {}
        }
        if dates != VersionDates::default() {
            ops.push("KeyUpdate");
        }
        self.require(
            &vrec,
            caller,
            "update",
            ops.first().copied().unwrap_or("KeyUpdate"),
            Some(key),
        )?;
        let mut rec = self.key(vault, key)?;
        let now = clock::now_secs();
        let latest = rec
            .versions
            .last()
            .map(|v| v.id.clone())
            .unwrap_or_default();
        let mut touched = Vec::new();
        for v in rec.versions.iter_mut() {
            let hit = match &which {
                VersionSelector::All => true,
                VersionSelector::Latest => v.id == latest,
                VersionSelector::Exact(id) => v.id.eq_ignore_ascii_case(id),
            };
            if hit {
                if let Some(enabled) = enabled {
                    v.enabled = enabled;
                }
                let merged = VersionDates {
                    expires: dates.expires.or(v.expires),
                    not_before: dates.not_before.or(v.not_before),
                };
                merged.check()?;
                v.expires = merged.expires;
                v.not_before = merged.not_before;
                v.updated = now;
                touched.push(v.id.clone());
            }
        }
        if let (true, VersionSelector::Exact(id)) = (touched.is_empty(), &which) {
            return Err(Error::not_found("key version", format!("{key}/{id}")));
        }
        self.save_key(vault, &rec)?;
        for v in &touched {
            for op in &ops {
                self.audit(
                    &vrec.name,
                    op,
                    caller,
                    Some(&rec.name),
                    Some(v),
                    "Succeeded",
                );
            }
        }
        Ok(rec)
    }
}
