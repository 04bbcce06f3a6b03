//! `ssefs config show|get|set|unset`: the store's settings (see [`crate::config`]).

use clap::Subcommand;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::service::Service;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// List every setting with its value, where the value comes from, and what it does.
    Show,
    /// Print one setting's value.
    Get {
        /// The setting, e.g. test-clock.
        name: String,
    },
    /// Change a setting: `config set NAME VALUE` or `config set NAME=VALUE`.
    Set {
        /// The setting, or NAME=VALUE.
        name: String,
        /// The new value (omit with NAME=VALUE).
        value: Option<String>,
    },
    /// Return a setting to its default.
    Unset {
        /// The setting.
        name: String,
    },
}

impl ConfigCmd {
    pub fn run(self, service: &mut Service) -> Result<Value> {
        let mut config = service.store().config().clone();
        match self {
            ConfigCmd::Show => Ok(config.show(service.store().root())),
            ConfigCmd::Get { name } => Ok(Value::String(config.get(&name)?)),
            ConfigCmd::Set { name, value } => {
                let (name, value) = match (value, name.split_once('=')) {
                    (Some(v), _) => (name.clone(), v),
                    (None, Some((n, v))) => (n.to_string(), v.to_string()),
                    (None, None) => {
                        return Err(Error::invalid(format!(
                            "give a value: config set {name} VALUE"
                        )));
                    }
                };
                config.set(&name, &value)?;
                service.save_config(config)?;
                Ok(Value::Null)
            }
            ConfigCmd::Unset { name } => {
                config.unset(&name)?;
                service.save_config(config)?;
                Ok(Value::Null)
            }
        }
    }
}
