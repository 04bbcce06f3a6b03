//! az's `--subscription` on every management command (az lists it among each command's global
//! arguments). ssefs runs a command in the current subscription (`account set`) only, so the
//! option is honoured when it names that subscription (by id or name) and refused as
//! `(NotSupported)` when it names another; az's own error for an unknown one. Added to the
//! built tree, like `--ids`, so that commands added later take it too.

use clap::{Arg, Command};

use super::help::GLOBAL_HEADING;

/// The argument's id (not `subscription`: `account set` has an option of that name, with
/// another meaning).
pub const ID: &str = "az_subscription";

/// az's description.
const HELP: &str = "Name or ID of subscription. You can configure the default subscription \
                    using `az account set -s NAME_OR_ID`";

/// The command groups az gives `--subscription` (the management plane; not `keyvault key`,
/// which addresses a vault's data plane, nor ssefs's own commands).
const GROUPS: &[&str] = &[
    "disk",
    "snapshot",
    "disk-encryption-set",
    "keyvault",
    "group",
    "resource",
    "vm",
    "vmss",
    "image",
    "sig",
    "role",
];

/// Gives `--subscription` to every command of [`GROUPS`].
pub fn add(mut cmd: Command) -> Command {
    for group in GROUPS {
        if cmd.find_subcommand(group).is_some() {
            cmd = cmd.mut_subcommand(*group, add_below);
        }
    }
    cmd
}

fn add_below(mut cmd: Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|name| cmd.get_name() != "keyvault" || name != "key")
        .collect();
    let leaf = cmd.get_subcommands().next().is_none();
    for name in names {
        cmd = cmd.mut_subcommand(name, add_below);
    }
    let taken = cmd
        .get_arguments()
        .any(|a| a.get_long() == Some("subscription"));
    if !leaf || taken {
        return cmd;
    }
    cmd.arg(
        Arg::new(ID)
            .long("subscription")
            .value_name("SUBSCRIPTION")
            .help(HELP)
            .help_heading(GLOBAL_HEADING),
    )
}
