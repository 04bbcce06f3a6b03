//! `ssefs account show|set`.

use clap::Subcommand;
use serde_json::Value;

use crate::error::Result;
use crate::service::Service;

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Show the current subscription.
    Show,
    /// List the subscriptions the account has used.
    List {
        /// Accepted for az compatibility (every subscription is listed).
        #[arg(long)]
        all: bool,
        /// Accepted for az compatibility (nothing is fetched remotely).
        #[arg(long)]
        refresh: bool,
    },
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
            AccountCmd::List { .. } => Ok(service.account_list()),
            AccountCmd::Set { subscription } => {
                service.account_set(&subscription).map(|_| Value::Null)
            }
        }
    }
}
