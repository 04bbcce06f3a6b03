//! Store settings (`ssefs config set|get|unset|show`), kept in `STORE/config.json`.
//!
//! Settings are few and named; each has a type and a one-line description, and a value is
//! checked when it is set, so a typo is refused instead of silently ignored. The file is
//! optional: a store without it has every default.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsio;

/// The record version of `config.json`.
const CONFIG_VERSION: u32 = 1;

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    Bool,
    /// An absolute path.
    Path,
    /// Free text (a command template).
    Text,
    /// A whole number of seconds, 1 to 3600.
    Seconds,
    /// One of a few words.
    Choice(&'static [&'static str]),
}

/// A setting this build knows.
struct Known {
    name: &'static str,
    value_type: ValueType,
    default: &'static str,
    help: &'static str,
}

/// Every setting, in the order `config show` lists them.
const KNOWN: &[Known] = &[
    Known {
        name: TEST_CLOCK,
        value_type: ValueType::Bool,
        default: "false",
        help: "honour SSEFS_NOW (seconds since the epoch) as the clock, for tests only; ssefs \
               check and every audit entry report it",
    },
    Known {
        name: STRICT,
        value_type: ValueType::Bool,
        default: "false",
        help: "fail like az when a command names a resource group that does not exist \
               (ResourceGroupNotFound) instead of creating it with a warning; SSEFS_STRICT=1 \
               turns it on for one command",
    },
    Known {
        name: MOUNT_POINT,
        value_type: ValueType::Path,
        default: "",
        help: "where a VM command mounts the store when it is not mounted (VMs run only while \
               the mount daemon supervises them); empty means STORE.mnt beside the store",
    },
    Known {
        name: VAULT_DIR,
        value_type: ValueType::Path,
        default: "",
        help: "the directory that holds the key vaults (records, private keys, audit logs) and \
               the backup key, so that the store keeps only ciphertext and wrapped keys; empty \
               means STORE/vaults. Setting it moves the vaults there (into a new or empty \
               directory)",
    },
    Known {
        name: VM_RUNNER,
        value_type: ValueType::Text,
        default: "",
        help: "the command that runs a VM instead of qemu: {name} is the VM's name, {os} the \
               OS disk's plaintext file, a word {data} the data disks' files in LUN order; \
               split like a shell command, never run through a shell",
    },
    Known {
        name: VM_STOP_TIMEOUT,
        value_type: ValueType::Seconds,
        default: "60",
        help: "seconds a VM's runner has to power off after a stop request (QMP \
               system_powerdown for qemu, SIGTERM otherwise) before it is killed",
    },
    Known {
        name: VM_ACCEL,
        value_type: ValueType::Choice(&["auto", "kvm", "tcg"]),
        default: "auto",
        help: "qemu's accelerator: kvm, tcg, or auto (kvm when a probe guest boots with it in \
               5 s, else tcg)",
    },
    Known {
        name: HSM_MODULE,
        value_type: ValueType::Path,
        default: crate::hsm::DEFAULT_MODULE,
        help: "the PKCS#11 library of the token that holds HSM-protected keys (SoftHSM2's by \
               default)",
    },
    Known {
        name: HSM_TOKEN,
        value_type: ValueType::Text,
        default: crate::hsm::DEFAULT_TOKEN,
        help: "the label of the PKCS#11 token for HSM-protected keys",
    },
    Known {
        name: HSM_PIN_FILE,
        value_type: ValueType::Path,
        default: "",
        help: "a file whose first line is the token's user PIN, read when SSEFS_HSM_PIN is not \
               set (a PIN is never taken from the command line)",
    },
    Known {
        name: DEFAULTS_GROUP,
        value_type: ValueType::Text,
        default: "",
        help: "the resource group a command uses when -g/--resource-group is not given (az's \
               `configure --defaults group=G`); empty means none",
    },
    Known {
        name: DEFAULTS_LOCATION,
        value_type: ValueType::Text,
        default: "",
        help: "the location a command uses when -l/--location is not given (az's `configure \
               --defaults location=L`); empty means none",
    },
];

