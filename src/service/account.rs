//! `account show` and `account set`: the emulated subscription new resources are created in.

use serde_json::Value;

use super::{Service, views};
use crate::error::{Error, Result};

impl Service {
    /// The current account.
    pub fn account_show(&self) -> Value {
        views::account(self.store.record())
    }

    /// Switches the current subscription (a GUID, or a name that becomes the display name).
    /// Existing resources keep the subscription they were created in.
    pub fn account_set(&mut self, subscription: &str) -> Result<Value> {
        let s = subscription.trim();
        if s.is_empty()
            || s.len() > 64
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c))
        {
            return Err(Error::invalid(format!(
                "'{}' is not a subscription id or name",
                s.chars().take(64).collect::<String>()
            )));
        }
        let mut rec = self.store.record().clone();
        if is_guid(s) {
            if !rec.subscription_id.eq_ignore_ascii_case(s) {
                rec.subscription_name = s.to_string();
            }
            rec.subscription_id = s.to_ascii_lowercase();
        } else if !rec.subscription_name.eq_ignore_ascii_case(s) {
            return Err(Error::not_found("subscription", s));
        }
        self.store.save_record(rec)?;
        Ok(self.account_show())
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n)
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Service {
    /// Replaces the store's settings (`ssefs config set|unset`).
    pub fn save_config(&mut self, config: crate::config::Config) -> Result<()> {
        self.store.save_config(config)
    }
}
