//! Key rotation of a disk encryption set: re-wrap, never re-encrypt.
//!
//! Crash safety comes from the order of the writes. First the set's record is replaced with
//! the new `activeKey` and the old key appended to `previousKeys`. Then each disk and snapshot
//! of the set is re-wrapped, one atomic record replacement each; a record always names the exact
//! key version that wrapped its DEK, so after a crash every resource is readable under the old
//! or the new version. Last, `previousKeys` is emptied. Any later command that opens the store
//! sees a non-empty `previousKeys` and finishes the job ([`Service::resume_rotations`]).

use super::dek::Protector;
use super::{Service, views};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{DesRecord, Kek, KeyRef, VolumeRecord};
use crate::ids::{KeyUrl, Kind};
use crate::log;

impl Service {
    /// Points `des` at `new_key` and re-wraps every resource that uses it.
    pub(super) fn rotate_des(&self, mut des: DesRecord, new_key: KeyRef) -> Result<DesRecord> {
        if des.active_key != new_key {
            // The identity must be able to use the new key before the set is committed to it.
            let mut probe = des.clone();
            probe.active_key = new_key.clone();
            self.check_des_access(&probe)?;
            let old = std::mem::replace(&mut des.active_key, new_key);
            if !des.previous_keys.contains(&old) {
                des.previous_keys.push(old);
            }
            self.save_des(&des)?;
        }
        self.finish_rotation(&mut des)?;
        Ok(des)
    }

    /// Re-wraps the set's resources that are not yet under its active key; empties
    /// `previousKeys` when none is left. Says which resources are stuck and why otherwise.
    pub(super) fn finish_rotation(&self, des: &mut DesRecord) -> Result<()> {
        let target = Kek::Customer {
            key_url: des.active_key.key_url.clone(),
        };
        let pending: Vec<VolumeRecord> = self
            .volumes_of_des(des)?
            .into_iter()
            .filter(|rec| rec.key.kek != target)
            .collect();
        // Each re-wrap is an RSA unwrap (milliseconds) and an atomic record write: spread them
        // over the cores. Records are independent files, so the workers share nothing.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(pending.len().max(1));
        let chunk = pending.len().div_ceil(workers).max(1);
        // A bar on the caller's terminal for a set of many disks (src/progress.rs).
        let progress = crate::progress::Progress::items(
            format!("re-wrapping the DEKs of disk encryption set '{}'", des.name),
            pending.len() as u64,
        );
        let protector = Protector::Customer(des);
        let stuck: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = pending
                .chunks(chunk)
                .map(|part| {
                    let protector = &protector;
                    let progress = &progress;
                    scope.spawn(move || {
                        let mut stuck = Vec::new();
                        for rec in part {
                            let mut rec = rec.clone();
                            if let Err(e) = self.rewrap(&mut rec, protector) {
                                stuck.push(format!("{} ({e})", views::volume_id(&rec)));
                            }
                            progress.inc(1);
                        }
                        stuck
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec!["a re-wrap worker panicked".to_string()])
                })
                .collect()
        });
        if !stuck.is_empty() {
            // One line, whatever the number of resources: the first few, then a count.
            const SHOWN: usize = 3;
            let more = stuck.len().saturating_sub(SHOWN);
            return Err(Error::not_allowed(format!(
                "rotation of disk encryption set '{}' to {} is unfinished: previousKeys keeps the old key until these resources are re-wrapped, which any later command retries: {}{}",
                des.name,
                des.active_key.key_url,
                stuck[..stuck.len().min(SHOWN)].join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            )));
        }
        if !des.previous_keys.is_empty() {
            des.previous_keys.clear();
            des.last_key_rotation_timestamp = Some(clock::now_rfc3339());
            self.save_des(des)?;
        }
        Ok(())
    }

    /// Unwraps a resource's DEK with the key that wraps it now and wraps it for `protector`.
    /// An open disk's DEK is taken from memory, so a rotation finishes even when the old key
    /// version can no longer unwrap.
    pub(super) fn rewrap(&self, rec: &mut VolumeRecord, protector: &Protector) -> Result<()> {
        let id = views::volume_id(rec);
        let from_memory = self
            .open_volume_of(rec)
            .and_then(|v| v.with_dek(|dek| self.wrap_dek(dek, protector, &id)));
        rec.key = match from_memory {
            Some(wrapped) => wrapped?,
            None => self.wrap_dek(&self.unwrap_dek(rec)?, protector, &id)?,
        };
        self.save_volume(rec)
    }

    /// The latest version of the set's key, when it is newer than the active one.
    pub(super) fn latest_key_ref(&self, des: &DesRecord) -> Result<Option<KeyRef>> {
        let url = KeyUrl::parse(&des.active_key.key_url)?;
        let key = self.store.vaults().key(&url.vault, &url.key)?;
        let Some(latest) = key.versions.last() else {
            return Ok(None);
        };
        if url
            .version
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(&latest.id))
        {
            return Ok(None);
        }
        self.resolve_des_key(&url.with_version(&latest.id), None, &des.location)
            .map(Some)
    }

    /// After a key got a new version: sets with auto-rotation on that key move to it. The new
    /// version exists whatever happens here, so failures are reported, not returned.
    pub(super) fn after_new_version(&self, vault: &str, key: &str) {
        let sets = match self.all_des() {
            Ok(s) => s,
            Err(e) => return log::warn(&format!("auto-rotation skipped: {e}")),
        };
        for des in sets {
            let Ok(url) = KeyUrl::parse(&des.active_key.key_url) else {
                continue;
            };
            if !des.rotation_to_latest_key_version_enabled
                || !url.vault.eq_ignore_ascii_case(vault)
                || !url.key.eq_ignore_ascii_case(key)
            {
                continue;
            }
            let name = des.name.clone();
            let result = self.latest_key_ref(&des).and_then(|latest| match latest {
                Some(k) => self.rotate_des(des, k).map(|_| ()),
                None => Ok(()),
            });
            if let Err(e) = result {
                log::warn(&format!(
                    "auto-rotation of disk encryption set '{name}': {e}"
                ));
            }
        }
    }

    /// Finishes rotations a crash interrupted, and auto-rotations a crash kept from starting.
    pub fn resume_rotations(&self) {
        let sets = match self.all_des() {
            Ok(s) => s,
            Err(e) => return log::warn(&format!("cannot check for unfinished rotations: {e}")),
        };
        for mut des in sets {
            let name = des.name.clone();
            let result = if !des.previous_keys.is_empty() {
                self.finish_rotation(&mut des)
            } else if des.rotation_to_latest_key_version_enabled {
                match self.latest_key_ref(&des) {
                    Ok(Some(k)) => self.rotate_des(des, k).map(|_| ()),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                }
            } else {
                Ok(())
            };
            if let Err(e) = result {
                log::warn(&format!("disk encryption set '{name}': {e}"));
            }
        }
    }

    /// Every disk and snapshot whose record names `des`.
    pub(super) fn volumes_of_des(&self, des: &DesRecord) -> Result<Vec<VolumeRecord>> {
        let id = views::des_id(des);
        let mut out = Vec::new();
        for kind in [Kind::Disk, Kind::Snapshot, Kind::Image] {
            for rec in self.all_volumes(kind)? {
                if rec
                    .disk_encryption_set_id
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(&id))
                {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }
}
