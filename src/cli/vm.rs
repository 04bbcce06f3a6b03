//! `ssefs vm …` and `ssefs vmss …`: VMs and scale sets whose runners (qemu by default) use
//! the disks' plaintext files in the mount.

use clap::{Args, Subcommand};
use parking_lot::Mutex;
use serde_json::Value;

use super::az_args::TagArgs;
use crate::error::{Error, Result};
use crate::format::VmBoot;
use crate::service::{
    self, DiskAttachArgs, ScaleSetArgs, Service, VmArgs, vm_create_shared, vm_delete_shared,
    vm_restart_shared, vm_stop_shared,
};
use crate::service::{RecordTarget, Recorded};

/// A VM: `-n` and `-g`, or `--ids`.
#[derive(Debug, Args)]
pub struct VmTarget {
    #[arg(short = 'n', long, required_unless_present = "ids")]
    name: Option<String>,
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    /// The VM's resource id (instead of -n and -g).
    #[arg(long, conflicts_with_all = ["name", "resource_group"])]
    ids: Option<String>,
}

impl VmTarget {
    fn name(&self) -> &str {
        self.ids
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or_default()
    }

    fn group(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }
}

/// Options az takes that have no meaning without a network (accepted so scripts run).
#[derive(Debug, Args)]
pub struct Ignored {
    /// Accepted and ignored: ssefs VMs have no network.
    #[arg(long, hide = true)]
    public_ip_address: Option<String>,
    #[arg(long, hide = true)]
    public_ip_sku: Option<String>,
    #[arg(long, hide = true)]
    nsg: Option<String>,
    #[arg(long, hide = true)]
    nsg_rule: Option<String>,
    #[arg(long, hide = true)]
    vnet_name: Option<String>,
    #[arg(long, hide = true)]
    subnet: Option<String>,
    #[arg(long, hide = true)]
    authentication_type: Option<String>,
    #[arg(long, hide = true)]
    admin_password: Option<String>,
    #[arg(long, hide = true, num_args = 1..)]
    ssh_key_values: Vec<String>,
}

/// Boot options of the default qemu runner (ssefs extensions).
#[derive(Debug, Args)]
pub struct BootArgs {
    /// ssefs: a kernel for qemu's -kernel (the OS disk need not be bootable then).
    #[arg(long, value_name = "FILE")]
    boot_kernel: Option<String>,
    /// ssefs: an initramfs for qemu's -initrd.
    #[arg(long, value_name = "FILE")]
    boot_initrd: Option<String>,
    /// ssefs: the kernel command line (qemu's -append).
    #[arg(long, value_name = "TEXT")]
    boot_append: Option<String>,
}

impl BootArgs {
    fn boot(&self) -> VmBoot {
        VmBoot {
            kernel: self.boot_kernel.clone(),
            initrd: self.boot_initrd.clone(),
            append: self.boot_append.clone(),
        }
    }
}