/// `defaults.group`: the resource group of commands run without `-g`.
pub const DEFAULTS_GROUP: &str = "defaults.group";
/// `defaults.location`: the location of commands run without `-l`.
pub const DEFAULTS_LOCATION: &str = "defaults.location";

/// `hsm.module`: the PKCS#11 library.
pub const HSM_MODULE: &str = "hsm.module";
/// `hsm.token`: the token's label.
pub const HSM_TOKEN: &str = "hsm.token";
/// `hsm.pin-file`: where the user PIN is, when `SSEFS_HSM_PIN` is not set.
pub const HSM_PIN_FILE: &str = "hsm.pin-file";

/// `mount-point`: where VM commands mount the store.
pub const MOUNT_POINT: &str = "mount-point";

/// `vault.dir`: where the vaults live (empty: `STORE/vaults`).
pub const VAULT_DIR: &str = "vault.dir";

/// `vm.runner`: the command template that runs a VM (empty: qemu).
pub const VM_RUNNER: &str = "vm.runner";

/// `vm.stop-timeout`: seconds between a VM's power-off request and its kill.
pub const VM_STOP_TIMEOUT: &str = "vm.stop-timeout";

/// `vm.accel`: qemu's accelerator.
pub const VM_ACCEL: &str = "vm.accel";

/// `test-clock`: whether `SSEFS_NOW` may move this store's clock.
pub const TEST_CLOCK: &str = "test-clock";

/// `strict`: whether a missing resource group fails a command, as in az.
pub const STRICT: &str = "strict";

/// `SSEFS_STRICT` of the command being run (the caller's, also when the mount daemon runs it).
static STRICT_FROM_CALLER: AtomicBool = AtomicBool::new(false);

/// Whether the caller's environment asks for strict behaviour (`SSEFS_STRICT=1` or `true`).
pub fn strict_env() -> bool {
    std::env::var("SSEFS_STRICT")
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

/// Records the running command's `SSEFS_STRICT` (see [`strict_env`]).
pub fn set_strict_from_caller(on: bool) {
    STRICT_FROM_CALLER.store(on, Ordering::Relaxed);
}

/// `STORE/config.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default = "config_version")]
    version: u32,
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

fn config_version() -> u32 {
    CONFIG_VERSION
}

fn known(name: &str) -> Result<&'static Known> {
    KNOWN.iter().find(|k| k.name == name).ok_or_else(|| {
        Error::invalid(format!(
            "unknown setting '{}'; known settings: {}",
            name.chars().take(60).collect::<String>(),
            KNOWN.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn canonical_value(k: &Known, value: &str) -> Result<String> {
    match k.value_type {
        ValueType::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok("true".into()),
            "false" | "no" | "0" | "off" => Ok("false".into()),
            _ => Err(Error::invalid(format!(
                "setting '{}' takes true or false, not '{}'",
                k.name,
                value.chars().take(40).collect::<String>()
            ))),
        },
        ValueType::Path if value.is_empty() || value.starts_with('/') => Ok(value.to_string()),
        ValueType::Path => Err(Error::invalid(format!(
            "setting '{}' takes an absolute path",
            k.name
        ))),
        ValueType::Text if value.contains('\0') || value.len() > 4096 => Err(Error::invalid(
            format!("setting '{}' is too long or holds a NUL byte", k.name),
        )),
        ValueType::Text => Ok(value.to_string()),
        ValueType::Seconds => match value.parse::<u32>() {
            Ok(n) if (1..=3600).contains(&n) => Ok(n.to_string()),
            _ => Err(Error::invalid(format!(
                "setting '{}' takes a whole number of seconds from 1 to 3600, not '{}'",
                k.name,
                value.chars().take(40).collect::<String>()
            ))),
        },
        ValueType::Choice(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(value))
            .map(|w| w.to_string())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "setting '{}' takes one of {}, not '{}'",
                    k.name,
                    words.join(", "),
                    value.chars().take(40).collect::<String>()
                ))
            }),
    }
}

