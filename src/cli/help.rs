//! Help as az prints it, added to the derived definition by walking the command tree: a
//! description for the arguments every group shares (`-n`, `-g`, `-l`, `--size-gb`, …) in az's
//! wording, the global flags under "Global Arguments" after each command's own, and an
//! "Examples" section for the main commands, taken from the README's lines.
//!
//! Doing it here, on the built tree, keeps the per-group modules plain and reaches arguments
//! that other modules add later: a shared flag gets its description without anyone writing it.

use clap::{Arg, ArgAction, Command};

/// The heading az gives the flags every command takes.
pub const GLOBAL_HEADING: &str = "Global Arguments";

/// az's description of an argument every group names the same way, by argument id; `{}` is
/// the resource the command works on ("disk", "snapshot", …).
const SHARED: &[(&str, &str)] = &[
    ("name", "The name of the {}."),
    (
        "resource_group",
        "Name of resource group. You can configure the default group using `ssefs configure \
         --defaults group=<name>`.",
    ),
    (
        "location",
        "Location, a region name such as westus2. You can configure the default location \
         using `ssefs configure --defaults location=<location>`.",
    ),
    ("size_gb", "Size in GB."),
    ("sku", "Underlying storage SKU."),
    ("yes", "Do not prompt for confirmation."),
    (
        "no_wait",
        "Do not wait for the long-running operation to finish.",
    ),
    ("vault_name", "Name of the Vault."),
    ("key_url", "URL pointing to a key or secret in KeyVault."),
    (
        "source_vault",
        "Name or ID of the KeyVault containing the key or secret.",
    ),
    (
        "object_id",
        "A GUID that identifies the principal that will receive permissions.",
    ),
    (
        "version",
        "The key version. If omitted, uses the latest version.",
    ),
    ("enabled", "Enable the key."),
    ("kty", "The type of key to create."),
    ("protection", "Specifies the type of key protection."),
    (
        "size",
        "The key size in bits. For example: 2048, 3072, or 4096 for RSA.",
    ),
    (
        "enable_purge_protection",
        "Property specifying whether protection against purge is enabled for this vault.",
    ),
    (
        "retention_days",
        "Soft delete data retention days. It accepts >=7 and <=90.",
    ),
    ("vm_name", "The name of the Virtual Machine."),
    ("ids", "One or more resource IDs (space-delimited)."),
    ("gallery_name", "Gallery name."),
    ("os_type", "The Operating System type of the Disk."),
    (
        "tags",
        "Space-separated tags: key[=value] [key[=value] ...].",
    ),
    (
        "admin_username",
        "Username for the VM. Default value is current username of OS.",
    ),
    ("os_disk_size_gb", "OS disk size in GB to create."),
    (
        "os_disk_caching",
        "Storage caching type for the VM OS disk. Default: ReadWrite.",
    ),
    (
        "data_disk_caching",
        "Storage caching type for data disk(s), including 'None', 'ReadOnly', 'ReadWrite', \
         etc. Default: None.",
    ),
    (
        "os_disk_encryption_set",
        "Name or ID of disk encryption set for OS disk.",
    ),
    (
        "storage_sku",
        "The SKU of the storage account with which to persist VM.",
    ),
    (
        "data_disk_sizes_gb",
        "Space-separated empty managed data disk sizes in GB to create.",
    ),
    (
        "data_disk_encryption_sets",
        "Names or IDs (space delimited) of disk encryption sets for data disks.",
    ),
    ("vm_sku", "Size of VMs in the scale set."),
    ("new_capacity", "Number of VMs in the VMSS."),
    (
        "show_details",
        "Show the power state (az adds public IP address and FQDN).",
    ),
    (
        "lun",
        "0-based logical unit number (LUN). Max value depends on the Virtual Machine size.",
    ),
    ("new", "Create a new disk."),
    ("caching", "Disk caching policy."),
    ("disk_encryption_set", "Name or ID of disk encryption set."),
    ("gallery_image_definition", "Gallery image definition."),
    (
        "gallery_image_version",
        "Gallery image version in semantic version pattern (MAJOR.MINOR.PATCH).",
    ),
    ("publisher", "Image publisher."),
    ("offer", "Image offer."),
    (
        "os_state",
        "Whether the virtual machines created under this image are 'Generalized' or \
         'Specialized'.",
    ),
    ("pem_file", "PEM file containing the key to be imported."),
    (
        "enable_auto_key_rotation",
        "Enable automatic updating of the key to the latest version.",
    ),
    ("mountpoint", "The directory the store is mounted at."),
];