// Parsed once per process: the size of the create variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum VmCmd {
    /// Create a VM with its OS disk (and data disks) and start it.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// An alias (UbuntuLTS, Ubuntu2204, Debian11, Win2022Datacenter…), a URN
        /// publisher:offer:sku:version, a managed image (name or id), or a raw/qcow2 file.
        #[arg(long)]
        image: String,
        /// The VM size (recorded; the default runner gives every VM 512 MiB and one vCPU).
        #[arg(long)]
        size: Option<String>,
        #[arg(long)]
        admin_username: Option<String>,
        /// Accepted: ssefs VMs need no SSH key (nothing is written to ~/.ssh).
        #[arg(long)]
        generate_ssh_keys: bool,
        /// The disk encryption set (name or id) of the OS disk.
        #[arg(long)]
        os_disk_encryption_set: Option<String>,
        #[arg(long)]
        os_disk_size_gb: Option<u64>,
        #[arg(long)]
        os_disk_caching: Option<String>,
        /// Delete (default) or Detach: what vm delete does with the OS disk.
        #[arg(long)]
        os_disk_delete_option: Option<String>,
        /// One SKU for every disk, or os=SKU and LUN=SKU items.
        #[arg(long, num_args = 1..)]
        storage_sku: Vec<String>,
        /// Sizes of new empty data disks (LUN 0, 1, …).
        #[arg(long, num_args = 1..)]
        data_disk_sizes_gb: Vec<u64>,
        /// Disk encryption sets of the new data disks: one for all, or one per disk.
        #[arg(long, num_args = 1..)]
        data_disk_encryption_sets: Vec<String>,
        #[arg(long)]
        data_disk_caching: Option<String>,
        /// Delete or Detach (default): what vm delete does with the new data disks.
        #[arg(long)]
        data_disk_delete_option: Option<String>,
        /// Existing disks (names or ids) to attach after the new ones.
        #[arg(long, num_args = 1..)]
        attach_data_disks: Vec<String>,
        /// Allow Ultra disks (UltraSSD_LRS) as data disks.
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = super::parse_bool)]
        ultra_ssd_enabled: Option<bool>,
        /// Accepted: the command returns once the VM runs either way.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        boot: BootArgs,
        #[command(flatten)]
        ignored: Ignored,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        more: super::vm_options::VmCreateOptions,
    },
    /// Show a VM (-d adds its power state).
    Show {
        #[command(flatten)]
        target: VmTarget,
        #[arg(short = 'd', long)]
        show_details: bool,
    },
    /// List VMs (-d adds their power states).
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(short = 'd', long)]
        show_details: bool,
    },
    /// Start a VM: its runner is launched under the mount daemon.
    Start {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        no_wait: bool,
    },
    /// Power off a VM (it stays allocated).
    Stop {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        no_wait: bool,
        /// Accepted; the guest is asked to power off first either way.
        #[arg(long)]
        skip_shutdown: bool,
    },
    /// Power off a VM and release it.
    Deallocate {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        no_wait: bool,
        /// Hibernate a virtual machine (not supported: the runner powers the VM off).
        #[arg(value_name = "VALUE", long = "hibernate", num_args = 0..=1, default_missing_value = "true")]
        refused_hibernate: Option<String>,
    },
    /// Stop and start a VM.
    Restart {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        no_wait: bool,
        /// Force the VM to restart by redeploying it. Use if the VM is unresponsive (accepted: the runner is stopped and started either way).
        #[arg(long)]
        force: bool,
    },
    /// Delete a VM (its disks whose delete option is Delete go with it).
    Delete {
        #[command(flatten)]
        target: VmTarget,
        /// Do not prompt for confirmation (required: ssefs never prompts).
        #[arg(short = 'y', long)]
        yes: bool,
        #[arg(long)]
        no_wait: bool,
        /// Optional parameter to force delete virtual machines (accepted: a running VM is powered off and deleted either way).
        #[arg(long, value_parser = super::parse_bool, num_args = 0..=1, default_missing_value = "true")]
        force_deletion: Option<bool>,
    },
    /// Show a VM with its instance view (statuses: provisioning, power, platform stops).
    GetInstanceView {
        #[command(flatten)]
        target: VmTarget,
    },
    /// Attach or detach data disks.
    #[command(subcommand)]
    Disk(VmDiskCmd),
    /// Azure Disk Encryption (in-guest): refused, with the reason.
    #[command(subcommand)]
    Encryption(VmEncryptionCmd),
    /// The guest's console output.
    #[command(subcommand, name = "boot-diagnostics")]
    BootDiagnostics(BootDiagnosticsCmd),
    /// Internal: power off every VM before the mount goes away (ssefs unmount).
    #[command(hide = true, name = "power-off-all")]
    PowerOffAll,
}

