//! Shared image galleries, only as far as the documented rule needs them: galleries and image
//! definitions can be created, and an image version from a managed image encrypted with a
//! customer key is refused ("custom images encrypted with a customer-managed key cannot be used
//! in a shared image gallery"). Records: `STORE/galleries/NAME/gallery.json` and
//! `STORE/galleries/NAME/images/DEFINITION.json`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Service, normalise_location};
use crate::error::{Error, Result};
use crate::format::Kek;
use crate::fsio;
use crate::ids::{self, Kind};

/// `sig image-definition create` arguments.
#[derive(Debug, Clone)]
pub struct GalleryDefinition {
    pub resource_group: String,
    pub gallery: String,
    pub name: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub os_type: String,
    pub os_state: String,
}

/// `galleries/NAME/gallery.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GalleryRecord {
    version: u32,
    name: String,
    resource_group: String,
    subscription_id: String,
    location: String,
}

impl Service {
    fn gallery_dir(&self, name: &str) -> Result<std::path::PathBuf> {
        ids::validate_name(Kind::Image, name)?;
        Ok(self.store.dir("galleries").join(name.to_ascii_lowercase()))
    }

    fn gallery(&self, name: &str) -> Result<GalleryRecord> {
        let path = self.gallery_dir(name)?.join("gallery.json");
        if !path.exists() {
            return Err(Error::not_found("gallery", name));
        }
        fsio::read_json(&path)
    }

    fn gallery_id(rec: &GalleryRecord) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}",
            rec.subscription_id, rec.resource_group, rec.name
        )
    }

    /// `sig create`.
    pub fn gallery_create(&self, group: &str, name: &str, location: Option<&str>) -> Result<Value> {
        ids::validate_name(Kind::ResourceGroup, group)?;
        let location =
            normalise_location(location.unwrap_or(&self.store.record().default_location));
        self.use_group(group, &location)?;
        let dir = self.gallery_dir(name)?;
        if dir.join("gallery.json").exists() {
            return Err(Error::AlreadyExists {
                kind: "gallery",
                name: name.to_string(),
            });
        }
        let rec = GalleryRecord {
            version: 1,
            name: name.to_string(),
            resource_group: group.to_string(),
            subscription_id: self.store.record().subscription_id.clone(),
            location,
        };
        fsio::create_private_dir(&dir.join("images"))?;
        fsio::write_json(&dir.join("gallery.json"), &rec, 0o600)?;
        Ok(json!({
            "id": Self::gallery_id(&rec),
            "identifier": { "uniqueName": format!("{}-{}", rec.subscription_id, rec.name.to_ascii_uppercase()) },
            "location": rec.location,
            "name": rec.name,
            "provisioningState": "Succeeded",
            "resourceGroup": rec.resource_group,
            "tags": {},
            "type": "Microsoft.Compute/galleries",
        }))
    }

    /// `sig image-definition create`.
    pub fn gallery_definition_create(&self, def: &GalleryDefinition) -> Result<Value> {
        let gallery = self.gallery(&def.gallery)?;
        ids::validate_name(Kind::Image, &def.name)?;
        let path = self
            .gallery_dir(&gallery.name)?
            .join("images")
            .join(format!("{}.json", def.name.to_ascii_lowercase()));
        let view = json!({
            "hyperVGeneration": "V1",
            "id": format!("{}/images/{}", Self::gallery_id(&gallery), def.name),
            "identifier": { "offer": def.offer, "publisher": def.publisher, "sku": def.sku },
            "location": gallery.location,
            "name": def.name,
            "osState": def.os_state,
            "osType": def.os_type,
            "provisioningState": "Succeeded",
            "resourceGroup": def.resource_group,
            "tags": {},
            "type": "Microsoft.Compute/galleries/images",
        });
        fsio::write_json(&path, &view, 0o600)?;
        Ok(view)
    }

    /// `sig image-version create --managed-image`: refused for a customer-key image, as the
    /// documentation rules; ssefs keeps no gallery versions of platform-key images either.
    pub fn gallery_version_create(
        &self,
        group: &str,
        gallery: &str,
        definition: &str,
        version: &str,
        managed_image: &str,
    ) -> Result<Value> {
        let g = self.gallery(gallery)?;
        let def = self
            .gallery_dir(&g.name)?
            .join("images")
            .join(format!("{}.json", definition.to_ascii_lowercase()));
        if !def.exists() {
            return Err(Error::not_found("gallery image definition", definition));
        }
        let image = self.load_volume_by_ref(Kind::Image, managed_image, Some(group))?;
        if matches!(image.key.kek, Kek::Customer { .. }) {
            return Err(Error::not_allowed(format!(
                "image version {version}: the managed image '{}' is encrypted with a customer-managed key (disk encryption set {}); custom images encrypted with a customer-managed key cannot be used in a shared image gallery",
                image.name,
                image.disk_encryption_set_id.as_deref().unwrap_or("?")
            )));
        }
        Err(Error::not_allowed(format!(
            "image version {version}: ssefs keeps no gallery image versions (not supported); use the managed image '{}' directly (disk create --image-reference)",
            image.name
        )))
    }

    /// `(group, subscription, location)` of every gallery (for the groups upgrade).
    pub(super) fn gallery_groups(&self) -> Result<Vec<(String, String, String)>> {
        let dir = self.store.dir("galleries");
        let mut out = Vec::new();
        for entry in fsio::list_entries(&dir)? {
            let rec: GalleryRecord = fsio::read_json(&dir.join(entry).join("gallery.json"))?;
            out.push((rec.resource_group, rec.subscription_id, rec.location));
        }
        Ok(out)
    }

    /// Removes the galleries of `group` and their definitions (`group delete`).
    pub(super) fn delete_galleries_of(&self, group: &str) -> Result<()> {
        let dir = self.store.dir("galleries");
        // `galleries/` exists only once a gallery was made: sync it only when we removed one.
        let mut removed = false;
        for entry in fsio::list_entries(&dir)? {
            let path = dir.join(&entry);
            let rec: GalleryRecord = fsio::read_json(&path.join("gallery.json"))?;
            if rec.resource_group.eq_ignore_ascii_case(group) {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| Error::io(format!("remove {}", path.display()), e))?;
                removed = true;
            }
        }
        if removed {
            fsio::sync_dir(&dir)?;
        }
        Ok(())
    }
}
