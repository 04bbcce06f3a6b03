//! Long and multi-step volume changes: copies made for `disk create --source` and
//! `snapshot create`, the re-encryption of a disk switched to a new key, and interrupted
//! grows; each split so that the slow part runs without the service lock and a crash at any
//! point is finished when the store is next opened.
//!
//! - A copy is planned under the lock (validated, DEK wrapped, name reserved), its data copied
//!   into a temporary directory without it (as ciphertext, or re-encrypted under a fresh DEK
//!   when a disk is made with another protector than its source's), and put in place under it
//!   again. A crash leaves a
//!   temporary, removed at the next open: the copy did not happen.
//! - A re-encryption first records its intent in the disk's record (`pending: Rekey`, with the
//!   fresh DEK already wrapped by the new key), writes `data.rekey` without the lock, records
//!   `copied: true`, renames `data.rekey` over `data` and only then replaces the record's key.
//!   A crash before `copied` restarts the re-encryption; after it, finishes the rename and the
//!   record. Until it is done the disk cannot be opened, copied or deleted.
//! - A grow records `pending: Resize` with the old size, then extends the data file.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::dek::Protector;
use super::{Service, views};
use crate::crypto::DataKey;
use crate::error::{Error, IoContext, Result};
use crate::format::{PendingChange, VolumeRecord, WrappedKey};
use crate::fsio;
use crate::ids::Kind;
use crate::log;
use crate::volume;

/// The name of a re-encrypted data file before it replaces `data`.
const REKEY_DATA: &str = "data.rekey";

/// Names of volumes being created by this process and not yet in place: a second create of
/// the same name must fail at once rather than after its copy.
#[derive(Default, Clone)]
pub(super) struct Reservations(Arc<Mutex<HashSet<(Kind, String)>>>);

/// A reserved name, released when dropped.
pub(super) struct Reservation {
    table: Reservations,
    key: (Kind, String),
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.table.0.lock().remove(&self.key);
    }
}

impl Reservations {
    pub(super) fn contains(&self, kind: Kind, name: &str) -> bool {
        self.0.lock().contains(&(kind, name.to_ascii_lowercase()))
    }
}

/// A create prepared by [`Service::plan_volume_create`].
pub(super) struct CreatePlan {
    pub(super) _reservation: Reservation,
    pub(super) kind: Kind,
    pub(super) rec: VolumeRecord,
    /// Kept to re-wrap if the set's key rotates while the data is copied.
    pub(super) dek: DataKey,
    /// The source's DEK when the copy is re-encrypted under `dek` (a disk made with another
    /// protector than its source's); `None` when the ciphertext is copied as it is.
    pub(super) source_dek: Option<DataKey>,
    pub(super) source_data: Option<PathBuf>,
    pub(super) tmp: PathBuf,
}

