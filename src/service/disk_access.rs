//! `disk grant-access` and `disk revoke-access` (and the same for snapshots): an export of a
//! disk's plaintext. In the cloud the answer is a SAS URL to the disk's blob; here it is the
//! disk's plaintext file in the mount, which any reader of the mount can already use. What is
//! emulated is the state: while an export lasts the disk shows `diskState: ActiveSAS` and
//! changes to it (update, delete, attach) are refused, as in Azure, until `revoke-access` or
//! the end of `--duration-in-seconds`.

use serde_json::{Value, json};

use super::{Service, views};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{AccessGrant, VolumeRecord};
use crate::ids::Kind;

/// The export in force on a volume, if any (an expired one is over).
pub fn exported(rec: &VolumeRecord) -> Option<&AccessGrant> {
    rec.access
        .as_ref()
        .filter(|a| a.expires_at > clock::now_secs())
}

impl Service {
    /// Refuses a change to a volume whose export is in force.
    pub(super) fn refuse_if_exported(&self, rec: &VolumeRecord, what: &str) -> Result<()> {
        match exported(rec) {
            Some(a) => Err(Error::Busy(format!(
                "{} '{}' is exported ({} access, diskState ActiveSAS) until {}: {what} is not allowed until 'revoke-access'",
                rec.kind.resource_kind().label(),
                rec.name,
                a.access,
                clock::rfc3339(a.expires_at)
            ))),
            None => Ok(()),
        }
    }

    /// `disk grant-access --access-level Read|Write --duration-in-seconds N`.
    pub fn volume_grant_access(
        &self,
        kind: Kind,
        name_or_id: &str,
        group: Option<&str>,
        access_level: &str,
        duration_in_seconds: i64,
    ) -> Result<Value> {
        let access = match access_level.to_ascii_lowercase().as_str() {
            "read" => "Read",
            "write" => "Write",
            _ => {
                return Err(Error::invalid(format!(
                    "--access-level must be Read or Write, not '{}'",
                    access_level.chars().take(20).collect::<String>()
                )));
            }
        };
        if duration_in_seconds <= 0 {
            return Err(Error::invalid(
                "--duration-in-seconds must be a positive number of seconds",
            ));
        }
        let mut rec = self.load_volume_by_ref(kind, name_or_id, group)?;
        if kind == Kind::Snapshot && access == "Write" {
            return Err(Error::not_allowed(format!(
                "snapshot '{}' is read-only: only Read access can be granted",
                rec.name
            )));
        }
        // An attached disk cannot be exported (the cloud refuses it the same way).
        self.refuse_if_attached(&rec, "granting access")?;
        rec.access = Some(AccessGrant {
            access: access.to_string(),
            expires_at: clock::now_secs().saturating_add(duration_in_seconds),
        });
        self.save_volume(&rec)?;
        Ok(json!({ "accessSas": self.plaintext_path(&rec)? }))
    }

    /// `disk revoke-access`: ends the export (nothing when there is none).
    pub fn volume_revoke_access(
        &self,
        kind: Kind,
        name_or_id: &str,
        group: Option<&str>,
    ) -> Result<Value> {
        let mut rec = self.load_volume_by_ref(kind, name_or_id, group)?;
        if rec.access.take().is_some() {
            self.save_volume(&rec)?;
        }
        Ok(Value::Null)
    }

    /// The volume's plaintext file in the store's mount (`mount-point` setting).
    fn plaintext_path(&self, rec: &VolumeRecord) -> Result<String> {
        let kind = rec.kind.resource_kind();
        let reference = rec.reference();
        let shown = self
            .volume_listing(kind)?
            .into_iter()
            .find(|(_, r)| r.eq_ignore_ascii_case(&reference))
            .map_or_else(|| rec.name.clone(), |(shown, _)| shown);
        let dir = if kind == Kind::Snapshot {
            "snapshots"
        } else {
            "disks"
        };
        let root = self.store.root();
        Ok(self
            .store
            .config()
            .mount_point(root)
            .join(dir)
            .join(shown)
            .display()
            .to_string())
    }

    /// `snapshot update`: SKU (Standard_LRS, Premium_LRS, Standard_ZRS) and encryption (a
    /// snapshot keeps its source's key: only the set it already uses is accepted).
    pub fn snapshot_update(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        sku: Option<&str>,
        encryption_type: Option<&str>,
        disk_encryption_set: Option<&str>,
    ) -> Result<Value> {
        let mut rec = self.load_volume_by_ref(Kind::Snapshot, name_or_id, group)?;
        if encryption_type.is_some() || disk_encryption_set.is_some() {
            let wanted_set = match disk_encryption_set {
                Some(set) => Some(views::des_id(
                    &self.load_des_by_ref(set, Some(&rec.resource_group))?,
                )),
                None => rec.disk_encryption_set_id.clone(),
            };
            let wanted_type = encryption_type.unwrap_or(if wanted_set.is_some() {
                "EncryptionAtRestWithCustomerKey"
            } else {
                "EncryptionAtRestWithPlatformKey"
            });
            let same_type = wanted_type.eq_ignore_ascii_case(rec.encryption_type.as_str());
            let same_set = match (&wanted_set, &rec.disk_encryption_set_id) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            };
            if !same_type || !same_set {
                return Err(Error::not_allowed(format!(
                    "snapshot '{}' must keep the key of its source ({}): a snapshot's encryption cannot be changed",
                    rec.name,
                    rec.disk_encryption_set_id
                        .as_deref()
                        .unwrap_or("the platform key")
                )));
            }
        }
        if let Some(sku) = sku {
            let canonical = ["Standard_LRS", "Premium_LRS", "Standard_ZRS"]
                .into_iter()
                .find(|s| s.eq_ignore_ascii_case(sku))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "--sku must be Standard_LRS, Premium_LRS or Standard_ZRS, not '{}'",
                        sku.chars().take(30).collect::<String>()
                    ))
                })?;
            self.refuse_if_exported(&rec, "changing its SKU")?;
            rec.sku = canonical.to_string();
            self.save_volume(&rec)?;
        }
        Ok(views::volume(&rec, self.attachment(&rec).as_ref()))
    }
}