/// The resource a command group works on, for "The name of the {}.".
const NOUNS: &[(&str, &str)] = &[
    ("disk", "managed disk"),
    ("snapshot", "snapshot"),
    ("disk-encryption-set", "disk encryption set"),
    ("keyvault", "Vault"),
    ("key", "key"),
    ("image", "image"),
    ("vm", "Virtual Machine"),
    ("vmss", "virtual machine scale set"),
    ("group", "resource group"),
    ("sig", "Shared Image Gallery"),
];

/// Examples of the main commands: command path, then (what it does, the line), from the
/// README's workflow. Each line parses as written (tests/cli_help.rs checks it).
pub const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "group create",
        &[(
            "Create a resource group in West US 2.",
            "ssefs group create -n myrg -l westus2",
        )],
    ),
    (
        "keyvault create",
        &[(
            "Create a key vault with purge protection, as disk encryption needs.",
            "ssefs keyvault create -n myvault -g myrg -l westus2 --enable-purge-protection true --enable-soft-delete true",
        )],
    ),
    (
        "keyvault key create",
        &[(
            "Create a software-protected RSA key.",
            "ssefs keyvault key create --vault-name myvault -n mykey --protection software",
        )],
    ),
    (
        "keyvault set-policy",
        &[(
            "Let a disk encryption set's identity wrap and unwrap with the vault's keys.",
            "ssefs keyvault set-policy -n myvault -g myrg --object-id $desIdentity --key-permissions wrapkey unwrapkey get",
        )],
    ),
    (
        "disk-encryption-set create",
        &[(
            "Create a disk encryption set that uses a vault's key.",
            "ssefs disk-encryption-set create -n mydes -l westus2 -g myrg --source-vault $keyVaultId --key-url $keyVaultKeyUrl",
        )],
    ),
    (
        "disk create",
        &[
            (
                "Create a 30 GB disk encrypted with a customer-managed key.",
                "ssefs disk create -n mydisk -g myrg -l westus2 --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set $diskEncryptionSetId --size-gb 30 --sku Premium_LRS",
            ),
            (
                "Create a disk under the platform key.",
                "ssefs disk create -n pmkdisk -g myrg --size-gb 4",
            ),
            (
                "Create a disk from a snapshot.",
                "ssefs disk create -n restored -g myrg --source mysnap",
            ),
        ],
    ),
    (
        "disk show",
        &[
            (
                "Show a disk's encryption type.",
                "ssefs disk show -g myrg -n mydisk --query [encryption.type] -o tsv",
            ),
            (
                "Show a disk by name; -g may be left out when the name is unique.",
                "ssefs disk show -n mydisk",
            ),
        ],
    ),
    (
        "disk list",
        &[(
            "List the disks of a resource group as a table.",
            "ssefs disk list -g myrg -o table",
        )],
    ),
    (
        "disk update",
        &[(
            "Move a disk from the platform key to a customer-managed key.",
            "ssefs disk update -n pmkdisk -g myrg --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set mydes",
        )],
    ),
    (
        "disk delete",
        &[(
            "Delete a disk.",
            "ssefs disk delete -n pmkdisk -g myrg --yes",
        )],
    ),
    (
        "snapshot create",
        &[(
            "Snapshot a disk (the snapshot keeps the disk's key).",
            "ssefs snapshot create -g myrg -n mysnap --source mydisk",
        )],
    ),
    (
        "vm create",
        &[(
            "Create a VM whose OS and data disks use a disk encryption set.",
            "ssefs vm create -g myrg -n myvm -l westus2 --image UbuntuLTS --size Standard_DS3_V2 --generate-ssh-keys --os-disk-encryption-set $diskEncryptionSetId --data-disk-sizes-gb 128 128 --data-disk-encryption-sets $diskEncryptionSetId $diskEncryptionSetId",
        )],
    ),
    (
        "mount",
        &[(
            "Mount the store; the command returns once the mount is ready.",
            "ssefs mount /mnt/disks-here",
        )],
    ),
    (
        "unmount",
        &[(
            "Flush, unmount and wait for the daemon to exit.",
            "ssefs unmount /mnt/disks-here",
        )],
    ),
    (
        "configure",
        &[(
            "Make myrg and westus2 the defaults of -g and -l.",
            "ssefs configure --defaults group=myrg location=westus2",
        )],
    ),
];