impl CreatePlan {
    /// Builds the data file in the temporary directory: a sparse copy (or reflink) of the
    /// source's ciphertext, or an empty sparse file; sized and fsynced. Needs no lock.
    pub(super) fn copy_data(&self) -> Result<()> {
        #[cfg(test)]
        tests::gate::pause(&self.rec.name);
        let result = (|| {
            fsio::create_private_dir(&self.tmp)?;
            let data = self.tmp.join("data");
            match (&self.source_data, &self.source_dek) {
                (Some(src), Some(src_dek)) => volume::reencrypt_file(
                    src,
                    &data,
                    self.rec.size_bytes,
                    src_dek,
                    &self.dek,
                    &format!("re-encrypting {} '{}'", self.kind.label(), self.rec.name),
                )?,
                (Some(src), None) => fsio::sparse_copy(
                    src,
                    &data,
                    &format!("copying {} '{}'", self.kind.label(), self.rec.name),
                )?,
                (None, _) => drop(fsio::create_new_private(&data)?),
            }
            let f = fs::OpenOptions::new()
                .write(true)
                .open(&data)
                .ctx(|| format!("open {}", data.display()))?;
            f.set_len(self.rec.size_bytes)
                .ctx(|| format!("size {}", data.display()))?;
            f.sync_all().ctx(|| format!("fsync {}", data.display()))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
        result
    }
}

/// What [`Service::plan_disk_update`] decided.
pub(super) enum UpdatePlan {
    /// Applied already.
    Done(Value),
    /// The record holds a re-encryption intent; the data must be re-encrypted.
    Rekey(RekeyJob),
}

/// How a switch moves the DEK to its new protector.
pub(super) enum Switch {
    /// Nobody else has this DEK: wrap it under the new key (the data is not touched).
    Rewrap(WrappedKey),
    /// Others share it: a fresh DEK, wrapped as `key`, and the data re-encrypted.
    Rekey {
        old: DataKey,
        fresh: DataKey,
        key: WrappedKey,
    },
}

/// A re-encryption to run without the lock.
pub(super) struct RekeyJob {
    /// The disk's reference (`NAME@GROUP`).
    reference: String,
    data: PathBuf,
    staged: PathBuf,
    size: u64,
    old: DataKey,
    fresh: DataKey,
}

impl RekeyJob {
    /// Re-encrypts `data` into `data.rekey` (a leftover of an earlier attempt is replaced).
    pub(super) fn reencrypt(&self) -> Result<()> {
        #[cfg(test)]
        tests::gate::pause(
            self.reference
                .split(crate::ids::GROUP_SEPARATOR)
                .next()
                .unwrap_or_default(),
        );
        match fs::remove_file(&self.staged) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("remove {}", self.staged.display()), e)),
        }
        log::info(&format!(
            "disk '{}': re-encrypting its data under a fresh data key",
            self.reference
        ));
        volume::reencrypt_file(
            &self.data,
            &self.staged,
            self.size,
            &self.old,
            &self.fresh,
            &format!("re-encrypting disk '{}'", self.reference),
        )
    }
}

/// A short description of a pending change, for messages.
pub(super) fn pending_label(p: &PendingChange) -> &'static str {
    match p {
        PendingChange::Resize { .. } => "a resize",
        PendingChange::Rekey { .. } => "a re-encryption under a new key",
    }
}

/// `disk create` / `snapshot create` for a shared service: the copy runs without the lock,
/// so that the mount and other commands are served meanwhile.
pub fn volume_create_shared(
    shared: &Mutex<Service>,
    kind: Kind,
    args: &super::VolumeArgs,
) -> Result<Value> {
    let plan = shared.lock().plan_volume_create(kind, args)?;
    plan.copy_data()?;
    shared.lock().finish_volume_create(plan)
}

/// `disk update` for a shared service: a re-encryption runs without the lock.
pub fn disk_update_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
    upd: &super::VolumeUpdate,
) -> Result<Value> {
    let plan = shared.lock().plan_disk_update(name_or_id, group, upd)?;
    match plan {
        UpdatePlan::Done(value) => Ok(value),
        UpdatePlan::Rekey(job) => {
            let copied = job.reencrypt();
            shared.lock().finish_rekey(job, copied)
        }
    }
}

impl Service {
    /// Reserves a new volume's name until the returned guard is dropped.
    pub(super) fn reserve(&self, kind: Kind, name: &str) -> Result<Reservation> {
        let key = (kind, name.to_ascii_lowercase());
        if !self.reserved.0.lock().insert(key.clone()) {
            return Err(Error::AlreadyExists {
                kind: kind.label(),
                name: name.to_string(),
            });
        }
        Ok(Reservation {
            table: self.reserved.clone(),
            key,
        })
    }

    /// Whether another disk or snapshot holds the same DEK as `rec` (by check value).
    pub(super) fn dek_shared(&self, rec: &VolumeRecord) -> Result<bool> {
        Ok(!self.dek_sharers(rec)?.is_empty())
    }

    /// Whether a resource wrapped under another protector than `rec`'s holds its DEK: the
    /// state an earlier release could leave after a switch, which a `disk update` to the set
    /// the disk already uses repairs by re-encrypting it.
    pub(super) fn dek_shared_across_protectors(&self, rec: &VolumeRecord) -> Result<bool> {
        let mine = protector_of(rec);
        Ok(self
            .dek_sharers(rec)?
            .iter()
            .any(|other| protector_of(other) != mine))
    }

