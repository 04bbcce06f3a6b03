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

/// Where a new version's key material comes from.
pub enum KeySource {
    /// Generated (in software, or in the token for an HSM key) with this many bits.
    Generate(usize),
    /// Imported from a PEM file (into the token for an HSM key; the PEM is not kept then).
    Import(Box<KeyPair>),
}

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
        let hsm = if protection.eq_ignore_ascii_case("hsm") {
            if vrec.sku.as_deref() != Some("premium") {
                return Err(Error::not_allowed(format!(
                    "HSM-protected keys (kty RSA-HSM) need a Premium vault: key vault '{}' is Standard; create the vault with --sku premium",
                    vrec.name
                )));
            }
            true
        } else if protection.eq_ignore_ascii_case("software") {
            false
        } else {
            return Err(Error::invalid(format!(
                "--protection must be software or hsm, not '{protection}'"
            )));
        };
        let source = match import {
            Some(pair) => {
                let bits = pair.public().bits();
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "the imported key has {bits} bits; RSA keys of 2048, 3072 or 4096 bits are accepted"
                    )));
                }
                KeySource::Import(Box::new(pair))
            }
            None => {
                let bits = size.unwrap_or(2048);
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "--size {bits} is not supported; use 2048, 3072 or 4096"
                    )));
                }
                KeySource::Generate(bits)
            }
        };
        self.store_version(&vrec, key, source, Some(hsm), op, caller, dates)
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
            KeySource::Generate(bits),
            None,
            "KeyRotate",
            caller,
            Self::rotation_dates(&rec),
        )
    }

    /// Makes a new version and then writes the key record that names it, so a crash in between
    /// leaves only an unused private key: a 0600 PEM file for a software key, a token object
    /// for an HSM key (`hsm`: `None` keeps the key's protection, `Some` must match an
    /// existing key's).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_version(
        &self,
        vrec: &VaultRecord,
        key: &str,
        source: KeySource,
        hsm: Option<bool>,
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
                kty: if hsm == Some(true) { "RSA-HSM" } else { "RSA" }.into(),
                protection: if hsm == Some(true) { "hsm" } else { "software" }.into(),
                deleted: None,
                versions: Vec::new(),
                rotation_policy: None,
                tags: Default::default(),
                settings: Default::default(),
            },
        };
        let in_token = rec.protection == "hsm";
        if hsm.is_some_and(|h| h != in_token) {
            return Err(Error::not_allowed(format!(
                "key '{}' is {}-protected: its new versions keep that protection (use another key name for a {} key)",
                rec.name,
                rec.protection,
                if in_token { "software" } else { "hsm" }
            )));
        }
        let dir = keys_dir.join(rec.name.to_ascii_lowercase());
        fsio::create_private_dir(&dir)?;
        let version = ids::new_version()?;
        let (n, e, token) = if in_token {
            let token = self.token()?;
            let id = crate::hsm::object_id(&version);
            let label = format!("ssefs:{}/{}/{version}", vrec.name, rec.name);
            let (n, e) = match source {
                KeySource::Generate(bits) => token.generate_rsa(&id, &label, bits)?,
                KeySource::Import(pair) => token.import_rsa(&id, &label, &pair)?,
            };
            (n, e, Some(token.label().to_string()))
        } else {
            let pair = match source {
                KeySource::Generate(bits) => KeyPair::generate(bits)?,
                KeySource::Import(pair) => *pair,
            };
            let pem = pair.to_pem()?;
            fsio::write_atomic(&dir.join(format!("{version}.pem")), pem.as_bytes(), 0o600)?;
            let public = pair.public();
            (public.modulus(), public.exponent(), None)
        };
        let key_size = crate::crypto::PublicKey::from_components(&n, &e)?.bits();
        let now = clock::now_secs();
        rec.versions.push(KeyVersionRecord {
            id: version.clone(),
            key_size,
            enabled: true,
            created: now,
            updated: now,
            n: Base64UrlUnpadded::encode_string(&n),
            e: Base64UrlUnpadded::encode_string(&e),
            hsm: token,
            expires: dates
                .expires
                .or(dates.expires_after.map(|d| now.saturating_add(d))),
            not_before: dates.not_before,
            key_ops: None,
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
                    expires_after: None,
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
