//! Disks and snapshots ("volumes"): create (empty or from a source), show, list, update,
//! delete, with the domain's key rules.
//!
//! A volume is a directory `disks/NAME` or `snapshots/NAME` holding `volume.json` and the
//! ciphertext `data`. It is built under a temporary name and renamed into place, so a crash
//! leaves a complete volume or none (temporaries are removed when the store is next opened).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::dek::Protector;
use super::pending::{CreatePlan, Switch, UpdatePlan, pending_label};
use super::{Service, entries, group_matches, normalise_location, views};
use crate::clock;
use crate::crypto::DataKey;
use crate::error::{Error, IoContext, Result};
use crate::format::{
    DesRecord, EncryptionType, Kek, PendingChange, RECORD_VERSION, Versioned, VolumeKind,
    VolumeRecord,
};
use crate::fsio::{self, TMP_PREFIX};
use crate::ids::{self, KeyUrl, Kind};

const GIB: u64 = 1 << 30;
/// Largest disk az allows: 32 TiB - 1 GiB.
const MAX_SIZE_GB: u64 = 32_767;
const DISK_SKUS: &[&str] = &[
    "Standard_LRS",
    "StandardSSD_LRS",
    "Premium_LRS",
    "UltraSSD_LRS",
];
const SNAPSHOT_SKUS: &[&str] = &["Standard_LRS", "Premium_LRS", "Standard_ZRS"];

/// `disk create` / `snapshot create` arguments.
#[derive(Debug, Clone, Default)]
pub struct VolumeArgs {
    pub name: String,
    pub resource_group: String,
    pub location: Option<String>,
    pub size_gb: Option<u64>,
    pub sku: Option<String>,
    /// A disk or snapshot, by name or id.
    pub source: Option<String>,
    pub encryption_type: Option<String>,
    pub disk_encryption_set: Option<String>,
    /// `disk create --image-reference`: a managed image, by name or id.
    pub image_reference: Option<String>,
    /// `image create --os-type`: Linux (default) or Windows.
    pub os_type: Option<String>,
}

/// `disk update` arguments.
#[derive(Debug, Clone, Default)]
pub struct VolumeUpdate {
    pub size_gb: Option<u64>,
    pub sku: Option<String>,
    pub encryption_type: Option<String>,
    pub disk_encryption_set: Option<String>,
}

/// The encryption a command asked for.
enum Requested {
    Platform,
    Customer(Box<DesRecord>),
}

fn volume_kind(kind: Kind) -> VolumeKind {
    match kind {
        Kind::Snapshot => VolumeKind::Snapshot,
        Kind::Image => VolumeKind::Image,
        _ => VolumeKind::Disk,
    }
}

/// A disk SKU in az's spelling (`premium_lrs` → `Premium_LRS`), or a refusal listing them.
pub(super) fn canonical_disk_sku(sku: &str) -> Result<String> {
    canonical_sku(sku, DISK_SKUS)
}

fn canonical_sku(sku: &str, allowed: &[&str]) -> Result<String> {
    allowed
        .iter()
        .find(|s| s.eq_ignore_ascii_case(sku))
        .map(|s| s.to_string())
        .ok_or_else(|| {
            Error::invalid(format!(
                "--sku '{}' is not one of: {}",
                sku.chars().take(40).collect::<String>(),
                allowed.join(", ")
            ))
        })
}

fn size_bytes(size_gb: u64) -> Result<u64> {
    if !(1..=MAX_SIZE_GB).contains(&size_gb) {
        return Err(Error::invalid(format!(
            "--size-gb must be between 1 and {MAX_SIZE_GB}, not {size_gb}"
        )));
    }
    Ok(size_gb * GIB)
}

/// Who protects a new volume's DEK: `None` for the platform key, else the set's id (lower case).
fn protector_id(p: &Protector) -> Option<String> {
    match p {
        Protector::Platform => None,
        Protector::Customer(des) => Some(views::des_id(des).to_ascii_lowercase()),
    }
}