    fn dek_sharers(&self, rec: &VolumeRecord) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        for kind in [Kind::Disk, Kind::Snapshot, Kind::Image] {
            for other in self.all_volumes(kind)? {
                let same = other.kind == rec.kind
                    && other.reference().eq_ignore_ascii_case(&rec.reference());
                if !same && other.key.dek_check == rec.key.dek_check {
                    out.push(other);
                }
            }
        }
        Ok(out)
    }

    pub(super) fn rekey_job(
        &self,
        rec: &VolumeRecord,
        old: DataKey,
        fresh: DataKey,
    ) -> Result<RekeyJob> {
        let data = self.data_path(Kind::Disk, &rec.reference())?;
        let staged = data.with_file_name(REKEY_DATA);
        Ok(RekeyJob {
            reference: rec.reference(),
            data,
            staged,
            size: rec.size_bytes,
            old,
            fresh,
        })
    }

    /// Ends a re-encryption: on success, commits it (see the module doc); on failure, drops
    /// the staged file and the intent, leaving the disk as it was.
    pub(super) fn finish_rekey(&self, job: RekeyJob, copied: Result<()>) -> Result<Value> {
        let mut rec = self.load_volume(Kind::Disk, &job.reference)?;
        let intent_matches = matches!(&rec.pending,
            Some(PendingChange::Rekey { key, .. }) if key.dek_check == job.fresh.check_value());
        if !intent_matches {
            let _ = fs::remove_file(&job.staged);
            return Err(Error::Busy(format!(
                "disk '{}' changed while it was re-encrypted; its switch was abandoned",
                rec.name
            )));
        }
        if let Err(e) = copied {
            let _ = fs::remove_file(&job.staged);
            rec.pending = None;
            self.save_volume(&rec)?;
            return Err(e);
        }
        if let Some(PendingChange::Rekey { copied, .. }) = &mut rec.pending {
            *copied = true;
        }
        self.save_volume(&rec)?;
        self.commit_rekey(&mut rec, Some(&job.fresh))?;
        Ok(views::volume(&rec, self.attachment(&rec).as_ref()))
    }

    /// The steps after `copied: true`: put `data.rekey` in place (unless a crash after the
    /// rename already did), re-wrap the fresh DEK if the set rotated meanwhile (when it is at
    /// hand), and replace the record's key.
    fn commit_rekey(&self, rec: &mut VolumeRecord, fresh: Option<&DataKey>) -> Result<()> {
        let Some(PendingChange::Rekey {
            key,
            encryption_type,
            disk_encryption_set_id,
            ..
        }) = rec.pending.clone()
        else {
            return Ok(());
        };
        let data = self.data_path(Kind::Disk, &rec.reference())?;
        let staged = data.with_file_name(REKEY_DATA);
        if staged.exists() {
            fs::rename(&staged, &data)
                .ctx(|| format!("rename {} to {}", staged.display(), data.display()))?;
            if let Some(dir) = data.parent() {
                fsio::sync_dir(dir)?;
            }
        }
        rec.key = key;
        rec.encryption_type = encryption_type;
        rec.disk_encryption_set_id = disk_encryption_set_id;
        rec.pending = None;
        if let (Some(dek), Some(id)) = (fresh, rec.disk_encryption_set_id.clone()) {
            let des = self.load_des_by_ref(&id, None)?;
            let current = crate::format::Kek::Customer {
                key_url: des.active_key.key_url.clone(),
            };
            if rec.key.kek != current {
                rec.key = self.wrap_dek(dek, &Protector::Customer(&des), &views::volume_id(rec))?;
            }
        }
        self.save_volume(rec)?;
        log::info(&format!(
            "disk '{}': now encrypted under a fresh data key",
            rec.name
        ));
        Ok(())
    }

    /// Extends the data file to the record's size and clears the resize intent.
    pub(super) fn finish_resize(&self, rec: &mut VolumeRecord) -> Result<()> {
        let data = self.data_path(rec.kind.resource_kind(), &rec.reference())?;
        grow_file(&data, rec.size_bytes)?;
        rec.pending = None;
        self.save_volume(rec)
    }

    /// Finishes every change a crash interrupted (called when the store is opened, before
    /// anything else uses it). A change that cannot be finished now (its key is unusable)
    /// stays recorded, with a warning, and is tried again at the next open.
    pub(super) fn resume_pending_changes(&self) {
        for kind in [Kind::Disk, Kind::Snapshot, Kind::Image] {
            let records = match self.all_volumes(kind) {
                Ok(r) => r,
                Err(e) => return log::warn(&format!("cannot check for unfinished changes: {e}")),
            };
            for mut rec in records.into_iter().filter(|r| r.pending.is_some()) {
                let result = match rec.pending.clone() {
                    Some(PendingChange::Resize { .. }) => self.finish_resize(&mut rec),
                    Some(PendingChange::Rekey { copied: true, .. }) => {
                        self.commit_rekey(&mut rec, None)
                    }
                    Some(PendingChange::Rekey { key, .. }) => self.restart_rekey(&rec, &key),
                    None => Ok(()),
                };
                match result {
                    Ok(()) => log::info(&format!(
                        "{} '{}': finished an interrupted change",
                        kind.label(),
                        rec.name
                    )),
                    Err(e) => log::warn(&format!(
                        "{} '{}': an interrupted change cannot be finished yet: {e}",
                        kind.label(),
                        rec.name
                    )),
                }
            }
        }
    }

    /// Runs an interrupted re-encryption again from the start (under the lock: the store is
    /// being opened and nothing else uses it yet).
    fn restart_rekey(&self, rec: &VolumeRecord, key: &WrappedKey) -> Result<()> {
        let old = self.unwrap_dek(rec)?;
        let mut intent = rec.clone();
        intent.key = key.clone();
        if let Some(PendingChange::Rekey {
            disk_encryption_set_id,
            ..
        }) = &rec.pending
        {
            intent.disk_encryption_set_id = disk_encryption_set_id.clone();
        }
        let fresh = self.unwrap_dek(&intent)?;
        let job = self.rekey_job(rec, old, fresh)?;
        let copied = job.reencrypt();
        self.finish_rekey(job, copied).map(drop)
    }
}

