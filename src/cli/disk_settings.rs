//! The options of `disk` and `snapshot` commands that have no local meaning: recorded and
//! shown at their place in the resource's JSON (see `service::recorded`), and the ones refused
//! as not supported. Each struct lists the options az has on the commands that flatten it.

use clap::Args;
use serde_json::{Value, json};

use super::parse_bool;

/// Options of `disk create` and `snapshot create`.
#[derive(Debug, Args)]
pub struct CreateSettings {
    /// Hypervisor generation of the virtual machine (V1 or V2). Applicable to OS disks only (recorded).
    #[arg(long, value_parser = ["V1", "V2"], ignore_case = true)]
    pub hyper_v_generation: Option<String>,
    /// The operating system type: Linux or Windows (recorded).
    #[arg(long, value_parser = ["Linux", "Windows"], ignore_case = true)]
    pub os_type: Option<String>,
    /// The name of the edge zone (recorded).
    #[arg(long)]
    pub edge_zone: Option<String>,
    #[command(flatten)]
    pub common: UpdateSettings,
    /// Create the resource from a storage account blob or a VHD upload (not supported: ssefs copies only disks, snapshots and images of the store).
    #[arg(long = "source-storage-account-id")]
    pub refused_source_storage_account_id: Option<String>,
}

/// Options of `disk create|update` and `snapshot create|update`.
#[derive(Debug, Args)]
pub struct UpdateSettings {
    /// Policy for accessing the disk via network: AllowAll, AllowPrivate or DenyAll (recorded).
    #[arg(long, value_parser = ["AllowAll", "AllowPrivate", "DenyAll"], ignore_case = true)]
    pub network_access_policy: Option<String>,
    /// Policy for controlling export on the disk: Enabled or Disabled (recorded).
    #[arg(long, value_parser = ["Enabled", "Disabled"], ignore_case = true)]
    pub public_network_access: Option<String>,
    /// Name or ID of the disk access resource for using private endpoints on disks (recorded).
    #[arg(long)]
    pub disk_access: Option<String>,
    /// Specify the auth mode when exporting or uploading to a disk or snapshot: AzureActiveDirectory or None (recorded).
    #[arg(long, value_parser = ["AzureActiveDirectory", "None"], ignore_case = true)]
    pub data_access_auth_mode: Option<String>,
    /// Customers can set on Managed Disks or Snapshots to enable the accelerated networking if the OS disk image supports it (recorded).
    #[arg(long, value_parser = parse_bool)]
    pub accelerated_network: Option<bool>,
    /// CPU architecture: x64 or Arm64 (recorded).
    #[arg(long, value_parser = ["x64", "Arm64"], ignore_case = true)]
    pub architecture: Option<String>,
    /// Indicate the OS on a disk supports hibernation (recorded).
    #[arg(long, value_parser = parse_bool)]
    pub support_hibernation: Option<bool>,
}

/// Options of `disk create` and `disk update` only.
#[derive(Debug, Args)]
pub struct DiskSettings {
    /// Maximum number of VMs that can attach to the disk at the same time (recorded: ssefs attaches a disk to one VM).
    #[arg(long)]
    pub max_shares: Option<u32>,
    /// Performance tier of the disk (e.g, P4, S10) as described here: https://azure.microsoft.com/pricing/details/managed-disks/ (recorded).
    #[arg(long)]
    pub tier: Option<String>,
    /// Enable on-demand bursting beyond the provisioned performance target of the disk (recorded).
    #[arg(long, value_parser = parse_bool)]
    pub enable_bursting: Option<bool>,
    /// The number of IOPS allowed for this disk. Only settable for UltraSSD disks (recorded).
    #[arg(long)]
    pub disk_iops_read_write: Option<u64>,
    /// The bandwidth allowed for this disk. Only settable for UltraSSD disks (recorded).
    #[arg(long)]
    pub disk_mbps_read_write: Option<u64>,
    /// The total number of IOPS allowed across all VMs mounting the shared disk as ReadOnly (recorded).
    #[arg(long)]
    pub disk_iops_read_only: Option<u64>,
    /// The total throughput (MBps) allowed across all VMs mounting the shared disk as ReadOnly (recorded).
    #[arg(long)]
    pub disk_mbps_read_only: Option<u64>,
    /// Setting this property to true improves reliability and performance of data disks that are frequently detached from one VM and attached to another (recorded).
    #[arg(long, value_parser = parse_bool)]
    pub optimized_for_frequent_attach: Option<bool>,
}

