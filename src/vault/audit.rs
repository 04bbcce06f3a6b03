//! The audit log: one JSON line per vault operation, and reading it back.

use std::fs;

use serde_json::json;

use super::*;
use crate::clock;
use crate::error::{Error, Result};
use crate::fsio;

impl Vaults {
    /// Appends one audit line. Auditing never fails the operation it records (a full disk must
    /// not turn a refused unwrap into a different error), but a failure to audit is reported on
    /// stderr by the caller's log.
    pub(super) fn audit(
        &self,
        vault: &str,
        op: &str,
        caller: &Caller,
        key: Option<&str>,
        version: Option<&str>,
        outcome: &str,
    ) {
        let mut line = json!({
            "time": clock::now_rfc3339(),
            "operation": op,
            "callerObjectId": caller.object_id,
            "vault": vault,
            "key": key,
            "version": version,
            "resource": caller.resource,
            "outcome": outcome,
        });
        // A time from the test clock is marked as such: it cannot pass for a real one.
        if clock::is_overridden() {
            line["clockOverridden"] = json!(true);
        }
        let path = self.dir.join(vault.to_ascii_lowercase()).join("audit.log");
        if let Err(e) = fsio::append_line(&path, &line.to_string()) {
            crate::log::warn(&format!("audit log of vault '{vault}' not written: {e}"));
        }
    }

    /// The audit log of a vault, oldest first, as JSON values.
    pub fn audit_log(&self, vault: &str) -> Result<Vec<serde_json::Value>> {
        let path = self.vault_dir(vault)?.join("audit.log");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| Error::corrupt(&path, format!("bad audit line: {e}")))
            })
            .collect()
    }
}
