//! Operations on many resources at once: `resource move` between groups and subscriptions, and
//! `group delete`, which deletes what a group holds under the rules each resource has alone.
//!
//! Both check everything before they change anything, so a refusal leaves the store as it was.
//! They then change one resource at a time, each in one atomic record write (or the resource's
//! own delete), so a crash leaves every resource either moved or not, deleted or not.

use serde_json::Value;

use super::{Service, views};
use crate::error::{Error, Result};
use crate::format::{Kek, PendingChange, VolumeRecord};
use crate::fsio;
use crate::ids::{self, Kind};

/// The kinds `resource move` can move, by the provider segment of their ids.
fn movable_kind(id: &str) -> Result<Kind> {
    let lower = id.to_ascii_lowercase();
    for kind in [Kind::Disk, Kind::Snapshot, Kind::Image] {
        if lower.contains(&format!(
            "/providers/{}/",
            kind.provider().to_ascii_lowercase()
        )) {
            return Ok(kind);
        }
    }
    if !id.starts_with("/subscriptions/") {
        return Err(Error::invalid(format!(
            "--ids '{}' is not a resource id",
            id.chars().take(120).collect::<String>()
        )));
    }
    Err(Error::not_allowed(format!(
        "ssefs moves disks, snapshots and images; '{}' cannot be moved (create it again in the destination group)",
        id.chars().take(200).collect::<String>()
    )))
}