/// Options of `disk create` only.
#[derive(Debug, Args)]
pub struct DiskCreateSettings {
    /// Availability zone into which to provision the resource: 1, 2 or 3 (recorded).
    #[arg(long)]
    pub zone: Option<String>,
    /// Logical sector size in bytes for Ultra disks: 512 or 4096 (recorded; ssefs files have 512-byte sectors either way).
    #[arg(long)]
    pub logical_sector_size: Option<u32>,
    /// Set this flag to true to get a boost on the performance target of the disk deployed (recorded).
    #[arg(long, value_parser = parse_bool)]
    pub performance_plus: Option<bool>,
    /// Specify whether a disk recovers automatically after a platform delay: AutomaticReattach or None (recorded).
    #[arg(long, value_parser = ["AutomaticReattach", "None"], ignore_case = true)]
    pub action_on_disk_delay: Option<String>,
    /// Name or ID of a Shared Image Gallery image version to create the disk from (not supported: use --image-reference with a managed image).
    #[arg(long = "gallery-image-reference")]
    pub refused_gallery_image_reference: Option<String>,
    /// If the disk is created from a gallery image's data disk, the index of the data disk (not supported: no galleries).
    #[arg(long = "gallery-image-reference-lun")]
    pub refused_gallery_image_reference_lun: Option<String>,
    /// If the disk is created from an image's data disk, the index of the data disk (not supported: managed images here have an OS disk only).
    #[arg(long = "image-reference-lun")]
    pub refused_image_reference_lun: Option<String>,
    /// Type of upload: Upload or UploadWithSecurityData (not supported: write the disk's file in the mount instead).
    #[arg(long = "upload-type")]
    pub refused_upload_type: Option<String>,
    /// The size (in bytes) of the contents of the upload including the VHD footer (not supported: no uploads).
    #[arg(long = "upload-size-bytes")]
    pub refused_upload_size_bytes: Option<String>,
    /// The security type of the disk, e.g. TrustedLaunch or ConfidentialVM_DiskEncryptedWithCustomerKey (not supported: no confidential VMs).
    #[arg(long = "security-type")]
    pub refused_security_type: Option<String>,
    /// Name or ID of the disk encryption set used to encrypt a confidential VM's disk (not supported: no confidential VMs).
    #[arg(long = "secure-vm-disk-encryption-set")]
    pub refused_secure_vm_disk_encryption_set: Option<String>,
    /// The URI of the VM guest state blob (not supported: no confidential VMs).
    #[arg(long = "security-data-uri")]
    pub refused_security_data_uri: Option<String>,
    /// The URI of the VM metadata blob (not supported: no confidential VMs).
    #[arg(long = "security-metadata-uri")]
    pub refused_security_metadata_uri: Option<String>,
    /// List of supported capabilities persisted on the disk resource (not supported: no confidential VMs).
    #[arg(long = "supported-security-option")]
    pub refused_supported_security_option: Option<String>,
}

/// Options of `snapshot create` only.
#[derive(Debug, Args)]
pub struct SnapshotCreateSettings {
    /// Whether a snapshot is incremental (recorded: ssefs snapshots are full copies, reflinked where the filesystem can).
    #[arg(long, value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true")]
    pub incremental: Option<bool>,
    /// Create the snapshot using a deep copy process, where the resource creation is considered complete only after all data has been copied from the source (not supported: a copy here is done when the command returns).
    #[arg(long = "copy-start", num_args = 0..=1, default_missing_value = "true")]
    pub refused_copy_start: Option<String>,
    /// Create the snapshot for uploading blobs (not supported: no uploads).
    #[arg(long = "for-upload", num_args = 0..=1, default_missing_value = "true")]
    pub refused_for_upload: Option<String>,
    /// Create the snapshot from an Elastic SAN volume snapshot (not supported: no Elastic SAN).
    #[arg(long = "elastic-san-resource-id")]
    pub refused_elastic_san_resource_id: Option<String>,
}