impl Config {
    /// `STORE/config.json`.
    pub fn path(store: &Path) -> std::path::PathBuf {
        store.join("config.json")
    }

    /// Loads the settings of `store` (defaults when the file does not exist).
    pub fn load(store: &Path) -> Result<Config> {
        let path = Self::path(store);
        if !path.exists() {
            return Ok(Config {
                version: CONFIG_VERSION,
                settings: BTreeMap::new(),
            });
        }
        let config: Config = fsio::read_json(&path)?;
        if config.version != CONFIG_VERSION {
            return Err(Error::corrupt(
                &path,
                format!(
                    "config version {} is not supported (this ssefs reads version {CONFIG_VERSION})",
                    config.version
                ),
            ));
        }
        for name in config.settings.keys() {
            known(name).map_err(|e| Error::corrupt(&path, e.to_string()))?;
        }
        Ok(config)
    }

    /// Writes the settings atomically.
    pub fn save(&self, store: &Path) -> Result<()> {
        fsio::write_json(&Self::path(store), self, 0o600)
    }

    /// A setting's value, or its default.
    pub fn get(&self, name: &str) -> Result<String> {
        let k = known(name)?;
        Ok(self
            .settings
            .get(k.name)
            .cloned()
            .unwrap_or_else(|| k.default.to_string()))
    }

