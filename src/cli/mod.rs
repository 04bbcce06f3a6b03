//! The command line, and the only module that names clap: az's subcommands and flags, one
//! module per command group, output through [`output`].

mod account;
mod des;
mod disk;
mod keyvault;
mod output;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::service::Service;
use crate::store::Store;

pub use output::OutputFormat;

/// ssefs: encrypted managed disks (per-disk keys, customer-managed keys, rotation, revocation,
/// snapshots) on one Linux machine, driven by the same commands as az.
#[derive(Debug, Parser)]
#[command(name = "ssefs", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes, as in az.
#[derive(Debug, Args)]
pub struct Global {
    /// The store directory (default: $SSEFS_STORE, else $XDG_DATA_HOME/ssefs, else ~/.local/share/ssefs).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// JMESPath query applied to the output, e.g. `[id]` or `encryption.type`.
    #[arg(long, global = true, value_name = "JMESPATH")]
    pub query: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    /// Log more on stderr (never secrets).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility with az scripts; ssefs prints warnings only on errors anyway.
    #[arg(long, global = true)]
    pub only_show_errors: bool,
}

/// Command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The emulated subscription.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// Key vaults, their access policies and keys.
    #[command(subcommand)]
    Keyvault(keyvault::KeyvaultCmd),
    /// Disk encryption sets: the link from disks to a customer-managed key.
    #[command(subcommand, name = "disk-encryption-set")]
    DiskEncryptionSet(des::DesCmd),
    /// Managed disks.
    #[command(subcommand)]
    Disk(disk::DiskCmd),
    /// Snapshots of disks (read-only, same key as their source).
    #[command(subcommand)]
    Snapshot(disk::SnapshotCmd),
}

/// Parses true/false the way az's three-state flags do.
pub(crate) fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not true or false")),
    }
}

impl Cli {
    /// Runs the command and returns what to print (already formatted, possibly empty).
    pub fn run(self) -> Result<String> {
        crate::log::set_debug(self.global.debug);
        let root = self
            .global
            .store
            .clone()
            .unwrap_or_else(Store::default_root);
        crate::log::debug(&format!("store {}", root.display()));
        let mut service = Service::open(&root)?;
        let value = match self.command {
            Command::Account(cmd) => cmd.run(&mut service)?,
            Command::Keyvault(cmd) => cmd.run(&service)?,
            Command::DiskEncryptionSet(cmd) => cmd.run(&service)?,
            Command::Disk(cmd) => cmd.run(&service)?,
            Command::Snapshot(cmd) => cmd.run(&service)?,
        };
        output::render(&value, self.global.query.as_deref(), self.global.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