/// Who protects a volume's DEK: `None` for the platform key, else its set's id (lowercase).
fn protector_of(rec: &VolumeRecord) -> Option<String> {
    match rec.key.kek {
        crate::format::Kek::Platform => None,
        crate::format::Kek::Customer { .. } => rec
            .disk_encryption_set_id
            .as_deref()
            .map(str::to_ascii_lowercase),
    }
}

/// Extends `path` to `len` bytes (never shrinks it) and fsyncs it.
fn grow_file(path: &Path, len: u64) -> Result<()> {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .ctx(|| format!("open {}", path.display()))?;
    let now = f
        .metadata()
        .ctx(|| format!("stat {}", path.display()))?
        .len();
    if now < len {
        f.set_len(len).ctx(|| format!("grow {}", path.display()))?;
    }
    f.sync_all().ctx(|| format!("fsync {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{DesArgs, KeyArgs, VaultArgs, VolumeArgs, VolumeUpdate};
    use crate::volume::Volume;

    /// A rendezvous that stops a copy or re-encryption of one named volume where it starts,
    /// so a test can look at the service while the slow part is in progress (no timing).
    pub(super) mod gate {
        use std::sync::{Arc, Barrier};

        type Gate = (String, Arc<(Barrier, Barrier)>);
        static GATE: parking_lot::Mutex<Option<Gate>> = parking_lot::Mutex::new(None);

        pub fn pause(name: &str) {
            let gate = GATE.lock().clone();
            if let Some((wanted, barriers)) = gate
                && wanted == name
            {
                barriers.0.wait(); // arrived
                barriers.1.wait(); // released
            }
        }

        /// Arms the gate for `name`; returns the two barriers (arrived, release).
        pub fn arm(name: &str) -> Arc<(Barrier, Barrier)> {
            let barriers = Arc::new((Barrier::new(2), Barrier::new(2)));
            *GATE.lock() = Some((name.to_string(), barriers.clone()));
            barriers
        }

        pub fn disarm() {
            *GATE.lock() = None;
        }
    }

    fn service_with_set(dir: &Path) -> (Service, String) {
        let s = Service::open(&dir.join("store")).unwrap();
        s.vault_create(&VaultArgs {
            name: "kv-pending".into(),
            resource_group: "rg".into(),
            location: None,
            enable_soft_delete: true,
            retention_days: None,
            enable_purge_protection: true,
            enable_rbac_authorization: false,
            sku: "standard".into(),
        })
        .unwrap();
        let key = s
            .key_create(&KeyArgs {
                vault: "kv-pending".into(),
                name: "k".into(),
                kty: "RSA".into(),
                size: None,
                protection: "software".into(),
                pem: None,
            })
            .unwrap();
        let des = s
            .des_create(&DesArgs {
                name: "des".into(),
                resource_group: "rg".into(),
                location: None,
                key_url: key["key"]["kid"].as_str().unwrap().into(),
                source_vault: None,
                auto_rotation: false,
            })
            .unwrap();
        let principal = des["identity"]["principalId"].as_str().unwrap();
        s.vault_set_policy(
            "kv-pending",
            principal,
            &["get".into(), "wrapKey".into(), "unwrapKey".into()],
        )
        .unwrap();
        (s, des["id"].as_str().unwrap().to_string())
    }

    fn args(name: &str, source: Option<&str>) -> VolumeArgs {
        VolumeArgs {
            name: name.into(),
            resource_group: "rg".into(),
            size_gb: source.is_none().then_some(1),
            source: source.map(str::to_string),
            ..Default::default()
        }
    }

    fn write(s: &Service, name: &str, data: &[u8]) {
        let v = s.open_volume(Kind::Disk, name, true).unwrap();
        v.write_at(data, 0).unwrap();
        v.sync().unwrap();
        drop(v);
        s.close_volume(Kind::Disk, name);
    }

    fn read(s: &Service, kind: Kind, name: &str, len: usize) -> Vec<u8> {
        let rec = s.load_volume(kind, name).unwrap();
        let v = Volume::open(
            &s.data_path(kind, name).unwrap(),
            rec.size_bytes,
            s.volume_key(kind, name).unwrap(),
            true,
            name,
        )
        .unwrap();
        let mut buf = vec![0u8; len];
        v.read_at(&mut buf, 0).unwrap();
        buf
    }

    /// Finding: a snapshot copy held the service lock, so the mount stalled for the whole copy.
    #[test]
    fn copies_and_reencryptions_run_without_the_service_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (s, des_id) = service_with_set(dir.path());
        s.volume_create(Kind::Disk, &args("gated-src", None))
            .unwrap();
        write(&s, "gated-src", b"hello");
        let shared = Arc::new(Mutex::new(s));

        let barriers = gate::arm("gated-snap");
        let worker = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                volume_create_shared(
                    &shared,
                    Kind::Snapshot,
                    &args("gated-snap", Some("gated-src")),
                )
            })
        };
        barriers.0.wait();
        // The copy is in progress: the lock is free, the name is taken, the snapshot not there.
        {
            let s = shared
                .try_lock()
                .expect("the service lock is held during a copy");
            assert!(matches!(
                s.volume_create(Kind::Snapshot, &args("gated-snap", Some("gated-src"))),
                Err(Error::AlreadyExists { .. })
            ));
            assert!(s.load_volume(Kind::Snapshot, "gated-snap").is_err());
        }
        barriers.1.wait();
        worker.join().unwrap().unwrap();
        gate::disarm();

        // A switch of the shared DEK re-encrypts without the lock; the disk is busy meanwhile.
        let barriers = gate::arm("gated-src");
        let worker = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let upd = VolumeUpdate {
                    disk_encryption_set: Some(des_id),
                    ..Default::default()
                };
                disk_update_shared(&shared, "gated-src", None, &upd)
            })
        };
        barriers.0.wait();
        {
            let s = shared
                .try_lock()
                .expect("the service lock is held during a re-encryption");
            let busy = s.open_volume(Kind::Disk, "gated-src", true).err().unwrap();
            assert_eq!(busy.errno(), libc::EBUSY, "{busy}");
            assert!(s.volume_delete(Kind::Disk, "gated-src", None).is_err());
        }
        barriers.1.wait();
        worker.join().unwrap().unwrap();
        gate::disarm();
        let s = shared.lock();
        assert_eq!(&read(&s, Kind::Disk, "gated-src", 5), b"hello");
        assert_eq!(&read(&s, Kind::Snapshot, "gated-snap", 5), b"hello");
    }

    /// A re-encryption interrupted at each of its steps is finished by the next open, with the
    /// data intact under the fresh key.
    #[test]
    fn an_interrupted_reencryption_is_finished_at_the_next_open() {
        for crash_after in ["intent", "partial-copy", "copied", "renamed"] {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("store");
            let (s, des_id) = service_with_set(dir.path());
            s.volume_create(Kind::Disk, &args("d", None)).unwrap();
            let data: Vec<u8> = (0..3 * 4096 + 17).map(|i| (i % 251) as u8).collect();
            write(&s, "d", &data);
            s.volume_create(Kind::Snapshot, &args("snap", Some("d")))
                .unwrap();
            let upd = VolumeUpdate {
                disk_encryption_set: Some(des_id.clone()),
                ..Default::default()
            };
            let UpdatePlan::Rekey(job) = s.plan_disk_update("d", None, &upd).unwrap() else {
                panic!("a shared DEK must be re-encrypted");
            };
            let fresh_check = job.fresh.check_value();
            match crash_after {
                "intent" => {}
                "partial-copy" => std::fs::write(&job.staged, b"torn").unwrap(),
                _ => {
                    job.reencrypt().unwrap();
                    let mut rec = s.load_volume(Kind::Disk, "d").unwrap();
                    if let Some(PendingChange::Rekey { copied, .. }) = &mut rec.pending {
                        *copied = true;
                    }
                    s.save_volume(&rec).unwrap();
                    if crash_after == "renamed" {
                        std::fs::rename(&job.staged, &job.data).unwrap();
                    }
                }
            }
            drop(job);
            drop(s);
            let s = Service::open(&root).unwrap();
            let rec = s.load_volume(Kind::Disk, "d").unwrap();
            assert!(rec.pending.is_none(), "{crash_after}: {:?}", rec.pending);
            assert_eq!(rec.key.dek_check, fresh_check, "{crash_after}");
            assert_eq!(read(&s, Kind::Disk, "d", data.len()), data, "{crash_after}");
            assert_eq!(read(&s, Kind::Snapshot, "snap", data.len()), data);
            drop(s);
            let report = crate::service::check::check(&root);
            assert!(
                report.problems.is_empty(),
                "{crash_after}: {:?}",
                report.problems
            );
        }
    }

    /// A store left by an earlier release (the switched disk kept the DEK a platform-key
    /// snapshot holds) fails `check`, and a `disk update` to its own set repairs it.
    #[test]
    fn a_dek_under_two_protectors_is_reported_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let (s, des_id) = service_with_set(dir.path());
        s.volume_create(Kind::Disk, &args("legacy", None)).unwrap();
        write(&s, "legacy", b"old data");
        s.volume_create(Kind::Snapshot, &args("legacy-snap", Some("legacy")))
            .unwrap();
        // What the earlier release did: re-wrap the same DEK under the customer key.
        let mut rec = s.load_volume(Kind::Disk, "legacy").unwrap();
        let des = s.load_des_by_ref(&des_id, None).unwrap();
        let dek = s.unwrap_dek(&rec).unwrap();
        rec.key = s
            .wrap_dek(&dek, &Protector::Customer(&des), &views::volume_id(&rec))
            .unwrap();
        rec.encryption_type = crate::format::EncryptionType::EncryptionAtRestWithCustomerKey;
        rec.disk_encryption_set_id = Some(des_id.clone());
        s.save_volume(&rec).unwrap();
        drop(s);
        let report = crate::service::check::check(&root);
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert!(
            report.problems[0]
                .problem
                .contains("also wrapped by another protector")
        );

        let s = Service::open(&root).unwrap();
        let upd = VolumeUpdate {
            disk_encryption_set: Some(des_id),
            ..Default::default()
        };
        s.disk_update("legacy", None, &upd).unwrap();
        assert_eq!(&read(&s, Kind::Disk, "legacy", 8), b"old data");
        drop(s);
        let report = crate::service::check::check(&root);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