/// Adds the descriptions, headings and examples to the whole tree.
pub fn decorate(cmd: Command) -> Command {
    let cmd = cmd
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .help("Show this help message and exit")
                .help_heading(GLOBAL_HEADING),
        )
        // az's one line; the values' own descriptions are in the README and the man pages.
        .mut_arg("output", |a| {
            a.hide_possible_values(true)
                .help("Output format. Allowed values: json, jsonc, none, table, tsv, yaml, yamlc")
        });
    walk(cmd, &[])
}

fn walk(mut cmd: Command, path: &[&str]) -> Command {
    let noun = path
        .iter()
        .rev()
        .find_map(|p| NOUNS.iter().find(|(g, _)| g == p).map(|(_, n)| *n))
        .unwrap_or("resource");
    let missing: Vec<(String, String)> = cmd
        .get_arguments()
        .filter(|a| !described(a))
        .filter_map(|a| {
            let id = a.get_id().as_str();
            SHARED
                .iter()
                .find(|(k, _)| *k == id)
                .map(|(_, help)| (id.to_string(), help.replace("{}", noun)))
        })
        .collect();
    for (id, help) in missing {
        // Without the final full stop, as clap's derive writes one-line doc comments.
        let help = help.strip_suffix('.').unwrap_or(&help).to_string();
        cmd = cmd.mut_arg(id, |a| a.help(help));
    }
    if !path.is_empty() {
        cmd = cmd.disable_help_flag(true);
        if let Some(text) = examples_of(&path.join(" ")) {
            cmd = cmd.after_help(text);
        }
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let mut sub_path = path.to_vec();
        sub_path.push(&name);
        cmd = cmd.mut_subcommand(&name, |sub| walk(sub, &sub_path));
    }
    cmd
}

/// Whether an argument has a description.
pub fn described(arg: &Arg) -> bool {
    arg.get_help()
        .is_some_and(|h| !h.to_string().trim().is_empty())
        || arg
            .get_long_help()
            .is_some_and(|h| !h.to_string().trim().is_empty())
}

/// The examples of a command path (`disk create`), if it has some.
pub fn examples(path: &str) -> Option<&'static [(&'static str, &'static str)]> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// The "Examples" text of a command path, as az lays it out.
fn examples_of(path: &str) -> Option<String> {
    let examples = examples(path)?;
    let mut out = String::from("Examples:\n");
    for (what, line) in examples {
        out.push_str(&format!("  {what}\n      {line}\n\n"));
    }
    Some(out.trim_end().to_string())
}

/// Every argument and subcommand of the tree that has no description, as `PATH: --flag`.
pub fn undescribed(cmd: &Command) -> Vec<String> {
    let mut out = Vec::new();
    collect_undescribed(cmd, cmd.get_name(), &mut out);
    out
}

fn collect_undescribed(cmd: &Command, path: &str, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if !described(a) && !a.is_hide_set() {
            let flag = a
                .get_long()
                .map(|l| format!("--{l}"))
                .unwrap_or_else(|| a.get_id().to_string());
            out.push(format!("{path}: {flag}"));
        }
    }
    for sub in cmd.get_subcommands() {
        let sub_path = format!("{path} {}", sub.get_name());
        let has_about = sub
            .get_about()
            .is_some_and(|h| !h.to_string().trim().is_empty());
        if !has_about && !sub.is_hide_set() {
            out.push(format!("{sub_path}: (no description)"));
        }
        collect_undescribed(sub, &sub_path, out);
    }
}
