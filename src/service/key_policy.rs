//! Key rotation policies on behalf of the signed-in user, and the rotations a policy makes
//! due: performed by the vault as its own service, then followed by every disk encryption set
//! with auto-rotation, exactly as after a manual `keyvault key rotate`.
//!
//! When due rotations are looked for (always on [`crate::clock::now_secs`], so `SSEFS_NOW`
//! moves it on a test-clock store): at the start of every command that opens the store
//! ([`Service::run_due_rotations`] from the command line, in the CLI or in the mount daemon
//! for a forwarded command), after every forwarded command, and every few seconds in the
//! mount daemon (see `crate::daemon`).

use serde_json::Value;

use super::{Service, views};
use crate::error::{Error, Result};

impl Service {
    /// `keyvault key rotation-policy show`.
    pub fn key_rotation_policy_show(&self, vault: &str, key: &str) -> Result<Value> {
        let (vrec, krec) = self
            .store
            .vaults()
            .rotation_policy(vault, key, &self.user())?;
        Ok(views::rotation_policy(&vrec, &krec))
    }

    /// `keyvault key rotation-policy update --value JSON`: the policy as az sends it (the JSON
    /// text, read from a file by the caller when `--value` names one).
    pub fn key_rotation_policy_update(&self, vault: &str, key: &str, json: &str) -> Result<Value> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::invalid(format!(
                "--value is not valid JSON ({e}); give the policy as JSON, a file, or @file"
            ))
        })?;
        let (vrec, krec) =
            self.store
                .vaults()
                .set_rotation_policy(vault, key, &value, &self.user())?;
        Ok(views::rotation_policy(&vrec, &krec))
    }

    /// Makes every rotation a policy has made due by now, and moves the sets with
    /// auto-rotation on those keys (re-wrapping their disks). Never fails the command it runs
    /// beside: problems are logged.
    pub fn run_due_rotations(&self) {
        for (vault, key) in self.store.vaults().rotate_due_keys() {
            // The audit log records it (KeyRotateIfDue); az prints nothing for it either.
            crate::log::debug(&format!(
                "key '{key}' of vault '{vault}' rotated by its rotation policy"
            ));
            self.after_new_version(&vault, &key);
        }
    }
}