#[derive(Debug, Subcommand)]
pub enum VmDiskCmd {
    /// Attach an existing disk (--name or --ids), or a new one (--new --size-gb).
    Attach {
        #[arg(long)]
        vm_name: String,
        /// The VM's group (optional when its name is unique, as in the documented line).
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        /// The name or ID of the managed disk.
        #[arg(short = 'n', long = "name", required_unless_present = "ids")]
        disk: Option<String>,
        /// The disk's resource ID (instead of --name).
        #[arg(long, conflicts_with = "disk")]
        ids: Option<String>,
        #[arg(long)]
        lun: Option<u32>,
        #[arg(long)]
        new: bool,
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        #[arg(long)]
        sku: Option<String>,
        #[arg(long)]
        disk_encryption_set: Option<String>,
        #[arg(long)]
        caching: Option<String>,
        /// Enable write accelerator (accepted and ignored: writes go through the mount either way).
        #[arg(long)]
        enable_write_accelerator: bool,
        /// Names or IDs (space delimited) of disk resources to attach (not supported: attach one disk per command).
        #[arg(value_name = "VALUE", long = "disks", num_args = 1..)]
        refused_disks: Vec<String>,
        /// Create a data disk from a snapshot or another disk (not supported: make it with disk create --source, then attach it).
        #[arg(value_name = "VALUE", long = "source-snapshots-or-disks", num_args = 1..)]
        refused_source_snapshots_or_disks: Vec<String>,
        /// Create a data disk from a disk restore point (not supported: no restore points).
        #[arg(value_name = "VALUE", long = "source-disk-restore-point", num_args = 1..)]
        refused_source_disk_restore_point: Vec<String>,
    },
    /// Detach a data disk (it stays, unattached).
    Detach {
        #[arg(long)]
        vm_name: String,
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(short = 'n', long)]
        name: String,
        /// Force detach managed data disks from a VM (accepted: a detach is immediate).
        #[arg(long)]
        force_detach: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum VmEncryptionCmd {
    /// Refused: ssefs offers server-side encryption, not Azure Disk Encryption.
    Enable {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long, hide = true)]
        disk_encryption_keyvault: Option<String>,
        #[arg(long, hide = true)]
        key_encryption_key: Option<String>,
        #[arg(long, hide = true)]
        volume_type: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BootDiagnosticsCmd {
    /// Print the guest's console output.
    GetBootLog {
        #[command(flatten)]
        target: VmTarget,
    },
}

impl VmCmd {
    /// Whether this command needs the mount daemon (it starts VMs).
    pub fn needs_daemon(&self) -> bool {
        matches!(
            self,
            VmCmd::Create { .. } | VmCmd::Start { .. } | VmCmd::Restart { .. }
        )
    }

