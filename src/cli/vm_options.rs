//! The options of `vm create` and `vmss create` beyond those ssefs implements: accepted where they change
//! nothing a local VM could show (the network, the guest agent, placement), refused with
//! `(NotSupported)` where a script relies on them (Spot, dedicated hosts, identities,
//! confidential VMs, unmanaged disks, ...). See `az_args` for how refusals are found.

use clap::Args;

/// `vm create` options az lists that ssefs does not implement.
#[derive(Debug, Args)]
pub struct VmCreateOptions {
    /// Name or ID of an existing availability set to add the VM to (not supported: no availability sets).
    #[arg(value_name = "VALUE", long = "availability-set", num_args = 0.., default_missing_value = "true")]
    refused_availability_set: Vec<String>,
    /// Number of virtual machines to create (not supported: create them one by one).
    #[arg(value_name = "VALUE", long = "count", num_args = 0.., default_missing_value = "true")]
    refused_count: Vec<String>,
    /// Custom init script file or text (cloud-init, cloud-config, etc..) (not supported: the runner passes nothing to the guest).
    #[arg(value_name = "VALUE", long = "custom-data", num_args = 0.., default_missing_value = "true")]
    refused_custom_data: Vec<String>,
    /// UserData for the VM. It can be passed in as file or string (not supported: the runner passes nothing to the guest).
    #[arg(value_name = "VALUE", long = "user-data", num_args = 0.., default_missing_value = "true")]
    refused_user_data: Vec<String>,
    /// Priority. Use 'Spot' to run short-lived workloads in a cost-effective way (not supported: every VM runs at regular priority).
    #[arg(value_name = "VALUE", long = "priority", num_args = 0.., default_missing_value = "true")]
    refused_priority: Vec<String>,
    /// The eviction policy for the Spot priority virtual machine (not supported: no Spot VMs).
    #[arg(value_name = "VALUE", long = "eviction-policy", num_args = 0.., default_missing_value = "true")]
    refused_eviction_policy: Vec<String>,
    /// The maximum price (in US Dollars) you are willing to pay for a Spot VM/VMSS (not supported: no Spot VMs).
    #[arg(value_name = "VALUE", long = "max-price", num_args = 0.., default_missing_value = "true")]
    refused_max_price: Vec<String>,
    /// Resource ID of the dedicated host that the VM will reside in (not supported: no dedicated hosts).
    #[arg(value_name = "VALUE", long = "host", num_args = 0.., default_missing_value = "true")]
    refused_host: Vec<String>,
    /// Name or resource ID of the dedicated host group that the VM will reside in (not supported: no dedicated hosts).
    #[arg(value_name = "VALUE", long = "host-group", num_args = 0.., default_missing_value = "true")]
    refused_host_group: Vec<String>,
    /// The name or ID of the proximity placement group the VM should be associated with (not supported: no placement groups).
    #[arg(value_name = "VALUE", long = "ppg", num_args = 0.., default_missing_value = "true")]
    refused_ppg: Vec<String>,
    /// Name or ID of an existing virtual machine scale set that the virtual machine should be assigned to (not supported: use vmss create and scale).
    #[arg(value_name = "VALUE", long = "vmss", num_args = 0.., default_missing_value = "true")]
    refused_vmss: Vec<String>,
    /// Indicate whether the source image is specialized (not supported: images here are generalized).
    #[arg(value_name = "VALUE", long = "specialized", num_args = 0.., default_missing_value = "true")]
    refused_specialized: Vec<String>,
    /// Attach an existing OS disk to the VM (not supported: the OS disk is made from --image).
    #[arg(value_name = "VALUE", long = "attach-os-disk", num_args = 0.., default_missing_value = "true")]
    refused_attach_os_disk: Vec<String>,
    /// The name of the new VM OS disk (not supported: the OS disk is named after the VM).
    #[arg(value_name = "VALUE", long = "os-disk-name", num_args = 0.., default_missing_value = "true")]
    refused_os_disk_name: Vec<String>,
    /// Type of OS installed on a custom VHD. Do not use when specifying an URN or URN alias (not supported: the image decides).
    #[arg(value_name = "VALUE", long = "os-type", num_args = 0.., default_missing_value = "true")]
    refused_os_type: Vec<String>,
    /// Allows you to create an OS disk directly on the host node (not supported: every disk is an encrypted managed disk).
    #[arg(value_name = "VALUE", long = "ephemeral-os-disk", num_args = 0.., default_missing_value = "true")]
    refused_ephemeral_os_disk: Vec<String>,
    /// Only applicable when used with --ephemeral-os-disk (not supported: every disk is an encrypted managed disk).
    #[arg(value_name = "VALUE", long = "ephemeral-os-disk-placement", num_args = 0.., default_missing_value = "true")]
    refused_ephemeral_os_disk_placement: Vec<String>,
    /// Specify the security type of the virtual machine (not supported: no Trusted Launch or confidential VMs).
    #[arg(value_name = "VALUE", long = "security-type", num_args = 0.., default_missing_value = "true")]
    refused_security_type: Vec<String>,
    /// Enable secure boot (not supported: no Trusted Launch).
    #[arg(value_name = "VALUE", long = "enable-secure-boot", num_args = 0.., default_missing_value = "true")]
    refused_enable_secure_boot: Vec<String>,
    /// Enable vTPM (not supported: no Trusted Launch).
    #[arg(value_name = "VALUE", long = "enable-vtpm", num_args = 0.., default_missing_value = "true")]
    refused_enable_vtpm: Vec<String>,
    /// Enable Host Encryption for the VM or VMSS (not supported: the disks are encrypted at rest by ssefs).
    #[arg(value_name = "VALUE", long = "encryption-at-host", num_args = 0.., default_missing_value = "true")]
    refused_encryption_at_host: Vec<String>,
    /// Specify the customer managed disk encryption set resource ID or name for the managed disk that is used for customer managed key encrypted Confidential VM OS disk and VM guest blob (not supported: no confidential VMs).
    #[arg(value_name = "VALUE", long = "os-disk-secure-vm-disk-encryption-set", num_args = 0.., default_missing_value = "true")]
    refused_os_disk_secure_vm_disk_encryption_set: Vec<String>,
    /// Specify the encryption type of the OS managed disk (not supported: no confidential VMs).
    #[arg(value_name = "VALUE", long = "os-disk-security-encryption-type", num_args = 0.., default_missing_value = "true")]
    refused_os_disk_security_encryption_type: Vec<String>,
    /// Accept system or user assigned identities separated by spaces (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "assign-identity", num_args = 0.., default_missing_value = "true")]
    refused_assign_identity: Vec<String>,
    /// Role name or id the system assigned identity will have (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "role", num_args = 0.., default_missing_value = "true")]
    refused_role: Vec<String>,
    /// Scope the system assigned identity can access (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "scope", num_args = 0.., default_missing_value = "true")]
    refused_scope: Vec<String>,
    /// One or many Key Vault secrets as JSON strings or files via @{path} containing [{ "sourceVault": { "id": "value" }, "vaultCertificates": [{ "certificateUrl": "value", "certificateStore": "cert store name (only on windows)"}] }] (not supported: vaults here hold keys only).
    #[arg(value_name = "VALUE", long = "secrets", num_args = 0.., default_missing_value = "true")]
    refused_secrets: Vec<String>,
    /// Do not use managed disk to persist VM (not supported: every disk is a managed disk).
    #[arg(value_name = "VALUE", long = "use-unmanaged-disk", num_args = 0.., default_missing_value = "true")]
    refused_use_unmanaged_disk: Vec<String>,
    /// Only applicable when used with --use-unmanaged-disk (not supported: every disk is a managed disk).
    #[arg(value_name = "VALUE", long = "storage-account", num_args = 0.., default_missing_value = "true")]
    refused_storage_account: Vec<String>,
    /// Only applicable when used with --use-unmanaged-disk (not supported: every disk is a managed disk).
    #[arg(value_name = "VALUE", long = "storage-container-name", num_args = 0.., default_missing_value = "true")]
    refused_storage_container_name: Vec<String>,
    /// Plan name (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-name", num_args = 0.., default_missing_value = "true")]
    refused_plan_name: Vec<String>,
    /// Plan product (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-product", num_args = 0.., default_missing_value = "true")]
    refused_plan_product: Vec<String>,
    /// Plan publisher (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-publisher", num_args = 0.., default_missing_value = "true")]
    refused_plan_publisher: Vec<String>,
    /// Plan promotion code (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-promotion-code", num_args = 0.., default_missing_value = "true")]
    refused_plan_promotion_code: Vec<String>,
    /// The ID or name of the capacity reservation group that is used to allocate (not supported: no capacity reservations).
    #[arg(value_name = "VALUE", long = "capacity-reservation-group", num_args = 0.., default_missing_value = "true")]
    refused_capacity_reservation_group: Vec<String>,
    /// Name or ID of Log Analytics Workspace (not supported: no monitoring agents).
    #[arg(value_name = "VALUE", long = "workspace", num_args = 0.., default_missing_value = "true")]
    refused_workspace: Vec<String>,
    /// Names or IDs of existing NICs to attach to the VM (not supported: VMs here have no network).
    #[arg(value_name = "VALUE", long = "nics", num_args = 0.., default_missing_value = "true")]
    refused_nics: Vec<String>,
    /// Generate and validate the ARM template without creating any resources (not supported: ssefs has no templates).
    #[arg(value_name = "VALUE", long = "validate", num_args = 0.., default_missing_value = "true")]
    refused_validate: Vec<String>,
    /// Availability zone into which to provision the resource (accepted and ignored: one machine, one zone).
    #[arg(long = "zone", num_args = 0.., default_missing_value = "true")]
    zone: Vec<String>,
    /// The host name for the VM (accepted and ignored: the runner names the guest).
    #[arg(long = "computer-name", num_args = 0.., default_missing_value = "true")]
    computer_name: Vec<String>,
    /// Use it as public key in virtual machine (accepted and ignored: no SSH keys are written).
    #[arg(long = "ssh-key-name", num_args = 0.., default_missing_value = "true")]
    ssh_key_name: Vec<String>,
    /// Destination file path on the VM for the SSH key (accepted and ignored: no SSH keys are written).
    #[arg(long = "ssh-dest-key-path", num_args = 0.., default_missing_value = "true")]
    ssh_dest_key_path: Vec<String>,
    /// Specifies that the Windows image or disk was licensed on-premises (accepted and ignored: licensing does not apply).
    #[arg(long = "license-type", num_args = 0.., default_missing_value = "true")]
    license_type: Vec<String>,
    /// Pre-existing storage account name or its blob uri to capture boot diagnostics (accepted and ignored: boot-diagnostics get-boot-log reads the runner's console).
    #[arg(long = "boot-diagnostics-storage", num_args = 0.., default_missing_value = "true")]
    boot_diagnostics_storage: Vec<String>,
    /// The name of edge zone (accepted and ignored: one machine).
    #[arg(long = "edge-zone", num_args = 0.., default_missing_value = "true")]
    edge_zone: Vec<String>,
    /// Specify the scale set logical fault domain into which the virtual machine will be created (accepted and ignored: one machine).
    #[arg(long = "platform-fault-domain", num_args = 0.., default_missing_value = "true")]
    platform_fault_domain: Vec<String>,
    /// Mode of in-guest patching to IaaS virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "patch-mode", num_args = 0.., default_missing_value = "true")]
    patch_mode: Vec<String>,
    /// Indicates whether virtual machine agent should be provisioned on the virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "enable-agent", num_args = 0.., default_missing_value = "true")]
    enable_agent: Vec<String>,
    /// Indicate whether Automatic Updates is enabled for the Windows virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "enable-auto-update", num_args = 0.., default_missing_value = "true")]
    enable_auto_update: Vec<String>,
    /// Patch VMs without requiring a reboot (accepted and ignored: no guest agent).
    #[arg(long = "enable-hotpatching", num_args = 0.., default_missing_value = "true")]
    enable_hotpatching: Vec<String>,
    /// The flag that enable or disable hibernation capability on the VM (accepted and ignored: recorded nowhere).
    #[arg(long = "enable-hibernation", num_args = 0.., default_missing_value = "true")]
    enable_hibernation: Vec<String>,
    /// Accept the license agreement and privacy statement (accepted and ignored: nothing to accept).
    #[arg(long = "accept-term", num_args = 0.., default_missing_value = "true")]
    accept_term: Vec<String>,
    /// Specify the number of vCPUs available for the VM (accepted and ignored: the runner decides).
    #[arg(long = "v-cpus-available", num_args = 0.., default_missing_value = "true")]
    v_cpus_available: Vec<String>,
    /// Specify the ratio of vCPU to physical core (accepted and ignored: the runner decides).
    #[arg(long = "v-cpus-per-core", num_args = 0.., default_missing_value = "true")]
    v_cpus_per_core: Vec<String>,
    /// Enable accelerated networking (accepted and ignored: VMs here have no network).
    #[arg(long = "accelerated-networking", num_args = 0.., default_missing_value = "true")]
    accelerated_networking: Vec<String>,
    /// Static private IP address (e.g. 10.0.0.5) (accepted and ignored: VMs here have no network).
    #[arg(long = "private-ip-address", num_args = 0.., default_missing_value = "true")]
    private_ip_address: Vec<String>,
    /// Public IP address allocation: dynamic or static (accepted and ignored: VMs here have no network).
    #[arg(long = "public-ip-address-allocation", num_args = 0.., default_missing_value = "true")]
    public_ip_address_allocation: Vec<String>,
    /// Globally unique DNS name for a newly created public IP (accepted and ignored: VMs here have no network).
    #[arg(long = "public-ip-address-dns-name", num_args = 0.., default_missing_value = "true")]
    public_ip_address_dns_name: Vec<String>,
    /// The IP address prefix to use when creating a new VNet in CIDR format (accepted and ignored: VMs here have no network).
    #[arg(long = "vnet-address-prefix", num_args = 0.., default_missing_value = "true")]
    vnet_address_prefix: Vec<String>,
    /// The subnet IP address prefix to use when creating a new VNet in CIDR format (accepted and ignored: VMs here have no network).
    #[arg(long = "subnet-address-prefix", num_args = 0.., default_missing_value = "true")]
    subnet_address_prefix: Vec<String>,
    /// Space-separated list of existing application security groups to associate with the VM (accepted and ignored: VMs here have no network).
    #[arg(long = "asgs", num_args = 0.., default_missing_value = "true")]
    asgs: Vec<String>,
    /// Specify what happens to the network interface when the VM is deleted (accepted and ignored: VMs here have no network).
    #[arg(long = "nic-delete-option", num_args = 0.., default_missing_value = "true")]
    nic_delete_option: Vec<String>,
}

