//! `ssefs disk …` and `ssefs snapshot …`.

use clap::{Args, Subcommand};
use parking_lot::Mutex;
use serde_json::Value;

use super::az_args::{GenericUpdate, Paging, TagArgs};
use super::disk_settings::{
    CreateSettings, DiskCreateSettings, DiskSettings, SnapshotCreateSettings, UpdateSettings,
};
use crate::error::Result;
use crate::ids::Kind;
use crate::service::{self, RecordTarget, Recorded, Service, VolumeArgs, VolumeUpdate};

/// `-n` (name or id) and `-g`.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(short = 'n', long)]
    name: String,
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
}

impl Target {
    /// The name or id given with `-n`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group given with `-g`, if any.
    pub fn group(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }
}

/// Encryption flags shared by create and update.
#[derive(Debug, Args)]
pub struct Encryption {
    /// EncryptionAtRestWithPlatformKey (default) or EncryptionAtRestWithCustomerKey.
    #[arg(long)]
    encryption_type: Option<String>,
    /// Name or id of a disk encryption set.
    #[arg(long)]
    disk_encryption_set: Option<String>,
}

// Parsed once per process: the size of the create variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum DiskCmd {
    /// Create an empty disk, a copy of a disk or snapshot (--source), or a disk from a managed
    /// image (--image-reference).
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        /// Standard_LRS, StandardSSD_LRS, Premium_LRS or UltraSSD_LRS.
        #[arg(long)]
        sku: Option<String>,
        /// A disk or snapshot (name or id) to copy; the new disk keeps its key unless another
        /// is asked for (then its data is re-encrypted under a fresh data key).
        #[arg(long)]
        source: Option<String>,
        /// A managed image (name or id) to make the disk from; it keeps the image's key.
        #[arg(long, conflicts_with = "source")]
        image_reference: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        settings: CreateSettings,
        #[command(flatten)]
        disk_settings: DiskSettings,
        #[command(flatten)]
        create_settings: DiskCreateSettings,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a disk.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// List disks.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Grow a disk, change its SKU, or switch it from the platform key to a customer key.
    Update {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
        #[command(flatten)]
        update: GenericUpdate,
        #[command(flatten)]
        settings: UpdateSettings,
        #[command(flatten)]
        disk_settings: DiskSettings,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Delete a disk.
    Delete {
        #[command(flatten)]
        target: Target,
        /// Accepted for az compatibility: ssefs never prompts.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Grant a resource access to a managed disk: its plaintext file in the mount (diskState ActiveSAS until revoke-access).
    GrantAccess {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        access: GrantArgs,
    },
    /// Revoke a resource's read access to a managed disk.
    RevokeAccess {
        #[command(flatten)]
        target: Target,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
}

/// `grant-access` options.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// Access level: Read or Write.
    #[arg(long, value_parser = ["Read", "Write"], ignore_case = true)]
    access_level: String,
    /// Time duration in seconds until the SAS access expires.
    #[arg(long)]
    duration_in_seconds: i64,
    /// Used to specify the file format when making request for SAS on a VHDX file format snapshot: VHD only (a raw file here).
    #[arg(long, value_parser = ["VHD"], ignore_case = true)]
    file_format: Option<String>,
    /// Get SAS on managed disk with VM guest state (not supported: no confidential VMs).
    #[arg(value_name = "VALUE", long = "secure-vm-guest-state-sas", num_args = 0..=1, default_missing_value = "true")]
    refused_secure_vm_guest_state_sas: Option<String>,
}

// Parsed once per process: the size of the create variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// Snapshot a disk; the snapshot keeps the disk's key.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// The disk (or snapshot), by name or id.
        #[arg(long)]
        source: String,
        /// Standard_LRS (default), Premium_LRS or Standard_ZRS.
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
        /// Size in GB: at least the source's (a larger snapshot reads zeros past the source's end).
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        settings: CreateSettings,
        #[command(flatten)]
        snapshot_settings: SnapshotCreateSettings,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a snapshot.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// List snapshots.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Delete a snapshot.
    Delete {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Update a snapshot: SKU, tags and recorded settings (its key is its source's and cannot change).
    Update {
        #[command(flatten)]
        target: Target,
        /// Standard_LRS, Premium_LRS or Standard_ZRS.
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
        #[command(flatten)]
        update: GenericUpdate,
        #[command(flatten)]
        settings: UpdateSettings,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Grant read access to a snapshot: its plaintext file in the mount.
    GrantAccess {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        access: GrantArgs,
    },
    /// Revoke read access to a snapshot.
    RevokeAccess {
        #[command(flatten)]
        target: Target,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
}

impl DiskCmd {
    /// Runs the command; copies and re-encryptions release the service lock while they work.
    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        match self {
            DiskCmd::Create {
                name,
                resource_group,
                location,
                size_gb,
                sku,
                source,
                image_reference,
                encryption,
                tags,
                settings,
                disk_settings,
                create_settings,
                ..
            } => {
                let mut set = settings.recorded();
                set.extend(disk_settings.recorded());
                set.extend(create_settings.recorded());
                let recorded = Recorded {
                    tags: tags.parse()?,
                    set,
                    remove: Vec::new(),
                };
                let group = resource_group.clone();
                let out = service::volume_create_shared(
                    shared,
                    Kind::Disk,
                    &VolumeArgs {
                        name: name.clone(),
                        resource_group,
                        location,
                        size_gb,
                        sku,
                        source,
                        encryption_type: encryption.encryption_type,
                        disk_encryption_set: encryption.disk_encryption_set,
                        image_reference,
                        os_type: None,
                    },
                )?;
                record_and_show(shared, Kind::Disk, &name, Some(&group), out, &recorded)
            }
            DiskCmd::Show { target } => shared.lock().volume_show(
                Kind::Disk,
                &target.name,
                target.resource_group.as_deref(),
            ),
            DiskCmd::List { resource_group, .. } => shared
                .lock()
                .volume_list(Kind::Disk, resource_group.as_deref()),
            DiskCmd::Update {
                target,
                size_gb,
                sku,
                encryption,
                update,
                settings,
                disk_settings,
                ..
            } => {
                let mut recorded = update.recorded(None)?;
                recorded.set.extend(settings.recorded());
                recorded.set.extend(disk_settings.recorded());
                // The paths az scripts --set that have a meaning here go to their options.
                let size_gb = match recorded.take("diskSizeGB") {
                    Some(v) => Some(v.as_u64().or_else(|| v.as_str()?.parse().ok()).ok_or_else(
                        || crate::error::Error::invalid("--set diskSizeGB takes a number of GiB"),
                    )?),
                    None => size_gb,
                };
                let sku = match recorded.take("sku.name") {
                    Some(Value::String(s)) => Some(s),
                    Some(_) => {
                        return Err(crate::error::Error::invalid(
                            "--set sku.name takes a SKU name, e.g. Premium_LRS",
                        ));
                    }
                    None => sku,
                };
                let out = service::disk_update_shared(
                    shared,
                    &target.name,
                    target.resource_group.as_deref(),
                    &VolumeUpdate {
                        size_gb,
                        sku,
                        encryption_type: encryption.encryption_type,
                        disk_encryption_set: encryption.disk_encryption_set,
                    },
                )?;
                record_and_show(
                    shared,
                    Kind::Disk,
                    &target.name,
                    target.group(),
                    out,
                    &recorded,
                )
            }
            DiskCmd::GrantAccess { target, access } => shared.lock().volume_grant_access(
                Kind::Disk,
                &target.name,
                target.group(),
                &access.access_level,
                access.duration_in_seconds,
            ),
            DiskCmd::RevokeAccess { target, .. } => {
                shared
                    .lock()
                    .volume_revoke_access(Kind::Disk, &target.name, target.group())
            }
            DiskCmd::Delete { target, .. } => shared.lock().volume_delete(
                Kind::Disk,
                &target.name,
                target.resource_group.as_deref(),
            ),
        }
    }
}

impl SnapshotCmd {
    /// Runs the command; copies release the service lock while they work.
    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        let s = || shared.lock();
        match self {
            SnapshotCmd::Create {
                name,
                resource_group,
                location,
                source,
                sku,
                encryption,
                size_gb,
                tags,
                settings,
                snapshot_settings,
                ..
            } => {
                let mut set = settings.recorded();
                if let Some(incremental) = snapshot_settings.incremental {
                    set.push(("incremental".into(), Value::Bool(incremental)));
                }
                let recorded = Recorded {
                    tags: tags.parse()?,
                    set,
                    remove: Vec::new(),
                };
                let group = resource_group.clone();
                let out = service::volume_create_shared(
                    shared,
                    Kind::Snapshot,
                    &VolumeArgs {
                        name: name.clone(),
                        resource_group,
                        location,
                        size_gb,
                        sku,
                        source: Some(source),
                        encryption_type: encryption.encryption_type,
                        disk_encryption_set: encryption.disk_encryption_set,
                        image_reference: None,
                        os_type: None,
                    },
                )?;
                record_and_show(shared, Kind::Snapshot, &name, Some(&group), out, &recorded)
            }
            SnapshotCmd::Show { target } => s().volume_show(
                Kind::Snapshot,
                &target.name,
                target.resource_group.as_deref(),
            ),
            SnapshotCmd::List { resource_group, .. } => {
                s().volume_list(Kind::Snapshot, resource_group.as_deref())
            }
            SnapshotCmd::Update {
                target,
                sku,
                encryption,
                update,
                settings,
                ..
            } => {
                let mut recorded = update.recorded(None)?;
                recorded.set.extend(settings.recorded());
                let out = s().snapshot_update(
                    &target.name,
                    target.group(),
                    sku.as_deref(),
                    encryption.encryption_type.as_deref(),
                    encryption.disk_encryption_set.as_deref(),
                )?;
                record_and_show(
                    shared,
                    Kind::Snapshot,
                    &target.name,
                    target.group(),
                    out,
                    &recorded,
                )
            }
            SnapshotCmd::GrantAccess { target, access } => s().volume_grant_access(
                Kind::Snapshot,
                &target.name,
                target.group(),
                &access.access_level,
                access.duration_in_seconds,
            ),
            SnapshotCmd::RevokeAccess { target, .. } => {
                s().volume_revoke_access(Kind::Snapshot, &target.name, target.group())
            }
            SnapshotCmd::Delete { target, .. } => s().volume_delete(
                Kind::Snapshot,
                &target.name,
                target.resource_group.as_deref(),
            ),
        }
    }
}

/// Records tags and settings on a volume just made or changed, then shows it again; `out`
/// when there is nothing to record.
fn record_and_show(
    shared: &Mutex<Service>,
    kind: Kind,
    name: &str,
    group: Option<&str>,
    out: Value,
    recorded: &Recorded,
) -> Result<Value> {
    if recorded.is_empty() {
        return Ok(out);
    }
    let s = shared.lock();
    s.record(RecordTarget::Volume(kind, name, group), recorded)?;
    s.volume_show(kind, name, group)
}