    pub fn run(self, shared: &Mutex<Service>, cwd: &std::path::Path) -> Result<Value> {
        match self {
            VmCmd::Create {
                name,
                resource_group,
                location,
                image,
                size,
                admin_username,
                generate_ssh_keys: _,
                os_disk_encryption_set,
                os_disk_size_gb,
                os_disk_caching,
                os_disk_delete_option,
                storage_sku,
                data_disk_sizes_gb,
                data_disk_encryption_sets,
                data_disk_caching,
                data_disk_delete_option,
                attach_data_disks,
                ultra_ssd_enabled,
                no_wait: _,
                boot,
                ignored: _,
                tags,
                more: _,
            } => {
                let tags = tags.parse()?;
                let (vm_name, vm_group) = (name.clone(), resource_group.clone());
                if boot.boot_kernel.is_some() || boot.boot_initrd.is_some() {
                    crate::daemon::remote::caller_may_name_files("--boot-kernel/--boot-initrd")?;
                }
                if image.contains('/') && !image.starts_with("/subscriptions/") {
                    crate::daemon::remote::caller_may_name_files("--image FILE")?;
                }
                let out = vm_create_shared(
                    shared,
                    &VmArgs {
                        name,
                        resource_group,
                        location,
                        image,
                        size,
                        admin_username,
                        os_disk_encryption_set,
                        os_disk_size_gb,
                        os_disk_caching,
                        os_disk_delete_option,
                        storage_sku,
                        data_disk_sizes_gb,
                        data_disk_encryption_sets,
                        data_disk_caching,
                        data_disk_delete_option,
                        attach_data_disks,
                        ultra_ssd_enabled: ultra_ssd_enabled.unwrap_or(false),
                        boot: boot.boot(),
                        scale_set: None,
                        start: true,
                    },
                    cwd,
                )?;
                if tags.is_some() {
                    // `vm create` prints its own summary (no tags); `vm show` has them.
                    shared.lock().record(
                        RecordTarget::Vm(&vm_name, Some(&vm_group)),
                        &Recorded {
                            tags,
                            ..Default::default()
                        },
                    )?;
                }
                Ok(out)
            }
            VmCmd::Show {
                target,
                show_details,
            } => shared
                .lock()
                .vm_show(target.name(), target.group(), show_details),
            VmCmd::List {
                resource_group,
                show_details,
            } => shared
                .lock()
                .vm_list(resource_group.as_deref(), show_details),
            VmCmd::Start { target, .. } => shared.lock().vm_start(target.name(), target.group()),
            VmCmd::Stop { target, .. } => {
                vm_stop_shared(shared, target.name(), target.group(), false)
            }
            VmCmd::Deallocate { target, .. } => {
                vm_stop_shared(shared, target.name(), target.group(), true)
            }
            VmCmd::Restart { target, .. } => {
                vm_restart_shared(shared, target.name(), target.group())
            }
            VmCmd::Delete { target, yes, .. } => {
                if !yes {
                    return Err(Error::invalid(
                        "vm delete deletes the VM (and its disks whose delete option is Delete): add --yes to confirm",
                    ));
                }
                vm_delete_shared(shared, target.name(), target.group())
            }
            VmCmd::GetInstanceView { target } => shared
                .lock()
                .vm_instance_view(target.name(), target.group()),
            VmCmd::Disk(VmDiskCmd::Attach {
                vm_name,
                resource_group,
                disk,
                ids,
                lun,
                new,
                size_gb,
                sku,
                disk_encryption_set,
                caching,
                ..
            }) => shared.lock().vm_disk_attach(&DiskAttachArgs {
                vm_name,
                resource_group,
                disk: ids.or(disk).unwrap_or_default(),
                lun,
                new,
                size_gb,
                sku,
                disk_encryption_set,
                caching,
            }),
            VmCmd::Disk(VmDiskCmd::Detach {
                vm_name,
                resource_group,
                name,
                ..
            }) => shared
                .lock()
                .vm_disk_detach(&vm_name, resource_group.as_deref(), &name),
            VmCmd::Encryption(VmEncryptionCmd::Enable { target, .. }) => shared
                .lock()
                .vm_encryption_enable(target.name(), target.group()),
            VmCmd::BootDiagnostics(BootDiagnosticsCmd::GetBootLog { target }) => {
                service::vm_boot_log(&shared.lock(), target.name(), target.group())
            }
            VmCmd::PowerOffAll => service::vm_power_off_all_shared(shared),
        }
    }
}

// Parsed once per process: the size of the create variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum VmssCmd {
    /// Create a scale set and its instances (each with its own encrypted disks), and start them.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// An alias, a URN or a managed image.
        #[arg(long)]
        image: String,
        /// Number of instances (default 2).
        #[arg(long)]
        instance_count: Option<u32>,
        #[arg(long)]
        vm_sku: Option<String>,
        /// Automatic, Manual (default) or Rolling.
        #[arg(long, alias = "upgrade-policy")]
        upgrade_policy_mode: Option<String>,
        #[arg(long)]
        admin_username: Option<String>,
        /// Accepted: ssefs VMs need no SSH key.
        #[arg(long)]
        generate_ssh_keys: bool,
        #[arg(long)]
        os_disk_encryption_set: Option<String>,
        #[arg(long)]
        os_disk_size_gb: Option<u64>,
        #[arg(long)]
        storage_sku: Option<String>,
        #[arg(long, num_args = 1..)]
        data_disk_sizes_gb: Vec<u64>,
        #[arg(long, num_args = 1..)]
        data_disk_encryption_sets: Vec<String>,
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        boot: BootArgs,
        #[command(flatten)]
        ignored: Ignored,
        #[arg(long, hide = true)]
        lb: Option<String>,
        #[arg(long, hide = true)]
        load_balancer: Option<String>,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        more: super::vm_options::VmssCreateOptions,
    },
    /// Show a scale set.
    Show {
        #[command(flatten)]
        target: VmTarget,
    },
    /// List scale sets.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// List a scale set's instances, with their power states.
    ListInstances {
        #[command(flatten)]
        target: VmTarget,
    },
    /// Start instances (all, or --instance-ids).
    Start(VmssPower),
    /// Power off instances.
    Stop(VmssPower),
    /// Power off and release instances.
    Deallocate(VmssPower),
    /// Stop and start instances.
    Restart(VmssPower),
    /// Add or remove instances.
    Scale {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        new_capacity: u32,
        #[arg(long)]
        no_wait: bool,
    },
    /// Delete a scale set with its instances and their disks.
    Delete {
        #[command(flatten)]
        target: VmTarget,
        #[arg(long)]
        no_wait: bool,
        /// Optional parameter to force delete a virtual machine scale set (accepted: its instances are powered off and deleted either way).
        #[arg(long, value_parser = super::parse_bool, num_args = 0..=1, default_missing_value = "true")]
        force_deletion: Option<bool>,
    },
}