/// `vmss create` options az lists that ssefs does not implement.
#[derive(Debug, Args)]
pub struct VmssCreateOptions {
    /// Custom init script file or text (cloud-init, cloud-config, etc..) (not supported: the runner passes nothing to the guest).
    #[arg(value_name = "VALUE", long = "custom-data", num_args = 0.., default_missing_value = "true")]
    refused_custom_data: Vec<String>,
    /// UserData for the virtual machines in the scale set. It can be passed in as file or string (not supported: the runner passes nothing to the guest).
    #[arg(value_name = "VALUE", long = "user-data", num_args = 0.., default_missing_value = "true")]
    refused_user_data: Vec<String>,
    /// Priority. Use 'Spot' to run short-lived workloads in a cost-effective way (not supported: every VM runs at regular priority).
    #[arg(value_name = "VALUE", long = "priority", num_args = 0.., default_missing_value = "true")]
    refused_priority: Vec<String>,
    /// The eviction policy for virtual machines in a Spot priority scale set (not supported: no Spot VMs).
    #[arg(value_name = "VALUE", long = "eviction-policy", num_args = 0.., default_missing_value = "true")]
    refused_eviction_policy: Vec<String>,
    /// The maximum price (in US Dollars) you are willing to pay for a Spot VM/VMSS (not supported: no Spot VMs).
    #[arg(value_name = "VALUE", long = "max-price", num_args = 0.., default_missing_value = "true")]
    refused_max_price: Vec<String>,
    /// Name or ID of dedicated host group that the virtual machine scale set resides in (not supported: no dedicated hosts).
    #[arg(value_name = "VALUE", long = "host-group", num_args = 0.., default_missing_value = "true")]
    refused_host_group: Vec<String>,
    /// The name or ID of the proximity placement group the VMSS should be associated with (not supported: no placement groups).
    #[arg(value_name = "VALUE", long = "ppg", num_args = 0.., default_missing_value = "true")]
    refused_ppg: Vec<String>,
    /// Indicate whether the source image is specialized (not supported: images here are generalized).
    #[arg(value_name = "VALUE", long = "specialized", num_args = 0.., default_missing_value = "true")]
    refused_specialized: Vec<String>,
    /// Allows you to create an OS disk directly on the host node (not supported: every disk is an encrypted managed disk).
    #[arg(value_name = "VALUE", long = "ephemeral-os-disk", num_args = 0.., default_missing_value = "true")]
    refused_ephemeral_os_disk: Vec<String>,
    /// Only applicable when used with --ephemeral-os-disk (not supported: every disk is an encrypted managed disk).
    #[arg(value_name = "VALUE", long = "ephemeral-os-disk-placement", num_args = 0.., default_missing_value = "true")]
    refused_ephemeral_os_disk_placement: Vec<String>,
    /// Specify the security type of the virtual machine scale set (not supported: no Trusted Launch or confidential VMs).
    #[arg(value_name = "VALUE", long = "security-type", num_args = 0.., default_missing_value = "true")]
    refused_security_type: Vec<String>,
    /// Enable secure boot (not supported: no Trusted Launch).
    #[arg(value_name = "VALUE", long = "enable-secure-boot", num_args = 0.., default_missing_value = "true")]
    refused_enable_secure_boot: Vec<String>,
    /// Enable vTPM (not supported: no Trusted Launch).
    #[arg(value_name = "VALUE", long = "enable-vtpm", num_args = 0.., default_missing_value = "true")]
    refused_enable_vtpm: Vec<String>,
    /// Enable Host Encryption for the VM or VMSS (not supported: the disks are encrypted at rest by ssefs).
    #[arg(value_name = "VALUE", long = "encryption-at-host", num_args = 0.., default_missing_value = "true")]
    refused_encryption_at_host: Vec<String>,
    /// Accept system or user assigned identities separated by spaces (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "assign-identity", num_args = 0.., default_missing_value = "true")]
    refused_assign_identity: Vec<String>,
    /// Role name or id the system assigned identity will have (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "role", num_args = 0.., default_missing_value = "true")]
    refused_role: Vec<String>,
    /// Scope the system assigned identity can access (not supported: VMs here have no identity).
    #[arg(value_name = "VALUE", long = "scope", num_args = 0.., default_missing_value = "true")]
    refused_scope: Vec<String>,
    /// One or many Key Vault secrets as JSON strings or files via @{path} (not supported: vaults here hold keys only).
    #[arg(value_name = "VALUE", long = "secrets", num_args = 0.., default_missing_value = "true")]
    refused_secrets: Vec<String>,
    /// Do not use managed disk to persist VM (not supported: every disk is a managed disk).
    #[arg(value_name = "VALUE", long = "use-unmanaged-disk", num_args = 0.., default_missing_value = "true")]
    refused_use_unmanaged_disk: Vec<String>,
    /// Plan name (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-name", num_args = 0.., default_missing_value = "true")]
    refused_plan_name: Vec<String>,
    /// Plan product (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-product", num_args = 0.., default_missing_value = "true")]
    refused_plan_product: Vec<String>,
    /// Plan publisher (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-publisher", num_args = 0.., default_missing_value = "true")]
    refused_plan_publisher: Vec<String>,
    /// Plan promotion code (not supported: marketplace plans do not apply).
    #[arg(value_name = "VALUE", long = "plan-promotion-code", num_args = 0.., default_missing_value = "true")]
    refused_plan_promotion_code: Vec<String>,
    /// The ID or name of the capacity reservation group that is used to allocate (not supported: no capacity reservations).
    #[arg(value_name = "VALUE", long = "capacity-reservation-group", num_args = 0.., default_missing_value = "true")]
    refused_capacity_reservation_group: Vec<String>,
    /// Type of OS installed on a custom VHD. Do not use when specifying an URN or URN alias (not supported: the image decides).
    #[arg(value_name = "VALUE", long = "os-type", num_args = 0.., default_missing_value = "true")]
    refused_os_type: Vec<String>,
    /// Name to use when creating a new application gateway (default) or referencing an existing one (not supported: scale sets here have no network).
    #[arg(value_name = "VALUE", long = "app-gateway", num_args = 0.., default_missing_value = "true")]
    refused_app_gateway: Vec<String>,
    /// Generate and validate the ARM template without creating any resources (not supported: ssefs has no templates).
    #[arg(value_name = "VALUE", long = "validate", num_args = 0.., default_missing_value = "true")]
    refused_validate: Vec<String>,
    /// Specify the scale-in policy (space-separated) that decides which virtual machines are chosen for removal when a Virtual Machine Scale Set is scaled-in (not supported: scale-in removes the newest instances).
    #[arg(value_name = "VALUE", long = "scale-in-policy", num_args = 0.., default_missing_value = "true")]
    refused_scale_in_policy: Vec<String>,
    /// The amount of time (in minutes, between 30 and 90) for which automatic repairs are suspended due to a state change on VM (not supported: no automatic repairs).
    #[arg(value_name = "VALUE", long = "automatic-repairs-grace-period", num_args = 0.., default_missing_value = "true")]
    refused_automatic_repairs_grace_period: Vec<String>,
    /// Specify the Read-Write IOPS (space-separated) for the managed disk (not supported: set it with disk update).
    #[arg(value_name = "VALUE", long = "data-disk-iops", num_args = 0.., default_missing_value = "true")]
    refused_data_disk_iops: Vec<String>,
    /// Specify the bandwidth in MB per second (space-separated) for the managed disk (not supported: set it with disk update).
    #[arg(value_name = "VALUE", long = "data-disk-mbps", num_args = 0.., default_missing_value = "true")]
    refused_data_disk_mbps: Vec<String>,
    /// Space-separated list of availability zones into which to provision the resource (accepted and ignored: one machine, one zone).
    #[arg(long = "zones", num_args = 0.., default_missing_value = "true")]
    zones: Vec<String>,
    /// Computer name prefix for all of the virtual machines in the scale set (accepted and ignored: the runner names the guests).
    #[arg(long = "computer-name-prefix", num_args = 0.., default_missing_value = "true")]
    computer_name_prefix: Vec<String>,
    /// Choose how virtual machines are managed by the scale set: Uniform or Flexible (accepted and ignored: instances are made from one template either way).
    #[arg(long = "orchestration-mode", num_args = 0.., default_missing_value = "true")]
    orchestration_mode: Vec<String>,
    /// Limit the scale set to a single placement group (accepted and ignored: one machine).
    #[arg(long = "single-placement-group", num_args = 0.., default_missing_value = "true")]
    single_placement_group: Vec<String>,
    /// Fault Domain count for each placement group in the availability zone (accepted and ignored: one machine).
    #[arg(long = "platform-fault-domain-count", num_args = 0.., default_missing_value = "true")]
    platform_fault_domain_count: Vec<String>,
    /// Overprovision option (see https://azure.microsoft.com/documentation/articles/virtual-machine-scale-sets-overview/ for details) (accepted and ignored: ssefs never overprovisions).
    #[arg(long = "disable-overprovision", num_args = 0.., default_missing_value = "true")]
    disable_overprovision: Vec<String>,
    /// Enforce strict even virtual machine distribution cross x-zones in multi-zone case (accepted and ignored: one machine, one zone).
    #[arg(long = "zone-balance", num_args = 0.., default_missing_value = "true")]
    zone_balance: Vec<String>,
    /// Specifies that the Windows image or disk was licensed on-premises (accepted and ignored: licensing does not apply).
    #[arg(long = "license-type", num_args = 0.., default_missing_value = "true")]
    license_type: Vec<String>,
    /// Destination file path on the VM for the SSH key (accepted and ignored: no SSH keys are written).
    #[arg(long = "ssh-dest-key-path", num_args = 0.., default_missing_value = "true")]
    ssh_dest_key_path: Vec<String>,
    /// Use it as public key in virtual machine (accepted and ignored: no SSH keys are written).
    #[arg(long = "ssh-key-name", num_args = 0.., default_missing_value = "true")]
    ssh_key_name: Vec<String>,
    /// The name of edge zone (accepted and ignored: one machine).
    #[arg(long = "edge-zone", num_args = 0.., default_missing_value = "true")]
    edge_zone: Vec<String>,
    /// Storage caching type for the VM OS disk (accepted and ignored: instances get az's default, ReadWrite).
    #[arg(long = "os-disk-caching", num_args = 0.., default_missing_value = "true")]
    os_disk_caching: Vec<String>,
    /// Storage caching type for data disk(s), including 'None', 'ReadOnly', 'ReadWrite', etc (accepted and ignored: instances get az's default, None).
    #[arg(long = "data-disk-caching", num_args = 0.., default_missing_value = "true")]
    data_disk_caching: Vec<String>,
    /// Indicates whether virtual machine agent should be provisioned on the virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "enable-agent", num_args = 0.., default_missing_value = "true")]
    enable_agent: Vec<String>,
    /// Indicate whether Automatic Updates is enabled for the Windows virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "enable-auto-update", num_args = 0.., default_missing_value = "true")]
    enable_auto_update: Vec<String>,
    /// Mode of in-guest patching to IaaS virtual machine (accepted and ignored: no guest agent).
    #[arg(long = "patch-mode", num_args = 0.., default_missing_value = "true")]
    patch_mode: Vec<String>,
    /// The maximum percent of total virtual machine instances that will be upgraded simultaneously by the rolling upgrade in one batch (accepted and ignored: upgrades do not apply).
    #[arg(long = "max-batch-instance-percent", num_args = 0.., default_missing_value = "true")]
    max_batch_instance_percent: Vec<String>,
    /// The maximum percentage of the total virtual machine instances in the scale set that can be simultaneously unhealthy (accepted and ignored: upgrades do not apply).
    #[arg(long = "max-unhealthy-instance-percent", num_args = 0.., default_missing_value = "true")]
    max_unhealthy_instance_percent: Vec<String>,
    /// The maximum percentage of upgraded virtual machine instances that can be found to be in an unhealthy state (accepted and ignored: upgrades do not apply).
    #[arg(long = "max-unhealthy-upgraded-instance-percent", num_args = 0.., default_missing_value = "true")]
    max_unhealthy_upgraded_instance_percent: Vec<String>,
    /// The wait time between completing the update for all virtual machines in one batch and starting the next batch (accepted and ignored: upgrades do not apply).
    #[arg(long = "pause-time-between-batches", num_args = 0.., default_missing_value = "true")]
    pause_time_between_batches: Vec<String>,
    /// Enable automatic repairs (accepted and ignored: no health probes).
    #[arg(long = "enable-automatic-repairs", num_args = 0.., default_missing_value = "true")]
    enable_automatic_repairs: Vec<String>,
    /// Probe name from the existing load balancer, mainly used for rolling upgrade or automatic repairs (accepted and ignored: scale sets here have no network).
    #[arg(long = "health-probe", num_args = 0.., default_missing_value = "true")]
    health_probe: Vec<String>,
    /// Sku of the Load Balancer to create (accepted and ignored: scale sets here have no network).
    #[arg(long = "lb-sku", num_args = 0.., default_missing_value = "true")]
    lb_sku: Vec<String>,
    /// Name to use for the backend pool when creating a new load balancer or application gateway (accepted and ignored: scale sets here have no network).
    #[arg(long = "backend-pool-name", num_args = 0.., default_missing_value = "true")]
    backend_pool_name: Vec<String>,
    /// When creating a new load balancer, backend port to open with NAT rules (accepted and ignored: scale sets here have no network).
    #[arg(long = "backend-port", num_args = 0.., default_missing_value = "true")]
    backend_port: Vec<String>,
    /// Name to use for the NAT pool when creating a new load balancer (accepted and ignored: scale sets here have no network).
    #[arg(long = "nat-pool-name", num_args = 0.., default_missing_value = "true")]
    nat_pool_name: Vec<String>,
    /// The IP address prefix to use when creating a new VNet in CIDR format (accepted and ignored: scale sets here have no network).
    #[arg(long = "vnet-address-prefix", num_args = 0.., default_missing_value = "true")]
    vnet_address_prefix: Vec<String>,
    /// The subnet IP address prefix to use when creating a new VNet in CIDR format (accepted and ignored: scale sets here have no network).
    #[arg(long = "subnet-address-prefix", num_args = 0.., default_missing_value = "true")]
    subnet_address_prefix: Vec<String>,
    /// Enable accelerated networking (accepted and ignored: scale sets here have no network).
    #[arg(long = "accelerated-networking", num_args = 0.., default_missing_value = "true")]
    accelerated_networking: Vec<String>,
    /// Each VM instance will have a public ip (accepted and ignored: scale sets here have no network).
    #[arg(long = "public-ip-per-vm", num_args = 0.., default_missing_value = "true")]
    public_ip_per_vm: Vec<String>,
    /// Space-separated list of existing application security groups to associate with the VM (accepted and ignored: scale sets here have no network).
    #[arg(long = "asgs", num_args = 0.., default_missing_value = "true")]
    asgs: Vec<String>,
}
