//! The three calls the disk service makes (get, wrap, unwrap), each on behalf of a caller and
//! checked against the key's state and the vault's policy, and the state checks behind them.

use std::fs;

use super::*;
use crate::crypto::{DataKey, KeyPair};
use crate::error::{Error, IoContext, Result};
use crate::format::{KeyRecord, KeyVersionRecord, VaultRecord};
use crate::ids::{self, KeyUrl};

impl Vaults {
    /// Resolves a key URL to a usable key version, checking vault, key, version state and the
    /// permission `perm` of `object_id`; records nothing. A versionless URL means the latest
    /// version. The error says which key and why: [`Error::KeyDeleted`] for a missing or
    /// soft-deleted vault, key or version, [`Error::AccessDenied`] for a missing permission,
    /// [`Error::KeyDisabled`] for a disabled version.
    pub(super) fn state(
        &self,
        url: &KeyUrl,
        object_id: &str,
        perm: &str,
    ) -> Result<(VaultRecord, KeyRecord, KeyVersionRecord)> {
        let shown = match &url.version {
            Some(v) => url.with_version(v),
            None => format!(
                "https://{}.{}/keys/{}",
                url.vault,
                ids::VAULT_DOMAIN,
                url.key
            ),
        };
        let deleted = |why: String| Error::KeyDeleted {
            key: shown.clone(),
            why,
        };
        let vrec = match self.vault(&url.vault) {
            Ok(v) => v,
            Err(Error::NotFound { .. }) => {
                return Err(deleted(format!(
                    "key vault '{}' does not exist or is soft-deleted",
                    url.vault
                )));
            }
            Err(e) => return Err(e),
        };
        if !self.has_permission(&vrec, object_id, perm, Some(&url.key)) {
            return Err(Error::AccessDenied(format!(
                "the caller {object_id} does not have key permission '{perm}' on key vault '{}'",
                vrec.name
            )));
        }
        let krec = match self.key(&url.vault, &url.key) {
            Ok(k) => k,
            Err(Error::NotFound { .. }) => return Err(deleted("the key does not exist".into())),
            Err(Error::KeyDeleted { why, .. }) => return Err(deleted(why)),
            Err(e) => return Err(e),
        };
        let version = match &url.version {
            Some(v) => krec.versions.iter().find(|x| x.id.eq_ignore_ascii_case(v)),
            None => krec.versions.last(),
        }
        .cloned()
        .ok_or_else(|| deleted("no such key version".into()))?;
        if !version.enabled {
            return Err(Error::KeyDisabled {
                key: shown,
                why: "the key version is disabled; enable it with 'keyvault key set-attributes --enabled true'".into(),
            });
        }
        Ok((vrec, krec, version))
    }

    /// [`Vaults::state`], with a refusal recorded in the audit log.
    pub(super) fn usable(
        &self,
        url: &KeyUrl,
        caller: &Caller,
        perm: &str,
        op: &str,
    ) -> Result<(VaultRecord, KeyRecord, KeyVersionRecord)> {
        let result = self.state(url, caller.object_id, perm);
        if let Err(e) = &result {
            let outcome = match e {
                Error::AccessDenied(_) => format!("Forbidden: {e}"),
                _ => format!("Failed: {e}"),
            };
            if self.vault(&url.vault).is_ok() {
                self.audit(
                    &url.vault,
                    op,
                    caller,
                    Some(&url.key),
                    url.version.as_deref(),
                    &outcome,
                );
            }
        }
        result
    }

    /// Whether `object_id` could unwrap with `url` now (enabled version, vault and key present,
    /// permission held), without recording anything: the mount asks after every change.
    pub fn check_unwrap(&self, url: &KeyUrl, object_id: &str) -> Result<()> {
        self.state(url, object_id, "unwrapKey").map(|_| ())
    }

    /// "get": the facts of a usable key version.
    pub fn get_key(&self, url: &KeyUrl, caller: &Caller) -> Result<KeyInfo> {
        let (vrec, krec, version) = self.usable(url, caller, "get", "KeyGet")?;
        self.audit(
            &vrec.name,
            "KeyGet",
            caller,
            Some(&krec.name),
            Some(&version.id),
            "Succeeded",
        );
        Ok(KeyInfo {
            url: KeyUrl::format(&vrec.name, &krec.name, &version.id),
            key_size: version.key_size,
            vault_location: vrec.location.clone(),
            vault_id: Self::vault_id(&vrec),
        })
    }