/// `enabled` → `Enabled`, `allowall` → `AllowAll`: az's spelling of a value clap matched
/// case-insensitively against `choices`.
fn choice(v: &Option<String>, choices: &[&str]) -> Option<Value> {
    v.as_ref().map(|v| {
        Value::String(
            choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(v))
                .map_or_else(|| v.clone(), |c| c.to_string()),
        )
    })
}

fn push(set: &mut Vec<(String, Value)>, path: &str, v: Option<Value>) {
    super::az_args::record(set, path, v);
}

impl CreateSettings {
    /// The settings to record, as `(JSON path, value)`.
    pub fn recorded(&self) -> Vec<(String, Value)> {
        let mut set = self.common.recorded();
        push(
            &mut set,
            "hyperVGeneration",
            choice(&self.hyper_v_generation, &["V1", "V2"]),
        );
        push(
            &mut set,
            "osType",
            choice(&self.os_type, &["Linux", "Windows"]),
        );
        push(
            &mut set,
            "extendedLocation",
            self.edge_zone
                .as_ref()
                .map(|z| json!({ "name": z, "type": "EdgeZone" })),
        );
        set
    }
}

impl UpdateSettings {
    /// The settings to record, as `(JSON path, value)`.
    pub fn recorded(&self) -> Vec<(String, Value)> {
        let mut set = Vec::new();
        push(
            &mut set,
            "networkAccessPolicy",
            choice(
                &self.network_access_policy,
                &["AllowAll", "AllowPrivate", "DenyAll"],
            ),
        );
        push(
            &mut set,
            "publicNetworkAccess",
            choice(&self.public_network_access, &["Enabled", "Disabled"]),
        );
        push(
            &mut set,
            "diskAccessId",
            self.disk_access.clone().map(Value::String),
        );
        push(
            &mut set,
            "dataAccessAuthMode",
            choice(
                &self.data_access_auth_mode,
                &["AzureActiveDirectory", "None"],
            ),
        );
        push(
            &mut set,
            "supportedCapabilities.acceleratedNetwork",
            self.accelerated_network.map(Value::Bool),
        );
        push(
            &mut set,
            "supportedCapabilities.architecture",
            choice(&self.architecture, &["x64", "Arm64"]),
        );
        push(
            &mut set,
            "supportsHibernation",
            self.support_hibernation.map(Value::Bool),
        );
        set
    }
}

impl DiskSettings {
    /// The settings to record, as `(JSON path, value)`.
    pub fn recorded(&self) -> Vec<(String, Value)> {
        let mut set = Vec::new();
        push(&mut set, "maxShares", self.max_shares.map(Value::from));
        push(&mut set, "tier", self.tier.clone().map(Value::String));
        push(
            &mut set,
            "burstingEnabled",
            self.enable_bursting.map(Value::Bool),
        );
        push(
            &mut set,
            "diskIOPSReadWrite",
            self.disk_iops_read_write.map(Value::from),
        );
        push(
            &mut set,
            "diskMBpsReadWrite",
            self.disk_mbps_read_write.map(Value::from),
        );
        push(
            &mut set,
            "diskIOPSReadOnly",
            self.disk_iops_read_only.map(Value::from),
        );
        push(
            &mut set,
            "diskMBpsReadOnly",
            self.disk_mbps_read_only.map(Value::from),
        );
        push(
            &mut set,
            "optimizedForFrequentAttach",
            self.optimized_for_frequent_attach.map(Value::Bool),
        );
        set
    }
}

impl DiskCreateSettings {
    /// The settings to record, as `(JSON path, value)`.
    pub fn recorded(&self) -> Vec<(String, Value)> {
        let mut set = Vec::new();
        push(&mut set, "zones", self.zone.clone().map(|z| json!([z])));
        push(
            &mut set,
            "creationData.logicalSectorSize",
            self.logical_sector_size.map(Value::from),
        );
        push(
            &mut set,
            "creationData.performancePlus",
            self.performance_plus.map(Value::Bool),
        );
        push(
            &mut set,
            "availabilityPolicy.actionOnDiskDelay",
            choice(&self.action_on_disk_delay, &["AutomaticReattach", "None"]),
        );
        set
    }
}