    /// Sets a setting after checking its name and value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let k = known(name)?;
        let value = canonical_value(k, value)?;
        self.settings.insert(k.name.to_string(), value);
        Ok(())
    }

    /// Returns a setting to its default.
    pub fn unset(&mut self, name: &str) -> Result<()> {
        let k = known(name)?;
        self.settings.remove(k.name);
        Ok(())
    }

    /// Every setting with its value, whether it is the default, and its description (the
    /// default mount point is shown as the path it stands for in `store`).
    pub fn show(&self, store: &Path) -> serde_json::Value {
        serde_json::Value::Array(
            KNOWN
                .iter()
                .map(|k| {
                    let set = self.settings.get(k.name);
                    let value = match (k.name, set) {
                        (MOUNT_POINT, None) => self.mount_point(store).display().to_string(),
                        (VAULT_DIR, None) => self.vault_dir(store).display().to_string(),
                        (_, Some(v)) => v.clone(),
                        (_, None) => k.default.to_string(),
                    };
                    serde_json::json!({
                        "name": k.name,
                        "value": value,
                        "source": if set.is_some() { "store" } else { "default" },
                        "description": k.help,
                    })
                })
                .collect(),
        )
    }

    /// A `defaults.*` setting's value when it is set and not empty.
    pub fn default_value(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a missing resource group fails commands (the setting, or the caller's
    /// `SSEFS_STRICT`).
    pub fn strict(&self) -> bool {
        STRICT_FROM_CALLER.load(Ordering::Relaxed)
            || self.settings.get(STRICT).is_some_and(|v| v == "true")
    }

    /// Where VM commands mount `store` when it is not mounted: the setting, else `STORE.mnt`.
    pub fn mount_point(&self, store: &Path) -> std::path::PathBuf {
        match self.settings.get(MOUNT_POINT) {
            Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
            _ => {
                let mut s = store.as_os_str().to_owned();
                s.push(".mnt");
                std::path::PathBuf::from(s)
            }
        }
    }

    /// Where HSM-protected keys live.
    pub fn hsm(&self) -> crate::hsm::TokenConfig {
        let get = |name: &str, default: &str| {
            self.settings
                .get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        crate::hsm::TokenConfig {
            module: std::path::PathBuf::from(get(HSM_MODULE, crate::hsm::DEFAULT_MODULE)),
            label: get(HSM_TOKEN, crate::hsm::DEFAULT_TOKEN),
            pin_file: self
                .settings
                .get(HSM_PIN_FILE)
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from),
        }
    }

    /// Where the vaults of `store` live: the setting, else `STORE/vaults`.
    pub fn vault_dir(&self, store: &Path) -> std::path::PathBuf {
        match self.settings.get(VAULT_DIR) {
            Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
            _ => store.join("vaults"),
        }
    }

    /// Whether the vaults live outside the store (the setting names another directory).
    pub fn vaults_elsewhere(&self, store: &Path) -> bool {
        self.vault_dir(store) != store.join("vaults")
    }

    /// The VM runner template, when one is set.
    pub fn vm_runner(&self) -> Option<String> {
        self.settings
            .get(VM_RUNNER)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// How long a VM's runner has to power off before it is killed.
    pub fn vm_stop_timeout(&self) -> std::time::Duration {
        let secs = self
            .settings
            .get(VM_STOP_TIMEOUT)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60);
        std::time::Duration::from_secs(secs)
    }

    /// qemu's accelerator setting: `auto`, `kvm` or `tcg`.
    pub fn vm_accel(&self) -> String {
        self.settings
            .get(VM_ACCEL)
            .cloned()
            .unwrap_or_else(|| "auto".into())
    }

    /// Whether `SSEFS_NOW` may move this store's clock.
    pub fn test_clock(&self) -> bool {
        self.settings.get(TEST_CLOCK).is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_saved_and_defaulted() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::load(dir.path()).unwrap();
        assert!(!c.test_clock());
        assert_eq!(c.get(TEST_CLOCK).unwrap(), "false");
        assert!(c.set("no-such-setting", "1").is_err());
        assert!(c.set(TEST_CLOCK, "maybe").is_err());
        c.set(TEST_CLOCK, "ON").unwrap();
        c.save(dir.path()).unwrap();
        let again = Config::load(dir.path()).unwrap();
        assert!(again.test_clock());
        std::fs::write(
            Config::path(dir.path()),
            br#"{"version":1,"settings":{"bogus":"1"}}"#,
        )
        .unwrap();
        assert!(matches!(
            Config::load(dir.path()),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn vm_settings_are_checked() {
        let mut c = Config::default();
        assert_eq!(
            c.mount_point(Path::new("/s/store")),
            Path::new("/s/store.mnt")
        );
        assert!(c.set(MOUNT_POINT, "relative/dir").is_err());
        c.set(MOUNT_POINT, "/mnt/x").unwrap();
        assert_eq!(c.mount_point(Path::new("/s/store")), Path::new("/mnt/x"));
        assert_eq!(
            c.vault_dir(Path::new("/s/store")),
            Path::new("/s/store/vaults")
        );
        assert!(c.set(VAULT_DIR, "keys").is_err());
        c.set(VAULT_DIR, "/keys/v").unwrap();
        assert_eq!(c.vault_dir(Path::new("/s/store")), Path::new("/keys/v"));
        assert!(c.vaults_elsewhere(Path::new("/s/store")));
        assert!(c.set(VM_STOP_TIMEOUT, "0").is_err());
        assert!(c.set(VM_STOP_TIMEOUT, "soon").is_err());
        c.set(VM_STOP_TIMEOUT, "5").unwrap();
        assert_eq!(c.vm_stop_timeout(), std::time::Duration::from_secs(5));
        assert!(c.set(VM_ACCEL, "hvf").is_err());
        c.set(VM_ACCEL, "TCG").unwrap();
        assert_eq!(c.vm_accel(), "tcg");
        assert_eq!(c.vm_runner(), None);
        c.set(VM_RUNNER, "/bin/runner {name} {os} {data}").unwrap();
        assert_eq!(
            c.vm_runner().as_deref(),
            Some("/bin/runner {name} {os} {data}")
        );
    }
}