    /// A version's public key, from its record.
    pub(super) fn public_of(version: &KeyVersionRecord) -> Result<crate::crypto::PublicKey> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let decode = |s: &str| {
            Base64UrlUnpadded::decode_vec(s)
                .map_err(|_| Error::Crypto(format!("key version {}: bad public key", version.id)))
        };
        crate::crypto::PublicKey::from_components(&decode(&version.n)?, &decode(&version.e)?)
    }

    pub(super) fn load_pair(&self, vault: &str, key: &str, version: &str) -> Result<KeyPair> {
        let path = self.key_dir(vault, key)?.join(format!("{version}.pem"));
        let pem = zeroize::Zeroizing::new(
            fs::read_to_string(&path).ctx(|| format!("read key file {}", path.display()))?,
        );
        KeyPair::from_pem(&pem).map_err(|_| Error::corrupt(&path, "not a valid RSA private key"))
    }

    /// "wrapKey": wraps `dek` under the key version `url` names; returns the wrapped bytes and
    /// the versioned URL that did it.
    pub fn wrap_key(
        &self,
        url: &KeyUrl,
        dek: &DataKey,
        caller: &Caller,
    ) -> Result<(Vec<u8>, String)> {
        let (vrec, krec, version) = self.usable(url, caller, "wrapKey", "WrapKey")?;
        check_op(&vrec, &krec, &version, "wrapKey")?;
        // Outside its dates a version wraps nothing, though it still unwraps (as in Key Vault).
        let shown = KeyUrl::format(&vrec.name, &krec.name, &version.id);
        if let Err(e) = super::check_can_wrap(&shown, &version, crate::clock::now_secs()) {
            let outcome = format!("Failed: {e}");
            self.audit(
                &vrec.name,
                "WrapKey",
                caller,
                Some(&krec.name),
                Some(&version.id),
                &outcome,
            );
            return Err(e);
        }
        // Wrapping needs only the public key, which the record keeps (an HSM key's private
        // half never leaves its token; a software key's PEM is not read for this).
        let wrapped = Self::public_of(&version)?.wrap_key(dek)?;
        self.audit(
            &vrec.name,
            "WrapKey",
            caller,
            Some(&krec.name),
            Some(&version.id),
            "Succeeded",
        );
        Ok((wrapped, KeyUrl::format(&vrec.name, &krec.name, &version.id)))
    }

    /// "unwrapKey": unwraps a DEK wrapped by the key version `url` names.
    pub fn unwrap_key(&self, url: &KeyUrl, wrapped: &[u8], caller: &Caller) -> Result<DataKey> {
        let (vrec, krec, version) = self.usable(url, caller, "unwrapKey", "UnwrapKey")?;
        check_op(&vrec, &krec, &version, "unwrapKey")?;
        let unwrapped = match &version.hsm {
            // Inside the token: the private key never leaves it.
            Some(_) => self
                .token()
                .and_then(|t| t.unwrap_key(&crate::hsm::object_id(&version.id), wrapped)),
            None => self
                .load_pair(&vrec.name, &krec.name, &version.id)
                .and_then(|pair| pair.unwrap_key(wrapped)),
        };
        match unwrapped {
            Ok(dek) => {
                self.audit(
                    &vrec.name,
                    "UnwrapKey",
                    caller,
                    Some(&krec.name),
                    Some(&version.id),
                    "Succeeded",
                );
                Ok(dek)
            }
            Err(e) => {
                self.audit(
                    &vrec.name,
                    "UnwrapKey",
                    caller,
                    Some(&krec.name),
                    Some(&version.id),
                    &format!("Failed: {e}"),
                );
                Err(e)
            }
        }
    }

    /// "encrypt": RSA-OAEP-256 of `plain` under the key version `url` names (`keyvault key
    /// encrypt`); returns the ciphertext and the versioned URL that made it.
    pub fn encrypt(
        &self,
        url: &KeyUrl,
        plain: &[u8],
        caller: &Caller,
    ) -> Result<(Vec<u8>, String)> {
        let (vrec, krec, version) = self.usable(url, caller, "encrypt", "Encrypt")?;
        let shown = KeyUrl::format(&vrec.name, &krec.name, &version.id);
        let result = check_op(&vrec, &krec, &version, "encrypt")
            .and_then(|()| Self::public_of(&version)?.encrypt_oaep256(plain));
        let outcome = match &result {
            Ok(_) => "Succeeded".to_string(),
            Err(e) => format!("Failed: {e}"),
        };
        self.audit(
            &vrec.name,
            "Encrypt",
            caller,
            Some(&krec.name),
            Some(&version.id),
            &outcome,
        );
        Ok((result?, shown))
    }

    /// "decrypt": the RSA-OAEP-256 plaintext of `cipher` under the key version `url` names
    /// (`keyvault key decrypt`). Software keys only: an HSM key's token unwraps data keys and
    /// nothing else.
    pub fn decrypt(
        &self,
        url: &KeyUrl,
        cipher: &[u8],
        caller: &Caller,
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, String)> {
        let (vrec, krec, version) = self.usable(url, caller, "decrypt", "Decrypt")?;
        let shown = KeyUrl::format(&vrec.name, &krec.name, &version.id);
        let result = check_op(&vrec, &krec, &version, "decrypt").and_then(|()| {
            if version.hsm.is_some() {
                return Err(Error::not_supported(format!(
                    "decrypt with HSM-protected key '{}' is not supported: its token only unwraps data keys",
                    krec.name
                )));
            }
            self.load_pair(&vrec.name, &krec.name, &version.id)?
                .decrypt_oaep256(cipher)
        });
        let outcome = match &result {
            Ok(_) => "Succeeded".to_string(),
            Err(e) => format!("Failed: {e}"),
        };
        self.audit(
            &vrec.name,
            "Decrypt",
            caller,
            Some(&krec.name),
            Some(&version.id),
            &outcome,
        );
        Ok((result?, shown))
    }
}

/// Refuses an operation the version's `--ops` do not permit.
fn check_op(vrec: &VaultRecord, krec: &KeyRecord, v: &KeyVersionRecord, op: &str) -> Result<()> {
    match &v.key_ops {
        Some(ops) if !ops.iter().any(|o| o.eq_ignore_ascii_case(op)) => {
            Err(Error::not_allowed(format!(
                "Operation {op} is not permitted on key '{}' in vault '{}' (its operations: {})",
                krec.name,
                vrec.name,
                ops.join(", ")
            )))
        }
        _ => Ok(()),
    }
}