/// Who protects an existing volume's DEK, in the same terms as [`protector_id`].
fn volume_protector_id(rec: &VolumeRecord) -> Option<String> {
    match rec.key.kek {
        Kek::Platform => None,
        Kek::Customer { .. } => rec
            .disk_encryption_set_id
            .as_deref()
            .map(str::to_ascii_lowercase),
    }
}

/// The key a protection uses, without version: `platform` or `vault/key`.
fn key_identity(kek: &Kek) -> String {
    match kek {
        Kek::Platform => "the platform key".into(),
        Kek::Customer { key_url } => match KeyUrl::parse(key_url) {
            Ok(u) => format!("customer key {}/{}", u.vault, u.key),
            Err(_) => key_url.clone(),
        },
    }
}

impl Service {
    fn volumes_dir(&self, kind: Kind) -> PathBuf {
        self.store.dir(match kind {
            Kind::Snapshot => "snapshots",
            Kind::Image => "images",
            _ => "disks",
        })
    }

    /// Finds a volume by reference (`NAME`, unique in the store, or `NAME@GROUP`).
    fn locate_volume(&self, kind: Kind, reference: &str) -> Result<(PathBuf, VolumeRecord)> {
        let (name, group) = entries::split(kind, reference)?;
        entries::locate(
            kind,
            &self.volumes_dir(kind),
            "",
            &name,
            group.as_deref(),
            |dir| Self::load_volume_at(dir, kind),
            |rec| rec.resource_group.as_str(),
        )
    }

    pub(super) fn volume_dir(&self, kind: Kind, reference: &str) -> Result<PathBuf> {
        Ok(self.locate_volume(kind, reference)?.0)
    }

    fn load_volume_at(dir: &Path, kind: Kind) -> Result<VolumeRecord> {
        let path = dir.join("volume.json");
        let rec: VolumeRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        if rec.kind != volume_kind(kind) {
            return Err(Error::corrupt(
                &path,
                format!("the record is not a {}", kind.label()),
            ));
        }
        Ok(rec)
    }

    /// Loads a disk, snapshot or image by reference (`NAME` or `NAME@GROUP`).
    pub fn load_volume(&self, kind: Kind, reference: &str) -> Result<VolumeRecord> {
        Ok(self.locate_volume(kind, reference)?.1)
    }

