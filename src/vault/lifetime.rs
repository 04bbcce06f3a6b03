//! A key's lifetime: the activation and expiry dates of its versions (a version wraps only
//! between them and unwraps always, as in Key Vault), its rotation policy (get and set, with
//! their own permissions and audit entries), and the rotations the policy makes due, which
//! the vault service performs itself.

use super::rotation_policy;
use super::*;
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{KeyRecord, KeyVersionRecord, RotationPolicyRecord, VaultRecord};
use crate::ids;

/// The caller of rotations the vault makes by itself: the object id of the Azure Key Vault
/// service's application (the first-party app `cfa8b339-82a2-471a-a3c9-0fc0be7a4093`), as the
/// cloud's logs show the service acting on its own. No access policy is needed for it.
pub const VAULT_SERVICE_OBJECT_ID: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

/// The dates of a new version, or of a change to a version (`None`: unchanged or unset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionDates {
    /// Unix seconds after which the version wraps nothing.
    pub expires: Option<i64>,
    /// Unix seconds before which the version wraps nothing.
    pub not_before: Option<i64>,
    /// Seconds after the version's creation when it expires (a rotation policy's
    /// `expiryTime`): counted from the creation time the record gets, not from an earlier
    /// clock reading, so that `expires - created` is exactly the policy's duration.
    pub expires_after: Option<i64>,
}

impl VersionDates {
    /// Refuses an expiry that is not after the activation date.
    pub fn check(&self) -> Result<()> {
        match (self.not_before, self.expires) {
            (Some(nbf), Some(exp)) if exp <= nbf => Err(Error::invalid(format!(
                "--expires {} is not after --not-before {}",
                clock::rfc3339(exp),
                clock::rfc3339(nbf)
            ))),
            _ => Ok(()),
        }
    }
}

/// The id Key Vault gives a key's rotation policy.
pub fn policy_id(vault: &str, key: &str) -> String {
    format!(
        "https://{}.{}/keys/{key}/rotationpolicy",
        vault.to_ascii_lowercase(),
        ids::VAULT_DOMAIN
    )
}

/// Whether version `v` (shown as `url`) may wrap at `now`: not before its `notBefore`, not
/// after its `expires`. Unwrapping is never refused for dates, so the disks an expired version
/// protects stay readable.
pub fn check_can_wrap(url: &str, v: &KeyVersionRecord, now: i64) -> Result<()> {
    let dates = || {
        format!(
            "notBefore: {}, expires: {}",
            v.not_before.map_or("none".into(), clock::rfc3339),
            v.expires.map_or("none".into(), clock::rfc3339)
        )
    };
    if let Some(exp) = v.expires
        && now >= exp
    {
        return Err(Error::KeyExpired {
            key: url.to_string(),
            why: format!(
                "version {} expired at {} ({}); it still unwraps the data keys it protects, but wraps no new one: make a new version (keyvault key rotate) and point the disk encryption set at it (automatic with --enable-auto-key-rotation true)",
                v.id,
                clock::rfc3339(exp),
                dates()
            ),
        });
    }
    if let Some(nbf) = v.not_before
        && now < nbf
    {
        return Err(Error::KeyExpired {
            key: url.to_string(),
            why: format!(
                "version {} is not valid before {} ({}); until then it wraps no data key",
                v.id,
                clock::rfc3339(nbf),
                dates()
            ),
        });
    }
    Ok(())
}

impl Vaults {
    /// A key's rotation policy (`rotation-policy show`, needs `getrotationpolicy`); `None`
    /// when none was set.
    pub fn rotation_policy(
        &self,
        vault: &str,
        key: &str,
        caller: &Caller,
    ) -> Result<(VaultRecord, KeyRecord)> {
        let vrec = self.vault(vault)?;
        self.require(
            &vrec,
            caller,
            "getrotationpolicy",
            "KeyRotationPolicyGet",
            Some(key),
        )?;
        let krec = self.key(vault, key)?;
        self.audit(
            &vrec.name,
            "KeyRotationPolicyGet",
            caller,
            Some(&krec.name),
            None,
            "Succeeded",
        );
        Ok((vrec, krec))
    }