impl Service {
    /// The subscription `--destination-subscription-id` names (an id or a name the account
    /// knows), or the current one.
    fn destination_subscription(&self, wanted: Option<&str>) -> Result<String> {
        let current = &self.store.record().subscription_id;
        let Some(w) = wanted else {
            return Ok(current.clone());
        };
        self.known_subscriptions()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(w) || s.name.eq_ignore_ascii_case(w))
            .map(|s| s.id)
            .ok_or_else(|| {
                Error::NotAllowed(format!(
                    "The subscription of '{}' doesn't exist in cloud 'AzureCloud'.",
                    w.chars().take(64).collect::<String>()
                ))
            })
    }

    /// `resource move --ids ... --destination-group G [--destination-subscription-id S]`.
    pub fn resource_move(
        &self,
        ids_to_move: &[String],
        destination_group: &str,
        destination_subscription: Option<&str>,
    ) -> Result<Value> {
        if ids_to_move.is_empty() {
            return Err(Error::invalid("--ids is required"));
        }
        ids::validate_name(Kind::ResourceGroup, destination_group)?;
        let dest_sub = self.destination_subscription(destination_subscription)?;
        // 1. Check everything.
        let mut moving: Vec<VolumeRecord> = Vec::new();
        for id in ids_to_move {
            let kind = movable_kind(id)?;
            let rec = self.load_volume_by_ref(kind, id, None)?;
            if let Some(first) = moving.first()
                && !first
                    .resource_group
                    .eq_ignore_ascii_case(&rec.resource_group)
            {
                return Err(Error::invalid(
                    "The resources being moved must all reside in the same resource group.",
                ));
            }
            self.refuse_if_attached(&rec, "moving it")?;
            if let Some(p) = &rec.pending {
                return Err(Error::Busy(format!(
                    "{} has an unfinished change ({}): move it when that has finished",
                    views::volume_id(&rec),
                    super::pending::pending_label(p)
                )));
            }
            let other_subscription = !rec.subscription_id.eq_ignore_ascii_case(&dest_sub);
            if other_subscription && matches!(rec.key.kek, Kek::Customer { .. }) {
                return Err(Error::not_allowed(format!(
                    "{} is encrypted with a customer-managed key (disk encryption set {}) and cannot be moved to another subscription ('{dest_sub}'): disks, snapshots and images encrypted with customer-managed keys cannot be moved to another subscription; move it within subscription '{}' only",
                    views::volume_id(&rec),
                    rec.disk_encryption_set_id.as_deref().unwrap_or("?"),
                    rec.subscription_id
                )));
            }
            let clash = ids::reference(&rec.name, destination_group);
            let moving_here =
                rec.resource_group.eq_ignore_ascii_case(destination_group) && !other_subscription;
            if !moving_here {
                match self.load_volume(kind, &clash) {
                    Ok(existing) => {
                        return Err(Error::AlreadyExists {
                            kind: kind.label(),
                            name: format!(
                                "{} (in resource group '{destination_group}')",
                                existing.name
                            ),
                        });
                    }
                    Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            moving.push(rec);
        }
        let location = moving
            .first()
            .map(|r| r.location.clone())
            .unwrap_or_default();
        let group = self.use_group_in(destination_group, &location, &dest_sub)?;
        // 2. Move each one: one atomic write of its record, in place (the record, not the
        // entry's name, says which group a resource is in).
        for mut rec in moving {
            let kind = rec.kind.resource_kind();
            let dir = self.volume_dir(kind, &rec.reference())?;
            rec.resource_group = group.name.clone();
            rec.subscription_id = group.subscription_id.clone();
            fsio::write_json(&dir.join("volume.json"), &rec, 0o600)?;
        }
        Ok(Value::Null)
    }

    /// `group delete -n G --yes`: deletes the group's images, snapshots, disks, disk
    /// encryption sets, galleries and key vaults (soft delete: they stay recoverable), the
    /// role assignments scoped inside it, then the group. Refused, with nothing changed, while
    /// one of its disks or snapshots is attached or being changed, or while resources outside
    /// the group use one of its sets.
    pub fn group_delete(&self, name: &str) -> Result<Value> {
        let group = self.group(name)?;
        let in_group = |g: &str, sub: &str| {
            g.eq_ignore_ascii_case(&group.name) && sub.eq_ignore_ascii_case(&group.subscription_id)
        };
        // VMs and scale sets of the group go with it, once stopped; a VM elsewhere that holds
        // one of the group's disks keeps the group alive.
        let all_vms = self.all_vms()?;
        let vms: Vec<_> = all_vms
            .iter()
            .filter(|vm| in_group(&vm.resource_group, &vm.subscription_id))
            .cloned()
            .collect();
        for vm in &vms {
            if matches!(self.power_of(vm), "running" | "stopping") {
                return Err(Error::Busy(format!(
                    "resource group '{}' cannot be deleted while its virtual machine '{}' runs: stop or deallocate it first",
                    group.name, vm.name
                )));
            }
        }
        let vm_disks: Vec<String> = vms
            .iter()
            .flat_map(|vm| std::iter::once(&vm.os_disk).chain(&vm.data_disks))
            .map(|d| d.disk_id.to_ascii_lowercase())
            .collect();
        let mut volumes = Vec::new();
        for kind in [Kind::Image, Kind::Snapshot, Kind::Disk] {
            for rec in self.all_volumes(kind)? {
                if in_group(&rec.resource_group, &rec.subscription_id) {
                    if vm_disks.contains(&views::volume_id(&rec).to_ascii_lowercase()) {
                        // Held by a VM of the group, which is deleted first.
                        self.refuse_if_open(&rec, "deleting its resource group")?;
                    } else {
                        self.refuse_if_attached(&rec, "deleting its resource group")?;
                    }
                    if matches!(rec.pending, Some(PendingChange::Rekey { .. })) {
                        return Err(Error::Busy(format!(
                            "{} is being re-encrypted: delete the group when that has finished",
                            views::volume_id(&rec)
                        )));
                    }
                    volumes.push(rec);
                }
            }
        }
        let sets: Vec<_> = self
            .all_des()?
            .into_iter()
            .filter(|d| in_group(&d.resource_group, &d.subscription_id))
            .collect();
        for des in &sets {
            for user in self.volumes_of_des(des)? {
                if !in_group(&user.resource_group, &user.subscription_id) {
                    return Err(Error::not_allowed(format!(
                        "resource group '{}' cannot be deleted: its disk encryption set '{}' is used by {}, which is in another group",
                        group.name,
                        des.name,
                        views::volume_id(&user)
                    )));
                }
            }
        }
        let vaults: Vec<_> = self
            .store
            .vaults()
            .all_vaults()?
            .into_iter()
            .filter(|v| v.deleted.is_none() && in_group(&v.resource_group, &v.subscription_id))
            .collect();

        for vm in &vms {
            self.remove_vm_record(vm)?;
        }
        self.delete_scale_sets_of(&group.name)?;
        for rec in &volumes {
            self.volume_delete(rec.kind.resource_kind(), &rec.reference(), None)?;
        }
        for des in &sets {
            self.des_delete(&des.reference(), None)?;
        }
        self.delete_galleries_of(&group.name)?;
        for v in &vaults {
            self.vault_delete(&v.name)?;
        }
        let scope = super::groups::group_id(&group);
        let assignments = self.store.vaults().assignments();
        for a in assignments.all()? {
            if a.scope.eq_ignore_ascii_case(&scope)
                || a.scope
                    .to_ascii_lowercase()
                    .starts_with(&format!("{}/", scope.to_ascii_lowercase()))
            {
                assignments.delete(&a.name)?;
            }
        }
        self.remove_group_record(&group)?;
        Ok(Value::Null)
    }
}