    /// Loads a volume by name (in `group` when given) or by resource id (which must match
    /// the record's group and subscription).
    pub(super) fn load_volume_by_ref(
        &self,
        kind: Kind,
        name_or_id: &str,
        group: Option<&str>,
    ) -> Result<VolumeRecord> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let (reference, id) = entries::resolve(kind, name_or_id, group)?;
        let rec = self.load_volume(kind, &reference).map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found(kind.label(), name_or_id),
            e => e,
        })?;
        let id_matches = id.is_none_or(|id| {
            id.resource_group.eq_ignore_ascii_case(&rec.resource_group)
                && id.subscription.eq_ignore_ascii_case(&rec.subscription_id)
        });
        if !id_matches || !group_matches(group, &rec.resource_group) {
            return Err(Error::not_found(kind.label(), name_or_id));
        }
        Ok(rec)
    }

    pub(super) fn save_volume(&self, rec: &VolumeRecord) -> Result<()> {
        let dir = self.volume_dir(rec.kind.resource_kind(), &rec.reference())?;
        fsio::write_json(&dir.join("volume.json"), rec, 0o600)
    }

    /// Every readable record of a kind; damaged ones are reported on stderr and skipped, so a
    /// listing still shows the rest (the damaged one names its file when addressed directly).
    fn readable_volumes(&self, kind: Kind) -> Result<Vec<VolumeRecord>> {
        let dir = self.volumes_dir(kind);
        let mut out = Vec::new();
        for name in fsio::list_entries(&dir)? {
            match Self::load_volume_at(&dir.join(&name), kind) {
                Ok(rec) => out.push(rec),
                Err(e) => crate::log::warn(&format!("skipping {} '{name}': {e}", kind.label())),
            }
        }
        Ok(out)
    }

    /// Every record of a kind, failing on a damaged one (rotation must not skip anything).
    pub(super) fn all_volumes(&self, kind: Kind) -> Result<Vec<VolumeRecord>> {
        let dir = self.volumes_dir(kind);
        fsio::list_entries(&dir)?
            .iter()
            .map(|n| Self::load_volume_at(&dir.join(n), kind))
            .collect()
    }

    /// The disks or snapshots as the mount lists them: `(shown name, reference)`, sorted; the
    /// shown name is `NAME`, or `NAME@GROUP` when several groups hold that name.
    pub fn volume_listing(&self, kind: Kind) -> Result<Vec<(String, String)>> {
        let pairs: Vec<(String, String)> = self
            .readable_volumes(kind)?
            .into_iter()
            .map(|r| (r.name, r.resource_group))
            .collect();
        let mut out: Vec<(String, String)> = entries::display_names(&pairs)
            .into_iter()
            .zip(&pairs)
            .map(|(shown, (name, group))| (shown, entries::reference(name, group)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The ciphertext file of a disk or snapshot, by reference.
    pub fn data_path(&self, kind: Kind, reference: &str) -> Result<PathBuf> {
        Ok(self.volume_dir(kind, reference)?.join("data"))
    }

    /// The DEK of a disk or snapshot, unwrapped with the key its record names (audited).
    pub fn volume_key(&self, kind: Kind, reference: &str) -> Result<DataKey> {
        self.unwrap_dek(&self.load_volume(kind, reference)?)
    }

    /// The encryption asked for; a set named without an id is looked up in `group`.
    fn requested(
        &self,
        encryption_type: Option<&str>,
        des: Option<&str>,
        group: &str,
    ) -> Result<Option<Requested>> {
        let etype = match encryption_type {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("EncryptionAtRestWithPlatformKey") => {
                Some(EncryptionType::EncryptionAtRestWithPlatformKey)
            }
            Some(t) if t.eq_ignore_ascii_case("EncryptionAtRestWithCustomerKey") => {
                Some(EncryptionType::EncryptionAtRestWithCustomerKey)
            }
            Some(t) if t.eq_ignore_ascii_case("EncryptionAtRestWithPlatformAndCustomerKeys") => {
                return Err(Error::invalid(
                    "EncryptionAtRestWithPlatformAndCustomerKeys (double encryption) is not supported by ssefs",
                ));
            }
            Some(t) => {
                return Err(Error::invalid(format!(
                    "--encryption-type '{}' is not EncryptionAtRestWithPlatformKey or EncryptionAtRestWithCustomerKey",
                    t.chars().take(60).collect::<String>()
                )));
            }
        };
        match (etype, des) {
            (Some(EncryptionType::EncryptionAtRestWithPlatformKey), Some(_)) => {
                Err(Error::invalid(
                    "--disk-encryption-set cannot be combined with --encryption-type EncryptionAtRestWithPlatformKey",
                ))
            }
            (Some(EncryptionType::EncryptionAtRestWithPlatformKey), None) => {
                Ok(Some(Requested::Platform))
            }
            (Some(EncryptionType::EncryptionAtRestWithCustomerKey), None) => Err(Error::invalid(
                "--encryption-type EncryptionAtRestWithCustomerKey needs --disk-encryption-set",
            )),
            (_, Some(d)) => Ok(Some(Requested::Customer(Box::new(
                self.load_des_by_ref(d, Some(group))?,
            )))),
            (None, None) => Ok(None),
        }
    }

    /// The documented rule: a set and the resources that use it are in the same subscription
    /// and region.
    fn check_location(
        des: &DesRecord,
        subscription: &str,
        location: &str,
        what: &str,
    ) -> Result<()> {
        if !des.subscription_id.eq_ignore_ascii_case(subscription) {
            return Err(Error::not_allowed(format!(
                "{what} is in subscription '{subscription}' but disk encryption set '{}' is in subscription '{}': a disk encryption set and the disks, snapshots and images that use it must be in the same subscription and region",
                des.name, des.subscription_id
            )));
        }
        if des.location != location {
            return Err(Error::not_allowed(format!(
                "{what} is in location '{location}' but disk encryption set '{}' is in '{}': they must be in the same location",
                des.name, des.location
            )));
        }
        Ok(())
    }

    /// Refuses a name that `group` already holds (or that a create in progress reserved).
    fn check_new_name(&self, kind: Kind, name: &str, group: &str) -> Result<()> {
        ids::validate_name(kind, name)?;
        let reference = entries::reference(name, group);
        let taken = self.reserved.contains(kind, &reference)
            || match self.locate_volume(kind, &reference) {
                Ok(_) => true,
                Err(Error::NotFound { .. }) => false,
                Err(e) => return Err(e),
            };
        if taken {
            return Err(Error::AlreadyExists {
                kind: kind.label(),
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Resolves `--source`: a disk or snapshot by id, or by name in `group` (disks first).
    fn load_source(&self, source: &str, group: &str) -> Result<VolumeRecord> {
        if source.starts_with('/') {
            let kind = if source
                .to_ascii_lowercase()
                .contains("/microsoft.compute/snapshots/")
            {
                Kind::Snapshot
            } else {
                Kind::Disk
            };
            return self.load_volume_by_ref(kind, source, None);
        }
        match self.load_volume_by_ref(Kind::Disk, source, Some(group)) {
            Err(Error::NotFound { .. }) => self
                .load_volume_by_ref(Kind::Snapshot, source, Some(group))
                .map_err(|e| match e {
                    Error::NotFound { .. } => Error::not_found("source disk or snapshot", source),
                    e => e,
                }),
            other => other,
        }
    }

    /// `disk create` and `snapshot create`, all under the caller's hold on the service (see
    /// [`volume_create_shared`] for the mount daemon, which copies without holding it).
    pub fn volume_create(&self, kind: Kind, args: &VolumeArgs) -> Result<Value> {
        let plan = self.plan_volume_create(kind, args)?;
        plan.copy_data()?;
        self.finish_volume_create(plan)
    }

    /// Validates a create, builds its record (DEK wrapped) and reserves its name; changes
    /// nothing on disk.
    pub(super) fn plan_volume_create(&self, kind: Kind, args: &VolumeArgs) -> Result<CreatePlan> {
        ids::validate_name(Kind::ResourceGroup, &args.resource_group)?;
        self.check_new_name(kind, &args.name, &args.resource_group)?;
        let sku = match (&args.sku, kind) {
            (Some(s), Kind::Snapshot | Kind::Image) => canonical_sku(s, SNAPSHOT_SKUS)?,
            (Some(s), _) => canonical_sku(s, DISK_SKUS)?,
            (None, Kind::Snapshot | Kind::Image) => "Standard_LRS".into(),
            (None, _) => "Premium_LRS".into(),
        };
        let requested = self.requested(
            args.encryption_type.as_deref(),
            args.disk_encryption_set.as_deref(),
            &args.resource_group,
        )?;
        let source = match (&args.source, &args.image_reference) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "give --source or --image-reference, not both",
                ));
            }
            (None, Some(image)) if kind == Kind::Disk => {
                Some(self.load_volume_by_ref(Kind::Image, image, Some(&args.resource_group))?)
            }
            (None, Some(_)) => {
                return Err(Error::invalid("--image-reference is for disk create"));
            }
            (Some(s), None) => Some(self.load_source(s, &args.resource_group)?),
            (None, None) if kind != Kind::Disk => {
                return Err(Error::invalid(format!(
                    "{} create needs --source DISK_OR_SNAPSHOT",
                    kind.label()
                )));
            }
            (None, None) => None,
        };
        let os_type = match (kind, args.os_type.as_deref()) {
            (Kind::Image, None) => Some("Linux".to_string()),
            (Kind::Image, Some(t)) if t.eq_ignore_ascii_case("linux") => Some("Linux".into()),
            (Kind::Image, Some(t)) if t.eq_ignore_ascii_case("windows") => Some("Windows".into()),
            (Kind::Image, Some(t)) => {
                return Err(Error::invalid(format!(
                    "--os-type '{}' is not Linux or Windows",
                    t.chars().take(40).collect::<String>()
                )));
            }
            (_, Some(_)) => return Err(Error::invalid("--os-type is for image create")),
            (_, None) => None,
        };
        if let Some(src) = &source
            && matches!(src.pending, Some(PendingChange::Rekey { .. }))
        {
            return Err(Error::Busy(format!(
                "{} '{}' is being re-encrypted under a new key: copy it when that has finished",
                src.kind.resource_kind().label(),
                src.name
            )));
        }
        let location = match (&args.location, &requested, &source) {
            (Some(l), _, _) => normalise_location(l),
            (None, _, Some(src)) => src.location.clone(),
            (None, Some(Requested::Customer(des)), None) => des.location.clone(),
            (None, _, None) => self.store.record().default_location.clone(),
        };
        let what = format!("{} '{}'", kind.label(), args.name);
        let group = self.use_group(&args.resource_group, &location)?;
        let mut rec = VolumeRecord {
            version: RECORD_VERSION,
            kind: volume_kind(kind),
            name: args.name.clone(),
            resource_group: group.name.clone(),
            subscription_id: group.subscription_id.clone(),
            location: location.clone(),
            sku,
            size_bytes: 0,
            created: clock::now_rfc3339(),
            encryption_type: EncryptionType::EncryptionAtRestWithPlatformKey,
            disk_encryption_set_id: None,
            create_option: "Empty".into(),
            source_resource_id: None,
            key: crate::format::WrappedKey {
                kek: Kek::Platform,
                wrapped_dek: String::new(),
                dek_check: String::new(),
            },
            pending: None,
            os_type,
            tags: Default::default(),
            settings: Default::default(),
            access: None,
        };
        let id = views::volume_id(&rec);

        // Decide the protector, enforcing the same-key rule for copies.
        let inherited;
        let protector = match (&requested, &source) {
            (Some(Requested::Platform), _) | (None, None) => Protector::Platform,
            (Some(Requested::Customer(des)), _) => {
                Self::check_location(des, &rec.subscription_id, &location, &what)?;
                Protector::Customer(des)
            }
            (None, Some(src)) => match &src.key.kek {
                Kek::Platform => Protector::Platform,
                Kek::Customer { .. } => {
                    inherited = self.des_of(src)?;
                    Self::check_location(&inherited, &rec.subscription_id, &location, &what)?;
                    Protector::Customer(&inherited)
                }
            },
        };
        // Snapshots keep their source's protector (the platform key or the same set). A disk
        // may ask for another: it then gets a fresh DEK and its data is re-encrypted while it
        // is copied, so no DEK is ever wrapped by two protectors.
        let mut reencrypt = false;
        if let Some(src) = &source {
            let wanted = protector_id(&protector);
            let has = volume_protector_id(src);
            if wanted != has {
                if src.kind == VolumeKind::Image && has.is_some() {
                    return Err(Error::not_allowed(format!(
                        "{what} is made from image '{}' and must use its key ({}{}): disks created from custom images encrypted with a customer-managed key must use the same key; omit --encryption-type and --disk-encryption-set",
                        src.name,
                        key_identity(&src.key.kek),
                        has.as_deref()
                            .map(|d| format!(" through {d}"))
                            .unwrap_or_default(),
                    )));
                }
                if kind != Kind::Disk {
                    let wanted_key = match &protector {
                        Protector::Platform => Kek::Platform,
                        Protector::Customer(des) => Kek::Customer {
                            key_url: des.active_key.key_url.clone(),
                        },
                    };
                    return Err(Error::not_allowed(format!(
                        "{what} must be encrypted with the same key as its source '{}' ({}{}), not {}{}; omit --encryption-type and --disk-encryption-set to inherit it",
                        src.name,
                        key_identity(&src.key.kek),
                        has.as_deref()
                            .map(|d| format!(" through {d}"))
                            .unwrap_or_default(),
                        key_identity(&wanted_key),
                        wanted
                            .as_deref()
                            .map(|d| format!(" through {d}"))
                            .unwrap_or_default(),
                    )));
                }
                reencrypt = true;
            }
        }

        // The DEK: the source's when the copy keeps its ciphertext; else a fresh one.
        let (dek, source_dek) = match &source {
            Some(src) if reencrypt => (DataKey::generate()?, Some(self.unwrap_dek(src)?)),
            Some(src) => (self.unwrap_dek(src)?, None),
            None => (DataKey::generate()?, None),
        };
        rec.key = self.wrap_dek(&dek, &protector, &id)?;
        if let Protector::Customer(des) = &protector {
            rec.encryption_type = EncryptionType::EncryptionAtRestWithCustomerKey;
            rec.disk_encryption_set_id = Some(views::des_id(des));
        }
        rec.size_bytes = match (&source, args.size_gb) {
            (None, Some(gb)) => size_bytes(gb)?,
            (None, None) => {
                return Err(Error::invalid(
                    "--size-gb is required to create an empty disk",
                ));
            }
            (Some(src), None) => src.size_bytes,
            (Some(src), Some(gb)) => {
                let want = size_bytes(gb)?;
                if want < src.size_bytes {
                    return Err(Error::invalid(format!(
                        "--size-gb {gb} is smaller than the source ({} GiB): disks can only grow",
                        src.size_bytes / GIB
                    )));
                }
                want
            }
        };
        if let Some(src) = &source {
            rec.create_option = "Copy".into();
            rec.source_resource_id = Some(views::volume_id(src));
        }
        let source_data = match &source {
            Some(src) => Some(self.data_path(src.kind.resource_kind(), &src.reference())?),
            None => None,
        };
        let parent = self.volumes_dir(kind);
        fsio::create_private_dir(&parent)?;
        let tmp = parent.join(format!(
            "{TMP_PREFIX}{}-{}-{}",
            rec.name,
            std::process::id(),
            ids::new_guid()?
        ));
        Ok(CreatePlan {
            _reservation: self.reserve(kind, &rec.reference())?,
            kind,
            rec,
            dek,
            source_dek,
            source_data,
            tmp,
        })
    }

    /// Puts a copied volume in place: re-wraps its DEK if its set rotated meanwhile, writes
    /// its record beside the data and renames the directory into place.
    pub(super) fn finish_volume_create(&self, mut plan: CreatePlan) -> Result<Value> {
        let result = (|| {
            if let Some(des_id) = plan.rec.disk_encryption_set_id.clone() {
                let des = self.load_des_by_ref(&des_id, None)?;
                let current = Kek::Customer {
                    key_url: des.active_key.key_url.clone(),
                };
                if plan.rec.key.kek != current {
                    let id = views::volume_id(&plan.rec);
                    plan.rec.key = self.wrap_dek(&plan.dek, &Protector::Customer(&des), &id)?;
                }
            }
            let parent = self.volumes_dir(plan.kind);
            self.check_new_name_on_disk(plan.kind, &plan.rec)?;
            let entry = entries::new_entry(&parent, &plan.rec.name, &plan.rec.resource_group, "")?;
            let dest = parent.join(entry);
            fsio::write_json(&plan.tmp.join("volume.json"), &plan.rec, 0o600)?;
            fs::rename(&plan.tmp, &dest)
                .ctx(|| format!("rename {} to {}", plan.tmp.display(), dest.display()))?;
            fsio::sync_dir(&parent)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&plan.tmp);
        }
        result?;
        Ok(views::volume(&plan.rec, None))
    }

    /// The group of `rec` must not have gained a volume of the same name while `rec` was
    /// being copied (the reservation covers creates of this process only).
    fn check_new_name_on_disk(&self, kind: Kind, rec: &VolumeRecord) -> Result<()> {
        match self.locate_volume(kind, &rec.reference()) {
            Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(Error::AlreadyExists {
                kind: kind.label(),
                name: rec.name.clone(),
            }),
        }
    }

    /// `disk show` / `snapshot show`.
    pub fn volume_show(&self, kind: Kind, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_volume_by_ref(kind, name_or_id, group)?;
        Ok(views::volume(&rec, self.attachment(&rec).as_ref()))
    }

    /// `disk list` / `snapshot list`.
    pub fn volume_list(&self, kind: Kind, group: Option<&str>) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let subscription = &self.store.record().subscription_id;
        // Which VM holds which disk, read once for the whole listing.
        let holders = if kind == Kind::Disk {
            self.disk_holders()?
        } else {
            Default::default()
        };
        Ok(Value::Array(
            self.readable_volumes(kind)?
                .iter()
                .filter(|r| {
                    group_matches(group, &r.resource_group) && &r.subscription_id == subscription
                })
                .map(|r| {
                    let holder = holders.get(&views::volume_id(r).to_ascii_lowercase());
                    views::volume(r, self.attachment_with(r, holder).as_ref())
                })
                .collect(),
        ))
    }

    /// `disk update` under the caller's hold on the service (see [`disk_update_shared`] for the
    /// mount daemon, which re-encrypts without holding it).
    pub fn disk_update(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        upd: &VolumeUpdate,
    ) -> Result<Value> {
        match self.plan_disk_update(name_or_id, group, upd)? {
            UpdatePlan::Done(value) => Ok(value),
            UpdatePlan::Rekey(job) => {
                let copied = job.reencrypt();
                self.finish_rekey(job, copied)
            }
        }
    }

    /// `disk update`: grow, change SKU, or switch to a customer key or another set. Everything
    /// is validated before anything changes. A grow records its intent first, so a crash
    /// leaves a change that the next open finishes. A switch re-wraps the DEK when no other
    /// disk or snapshot shares it; when one does (a snapshot or a copy of this disk), the disk
    /// gets a fresh DEK and its data is re-encrypted ([`UpdatePlan::Rekey`]), so that the old
    /// key-encryption key opens only data written before the switch. Customer to platform is
    /// refused.
    pub(super) fn plan_disk_update(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        upd: &VolumeUpdate,
    ) -> Result<UpdatePlan> {
        let mut rec = self.load_volume_by_ref(Kind::Disk, name_or_id, group)?;
        self.refuse_if_exported(&rec, "updating it")?;
        if let Some(pending) = &rec.pending {
            return Err(Error::Busy(format!(
                "disk '{}' has an unfinished change ({}): it is finished when the store is next opened",
                rec.name,
                pending_label(pending)
            )));
        }
        // 1. Validate everything.
        let sku = upd
            .sku
            .as_deref()
            .map(|s| canonical_sku(s, DISK_SKUS))
            .transpose()?;
        let grow_to = match upd.size_gb {
            None => None,
            Some(gb) => {
                let want = size_bytes(gb)?;
                if want < rec.size_bytes {
                    return Err(Error::not_allowed(format!(
                        "disk '{}' is {} GiB and can only grow, not shrink to {gb} GiB",
                        rec.name,
                        rec.size_bytes / GIB
                    )));
                }
                (want > rec.size_bytes).then_some(want)
            }
        };
        let switch_to = match self.requested(
            upd.encryption_type.as_deref(),
            upd.disk_encryption_set.as_deref(),
            &rec.resource_group,
        )? {
            None | Some(Requested::Platform)
                if rec.encryption_type == EncryptionType::EncryptionAtRestWithPlatformKey =>
            {
                None
            }
            None => None,
            Some(Requested::Platform) => {
                return Err(Error::not_allowed(format!(
                    "disk '{}': customer-managed key encryption cannot be disabled once enabled; copy the data to a new platform-key disk instead",
                    rec.name
                )));
            }
            Some(Requested::Customer(des)) => {
                Self::check_location(
                    &des,
                    &rec.subscription_id,
                    &rec.location,
                    &format!("disk '{}'", rec.name),
                )?;
                let same_set = rec
                    .disk_encryption_set_id
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(&views::des_id(&des)));
                // The same set again changes nothing, unless the DEK is also wrapped under
                // another protector (left by an earlier release): then re-encrypt to repair.
                (!same_set || self.dek_shared_across_protectors(&rec)?).then_some(des)
            }
        };
        if grow_to.is_some() {
            self.refuse_if_in_use(&rec, "resizing")?;
        }
        let switch = match &switch_to {
            None => None,
            Some(des) => {
                self.refuse_if_in_use(&rec, "changing its encryption")?;
                let id = views::volume_id(&rec);
                let old = self.unwrap_dek(&rec)?;
                Some(if self.dek_shared(&rec)? {
                    let fresh = DataKey::generate()?;
                    let key = self.wrap_dek(&fresh, &Protector::Customer(des), &id)?;
                    Switch::Rekey { old, fresh, key }
                } else {
                    Switch::Rewrap(self.wrap_dek(&old, &Protector::Customer(des), &id)?)
                })
            }
        };

        // 2. Apply: SKU and size first (the size with its intent recorded), then the key.
        if let Some(sku) = sku {
            rec.sku = sku;
        }
        if let Some(want) = grow_to {
            rec.pending = Some(PendingChange::Resize {
                from_bytes: rec.size_bytes,
            });
            rec.size_bytes = want;
            self.save_volume(&rec)?;
            self.finish_resize(&mut rec)?;
        }
        let des_id = switch_to.as_ref().map(|d| views::des_id(d));
        match switch {
            None => {}
            Some(Switch::Rewrap(key)) => {
                rec.key = key;
                rec.encryption_type = EncryptionType::EncryptionAtRestWithCustomerKey;
                rec.disk_encryption_set_id = des_id;
            }
            Some(Switch::Rekey { old, fresh, key }) => {
                rec.pending = Some(PendingChange::Rekey {
                    key,
                    encryption_type: EncryptionType::EncryptionAtRestWithCustomerKey,
                    disk_encryption_set_id: des_id,
                    copied: false,
                });
                self.save_volume(&rec)?;
                return Ok(UpdatePlan::Rekey(self.rekey_job(&rec, old, fresh)?));
            }
        }
        self.save_volume(&rec)?;
        Ok(UpdatePlan::Done(views::volume(
            &rec,
            self.attachment(&rec).as_ref(),
        )))
    }

    /// `disk delete` / `snapshot delete`: renamed away atomically, then removed.
    pub fn volume_delete(
        &self,
        kind: Kind,
        name_or_id: &str,
        group: Option<&str>,
    ) -> Result<Value> {
        let rec = self.load_volume_by_ref(kind, name_or_id, group)?;
        self.refuse_if_attached(&rec, "deleting it")?;
        self.refuse_if_exported(&rec, "deleting it")?;
        if let Some(PendingChange::Rekey { .. }) = &rec.pending {
            return Err(Error::Busy(format!(
                "{} '{}' is being re-encrypted under a new key: delete it when that has finished",
                kind.label(),
                rec.name
            )));
        }
        let dir = self.volume_dir(kind, &rec.reference())?;
        let parent = self.volumes_dir(kind);
        let doomed = parent.join(format!(
            "{TMP_PREFIX}deleted-{}-{}",
            rec.name,
            std::process::id()
        ));
        fs::rename(&dir, &doomed)
            .ctx(|| format!("rename {} to {}", dir.display(), doomed.display()))?;
        fsio::sync_dir(&parent)?;
        fs::remove_dir_all(&doomed).ctx(|| format!("remove {}", doomed.display()))?;
        Ok(Value::Null)
    }
}