/// A scale set and some of its instances.
#[derive(Debug, Args)]
pub struct VmssPower {
    #[command(flatten)]
    target: VmTarget,
    /// Instance ids ("*" or none: all).
    #[arg(long, num_args = 1..)]
    instance_ids: Vec<String>,
    #[arg(long)]
    no_wait: bool,
}

impl VmssCmd {
    /// Whether this command needs the mount daemon (it starts instances).
    pub fn needs_daemon(&self) -> bool {
        matches!(
            self,
            VmssCmd::Create { .. }
                | VmssCmd::Start(_)
                | VmssCmd::Restart(_)
                | VmssCmd::Scale { .. }
        )
    }

    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        match self {
            VmssCmd::Create {
                name,
                resource_group,
                location,
                image,
                instance_count,
                vm_sku,
                upgrade_policy_mode,
                admin_username,
                os_disk_encryption_set,
                os_disk_size_gb,
                storage_sku,
                data_disk_sizes_gb,
                data_disk_encryption_sets,
                boot,
                tags,
                ..
            } => {
                if boot.boot_kernel.is_some() || boot.boot_initrd.is_some() {
                    crate::daemon::remote::caller_may_name_files("--boot-kernel/--boot-initrd")?;
                }
                let tags = tags.parse()?;
                let (set_name, set_group) = (name.clone(), resource_group.clone());
                let out = service::vmss_create_shared(
                    shared,
                    &ScaleSetArgs {
                        name,
                        resource_group,
                        location,
                        image,
                        instance_count,
                        vm_sku,
                        upgrade_policy_mode,
                        admin_username,
                        os_disk_encryption_set,
                        os_disk_size_gb,
                        storage_sku,
                        data_disk_sizes_gb,
                        data_disk_encryption_sets,
                        boot: boot.boot(),
                    },
                )?;
                if tags.is_none() {
                    return Ok(out);
                }
                let s = shared.lock();
                s.record(
                    RecordTarget::ScaleSet(&set_name, Some(&set_group)),
                    &Recorded {
                        tags,
                        ..Default::default()
                    },
                )?;
                s.vmss_show(&set_name, Some(&set_group))
            }
            VmssCmd::Show { target } => shared.lock().vmss_show(target.name(), target.group()),
            VmssCmd::List { resource_group } => shared.lock().vmss_list(resource_group.as_deref()),
            VmssCmd::ListInstances { target } => shared
                .lock()
                .vmss_list_instances(target.name(), target.group()),
            VmssCmd::Start(p) => power(shared, &p, "start"),
            VmssCmd::Stop(p) => power(shared, &p, "stop"),
            VmssCmd::Deallocate(p) => power(shared, &p, "deallocate"),
            VmssCmd::Restart(p) => power(shared, &p, "restart"),
            VmssCmd::Scale {
                target,
                new_capacity,
                ..
            } => service::vmss_scale_shared(shared, target.name(), target.group(), new_capacity),
            VmssCmd::Delete { target, .. } => {
                service::vmss_delete_shared(shared, target.name(), target.group())
            }
        }
    }
}

fn power(shared: &Mutex<Service>, p: &VmssPower, action: &str) -> Result<Value> {
    service::vmss_power_shared(
        shared,
        p.target.name(),
        p.target.group(),
        &p.instance_ids,
        action,
    )
}
