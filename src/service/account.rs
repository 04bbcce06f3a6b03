//! `account show` and `account set`: the emulated subscription new resources are created in.

use serde_json::Value;

use super::{Service, views};
use crate::error::{Error, Result};
use crate::format::Subscription;

impl Service {
    /// The current account.
    pub fn account_show(&self) -> Value {
        views::account(self.store.record())
    }

    /// Every subscription the account has used, the current one first if it is new.
    pub(super) fn known_subscriptions(&self) -> Vec<Subscription> {
        let rec = self.store.record();
        let mut out = rec.subscriptions.clone();
        if !out
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(&rec.subscription_id))
        {
            out.insert(
                0,
                Subscription {
                    id: rec.subscription_id.clone(),
                    name: rec.subscription_name.clone(),
                },
            );
        }
        out
    }

    /// `account list`: every subscription, the current one with `isDefault: true`.
    pub fn account_list(&self) -> Value {
        let rec = self.store.record();
        Value::Array(
            self.known_subscriptions()
                .iter()
                .map(|s| {
                    let mut view = rec.clone();
                    let current = s.id.eq_ignore_ascii_case(&rec.subscription_id);
                    view.subscription_id = s.id.clone();
                    view.subscription_name = s.name.clone();
                    let mut v = views::account(&view);
                    v["isDefault"] = Value::Bool(current);
                    v
                })
                .collect(),
        )
    }

    /// Switches the current subscription: by id (a GUID; an id the account has not used yet
    /// becomes a new subscription, named by its id) or by the name of a known one. Existing
    /// resources stay in the subscription they were created in; listings show the current
    /// subscription's only, as az does.
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
        let mut known = self.known_subscriptions();
        let found = known
            .iter()
            .find(|k| k.id.eq_ignore_ascii_case(s))
            .or_else(|| known.iter().find(|k| k.name.eq_ignore_ascii_case(s)))
            .cloned();
        let chosen = match found {
            Some(k) => k,
            None if is_guid(s) => {
                let new = Subscription {
                    id: s.to_ascii_lowercase(),
                    name: s.to_ascii_lowercase(),
                };
                known.push(new.clone());
                new
            }
            None => {
                return Err(Error::NotAllowed(format!(
                    "The subscription of '{s}' doesn't exist in cloud 'AzureCloud'."
                )));
            }
        };
        let mut rec = self.store.record().clone();
        rec.subscription_id = chosen.id;
        rec.subscription_name = chosen.name;
        rec.subscriptions = known;
        self.store.save_record(rec)?;
        Ok(self.account_show())
    }
}

impl Service {
    /// az's `--subscription` on a command: it must name the current subscription (by id or
    /// name), since ssefs runs each command there; another known one is not supported, an
    /// unknown one gets az's error.
    pub fn check_current_subscription(&self, subscription: &str) -> Result<()> {
        let s = subscription.trim();
        let rec = self.store.record();
        if s.eq_ignore_ascii_case(&rec.subscription_id)
            || s.eq_ignore_ascii_case(&rec.subscription_name)
        {
            return Ok(());
        }
        let known = self
            .known_subscriptions()
            .iter()
            .any(|k| k.id.eq_ignore_ascii_case(s) || k.name.eq_ignore_ascii_case(s));
        if known {
            Err(Error::not_supported(format!(
                "--subscription: '{s}' is not the current subscription ('{}'): ssefs runs a command in the current subscription only; switch with 'account set --subscription {s}' first.",
                rec.subscription_name
            )))
        } else {
            Err(Error::NotAllowed(format!(
                "The subscription of '{s}' doesn't exist in cloud 'AzureCloud'."
            )))
        }
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
        match self.store.save_config(config)? {
            crate::vault_dir::Moved::Copied {
                leftover: Some(warning),
            } => self.warn(&warning),
            crate::vault_dir::Moved::Adopted => self.warn(
                "the previous vault directory cannot be reached: nothing was moved; the vaults of the new vault.dir are used",
            ),
            _ => {}
        }
        Ok(())
    }
}
