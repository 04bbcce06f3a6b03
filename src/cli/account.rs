//! `ssefs account show|set`.

use clap::Subcommand;
use serde_json::Value;

use crate::error::Result;
use crate::service::Service;

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Show the current subscription.
    Show,
    /// Switch the current subscription (new resources are created in it).
    Set {
        /// Subscription id (GUID) or name.
        #[arg(short = 's', long)]
        subscription: String,
    },
}

impl AccountCmd {
    pub fn run(self, service: &mut Service) -> Result<Value> {
        match self {
            AccountCmd::Show => Ok(service.account_show()),
            AccountCmd::Set { subscription } => {
                service.account_set(&subscription).map(|_| Value::Null)
            }
        }
    }
}
