//! `disk-encryption-set identity assign|remove|show`. A set always has its system-assigned
//! identity, the one its vault grants `get`, `wrapKey` and `unwrapKey` to; user-assigned
//! identities are recorded and shown (ssefs reaches the vault with the system-assigned one).

use serde_json::Value;

use super::{Service, views};
use crate::error::{Error, Result};
use crate::format::UserIdentity;
use crate::ids;

impl Service {
    /// `identity show`: the set's `identity` object.
    pub fn des_identity_show(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_des_by_ref(name_or_id, group)?;
        Ok(views::des(&rec)["identity"].clone())
    }

    /// `identity assign [--system-assigned] [--user-assigned ID ...]`.
    pub fn des_identity_assign(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        user_assigned: &[String],
    ) -> Result<Value> {
        let mut rec = self.load_des_by_ref(name_or_id, group)?;
        for id in user_assigned {
            let lower = id.to_ascii_lowercase();
            if !lower.starts_with("/subscriptions/")
                || !lower.contains("/providers/microsoft.managedidentity/userassignedidentities/")
            {
                return Err(Error::invalid(format!(
                    "--user-assigned '{}' is not the resource id of a user-assigned identity (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME)",
                    id.chars().take(80).collect::<String>()
                )));
            }
            if !rec
                .user_assigned_identities
                .keys()
                .any(|k| k.eq_ignore_ascii_case(id))
            {
                rec.user_assigned_identities.insert(
                    id.clone(),
                    UserIdentity {
                        principal_id: ids::new_guid()?,
                        client_id: ids::new_guid()?,
                    },
                );
            }
        }
        self.save_des(&rec)?;
        Ok(views::des(&rec)["identity"].clone())
    }

    /// `identity remove [--system-assigned] [--user-assigned [ID ...]]` (no ids: all of them).
    pub fn des_identity_remove(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        system_assigned: bool,
        user_assigned: Option<&[String]>,
    ) -> Result<Value> {
        let mut rec = self.load_des_by_ref(name_or_id, group)?;
        if system_assigned {
            return Err(Error::not_supported(format!(
                "--system-assigned: disk encryption set '{}' reaches its key vault with its system-assigned identity only, which cannot be removed",
                rec.name
            )));
        }
        match user_assigned {
            Some([]) => rec.user_assigned_identities.clear(),
            Some(ids) => {
                for id in ids {
                    let before = rec.user_assigned_identities.len();
                    rec.user_assigned_identities
                        .retain(|k, _| !k.eq_ignore_ascii_case(id));
                    if rec.user_assigned_identities.len() == before {
                        return Err(Error::invalid(format!(
                            "identity '{}' is not assigned to disk encryption set '{}'",
                            id.chars().take(120).collect::<String>(),
                            rec.name
                        )));
                    }
                }
            }
            None => {}
        }
        self.save_des(&rec)?;
        Ok(views::des(&rec)["identity"].clone())
    }
}