    /// Sets a key's rotation policy (`rotation-policy update`, needs `setrotationpolicy`) from
    /// the JSON az sends, after Key Vault's checks. The policy applies from now: a rotation it
    /// makes due happens at the next check (see [`Vaults::rotate_due_keys`]).
    pub fn set_rotation_policy(
        &self,
        vault: &str,
        key: &str,
        value: &serde_json::Value,
        caller: &Caller,
    ) -> Result<(VaultRecord, KeyRecord)> {
        let vrec = self.vault(vault)?;
        self.require(
            &vrec,
            caller,
            "setrotationpolicy",
            "KeyRotationPolicySet",
            Some(key),
        )?;
        let mut krec = self.key(vault, key)?;
        let (lifetime_actions, expiry_time) = rotation_policy::parse(value)?;
        let now = clock::now_secs();
        let created = krec.rotation_policy.as_ref().map_or(now, |p| p.created);
        krec.rotation_policy = Some(RotationPolicyRecord {
            lifetime_actions,
            expiry_time,
            created,
            updated: now,
        });
        self.save_key(&vrec.name, &krec)?;
        self.audit(
            &vrec.name,
            "KeyRotationPolicySet",
            caller,
            Some(&krec.name),
            None,
            "Succeeded",
        );
        Ok((vrec, krec))
    }

    /// Performs every rotation a policy makes due now, as the vault service: a new version of
    /// the latest one's size, with the policy's `expiryTime`, audited as `KeyRotateIfDue` with
    /// the policy as the resource. Returns the (vault, key) names that got a version. A key
    /// whose latest version is disabled is left alone (Key Vault refuses operations on a
    /// disabled key) until it is enabled again; failures are reported, never returned, since
    /// this runs beside other commands.
    pub fn rotate_due_keys(&self) -> Vec<(String, String)> {
        let mut rotated = Vec::new();
        let vaults = match self.all_vaults() {
            Ok(v) => v,
            // An unreachable vault directory is reported by whatever needs a key (and by
            // `check`); nothing is due while it is away.
            Err(crate::error::Error::KeysUnreachable { .. }) => return rotated,
            Err(e) => {
                crate::log::warn(&format!("automatic key rotation skipped: {e}"));
                return rotated;
            }
        };
        let now = clock::now_secs();
        for vrec in vaults.iter().filter(|v| v.deleted.is_none()) {
            let keys = match self.all_keys(&vrec.name) {
                Ok(k) => k,
                Err(e) => {
                    crate::log::warn(&format!(
                        "automatic key rotation in vault '{}' skipped: {e}",
                        vrec.name
                    ));
                    continue;
                }
            };
            for krec in keys.iter().filter(|k| k.deleted.is_none()) {
                let (Some(policy), Some(latest)) = (&krec.rotation_policy, krec.versions.last())
                else {
                    continue;
                };
                if !latest.enabled || rotation_policy::rotation_due(policy, latest, now).is_none() {
                    continue;
                }
                match self.rotate_for_policy(vrec, krec, latest.key_size) {
                    Ok(()) => rotated.push((vrec.name.clone(), krec.name.clone())),
                    Err(e) => crate::log::warn(&format!(
                        "automatic rotation of key '{}' in vault '{}': {e}",
                        krec.name, vrec.name
                    )),
                }
            }
        }
        rotated
    }

    fn rotate_for_policy(&self, vrec: &VaultRecord, krec: &KeyRecord, bits: usize) -> Result<()> {
        let policy = policy_id(&vrec.name, &krec.name);
        let caller = Caller {
            object_id: VAULT_SERVICE_OBJECT_ID,
            resource: Some(&policy),
        };
        let now = clock::now_secs();
        let dates = VersionDates {
            expires_after: rotation_policy::rotated_expiry(krec.rotation_policy.as_ref(), now)
                .map(|at| at - now),
            ..VersionDates::default()
        };
        self.store_version(
            vrec,
            &krec.name,
            super::keys::KeySource::Generate(bits),
            None,
            "KeyRotateIfDue",
            &caller,
            dates,
        )
        .map(drop)
    }

    /// The dates a version made by `keyvault key rotate` gets: the policy's `expiryTime`.
    pub(super) fn rotation_dates(rec: &KeyRecord) -> VersionDates {
        let now = clock::now_secs();
        VersionDates {
            expires_after: rotation_policy::rotated_expiry(rec.rotation_policy.as_ref(), now)
                .map(|at| at - now),
            ..VersionDates::default()
        }
    }
}
