//! Argument defaults, as az keeps them: `ssefs configure --defaults group=G location=L`, `ssefs
//! configure --list-defaults`, and `ssefs config set defaults.group=G`, all stored as the
//! store's `defaults.*` settings (see [`crate::config`]).
//!
//! They are applied generically: before parsing, every argument whose id is `resource_group`
//! or `location`, in every command of the tree, gets the stored value as its default, so that
//! a command added later honours them without knowing of them. An explicit flag wins, as in az.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use crate::config::{Config, DEFAULTS_GROUP, DEFAULTS_LOCATION};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::Store;

/// The defaults az knows by these names, the argument ids they fill, and their settings.
const NAMES: &[(&str, &str, &str)] = &[
    ("group", "resource_group", DEFAULTS_GROUP),
    ("location", "location", DEFAULTS_LOCATION),
];

/// Command groups whose `-g` is not a resource's group and takes no default, as in az (whose
/// role commands declare theirs without `configured_default`): `role assignment create -g`
/// narrows the assignment's scope, which a default must never do silently.
const NOT_DEFAULTED: &[&str] = &["role"];

/// `ssefs configure`: az's `az configure`, for its argument defaults.
#[derive(Debug, Args)]
pub struct ConfigureCmd {
    /// Space-separated 'name=value' pairs for common argument defaults: group and location
    /// (an empty value removes the default).
    #[arg(long, num_args = 1.., value_name = "NAME=VALUE")]
    defaults: Vec<String>,
    /// List all applicable defaults.
    #[arg(short = 'l', long, value_parser = super::parse_bool, num_args = 0..=1, default_missing_value = "true")]
    list_defaults: Option<bool>,
    /// Scope of defaults: global (the store's settings; local, per folder, is not supported).
    #[arg(long, default_value = "global")]
    scope: String,
}

impl ConfigureCmd {
    /// Stores the given defaults, or lists them.
    pub fn run(self, service: &mut Service) -> Result<Value> {
        if !self.scope.eq_ignore_ascii_case("global") {
            return Err(Error::invalid(format!(
                "--scope {}: only global defaults (the store's settings) are supported",
                self.scope
            )));
        }
        if self.defaults.is_empty() && self.list_defaults != Some(true) {
            return Err(Error::invalid(
                "give --defaults NAME=VALUE ... or --list-defaults (ssefs has no interactive configuration)",
            ));
        }
        if !self.defaults.is_empty() {
            let mut config = service.store().config().clone();
            for pair in &self.defaults {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    Error::invalid(format!("--defaults '{pair}': expected NAME=VALUE"))
                })?;
                let setting = setting_of(name.trim())?;
                let value = value.trim();
                if value.is_empty() {
                    config.unset(setting)?;
                } else {
                    config.set(setting, value)?;
                }
            }
            service.save_config(config)?;
        }
        if self.list_defaults == Some(true) {
            return Ok(list(service.store().config(), service.store().root()));
        }
        Ok(Value::Null)
    }
}

/// The setting behind an az default name.
fn setting_of(name: &str) -> Result<&'static str> {
    NAMES
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, _, setting)| *setting)
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown default '{name}'; ssefs knows: {}",
                NAMES.iter().map(|n| n.0).collect::<Vec<_>>().join(", ")
            ))
        })
}

/// `configure --list-defaults`, shaped as az prints it (name, source, value).
fn list(config: &Config, root: &Path) -> Value {
    let source = Config::path(root).display().to_string();
    Value::Array(
        NAMES
            .iter()
            .filter_map(|(name, _, setting)| {
                config
                    .default_value(setting)
                    .map(|v| json!({"name": name, "source": source, "value": v}))
            })
            .collect(),
    )
}

/// The defaults in force: argument id and value.
#[derive(Debug, Default, Clone)]
pub struct Defaults(Vec<(&'static str, String)>);

impl Defaults {
    /// The defaults stored in `config`.
    pub fn of(config: &Config) -> Defaults {
        Defaults(
            NAMES
                .iter()
                .filter_map(|(_, arg, setting)| {
                    config.default_value(setting).map(|v| (*arg, v.to_string()))
                })
                .collect(),
        )
    }

    /// The defaults of the store the arguments name (`--store`, else `$SSEFS_STORE` and the
    /// rest of [`Store::default_root`]). A store that cannot be read has none here: the
    /// command itself then reports what is wrong with it.
    pub fn for_args(args: &[String]) -> Defaults {
        let root = store_arg(args).unwrap_or_else(Store::default_root);
        Config::load(&root)
            .map(|c| Defaults::of(&c))
            .unwrap_or_default()
    }

    /// Gives every `resource_group` and `location` argument of the tree its default.
    pub fn apply(&self, cmd: clap::Command) -> clap::Command {
        if self.0.is_empty() {
            return cmd;
        }
        self.apply_here(cmd)
    }

    fn apply_here(&self, mut cmd: clap::Command) -> clap::Command {
        for (id, value) in &self.0 {
            if cmd.get_arguments().any(|a| a.get_id() == *id) {
                let value = value.clone();
                // A required argument with a default is satisfied by it; clap checks the
                // requirement against explicit occurrences only, so it is relaxed here.
                cmd = cmd.mut_arg(*id, |a| a.default_value(value).required(false));
            }
        }
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .filter(|name| !NOT_DEFAULTED.contains(&name.as_str()))
            .collect();
        for name in names {
            cmd = cmd.mut_subcommand(name, |sub| self.apply_here(sub));
        }
        cmd
    }
}

/// The value of `--store DIR` or `--store=DIR` among the arguments, if given.
fn store_arg(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        if a == "--" {
            return None;
        }
        if a == "--store" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--store=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_argument_is_found_in_both_spellings() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            store_arg(&args(&["disk", "list", "--store", "/s"])),
            Some(PathBuf::from("/s"))
        );
        assert_eq!(
            store_arg(&args(&["--store=/t", "disk", "list"])),
            Some(PathBuf::from("/t"))
        );
        assert_eq!(store_arg(&args(&["disk", "list"])), None);
    }

    #[test]
    fn defaults_reach_every_group_but_role() {
        let mut config = Config::default();
        config.set(DEFAULTS_GROUP, "rg").unwrap();
        let cmd = Defaults::of(&config).apply(super::super::command(&Defaults::default()));
        let default_of = |path: &[&str]| {
            let mut c = &cmd;
            for p in path {
                c = c.find_subcommand(p).unwrap();
            }
            c.get_arguments()
                .find(|a| a.get_id() == "resource_group")
                .unwrap()
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(default_of(&["disk", "create"]), ["rg"]);
        assert_eq!(default_of(&["vm", "disk", "attach"]), ["rg"]);
        assert!(default_of(&["role", "assignment", "create"]).is_empty());
    }

    #[test]
    fn unknown_default_names_are_refused() {
        assert_eq!(setting_of("Group").ok(), Some(DEFAULTS_GROUP));
        assert!(setting_of("vm").is_err());
    }
}
