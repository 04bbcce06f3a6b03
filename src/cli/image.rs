//! `ssefs image …` (managed images) and the minimal `ssefs sig …` (shared image galleries) that
//! shows the documented rule: a custom image encrypted with a customer key cannot go into a
//! gallery.

use clap::Subcommand;
use parking_lot::Mutex;
use serde_json::Value;

use super::az_args::{GenericUpdate, Paging, TagArgs};
use super::disk::Target;
use crate::error::{Error, Result};
use crate::ids::Kind;
use crate::service::{self, RecordTarget, Recorded, Service, VolumeArgs};

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Create a managed image from a disk or snapshot; it keeps its source's key.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// The disk or snapshot (name or id) the image is made of.
        #[arg(long)]
        source: String,
        /// Linux (default) or Windows.
        #[arg(long)]
        os_type: Option<String>,
        /// Standard_LRS (default), Premium_LRS or Standard_ZRS.
        #[arg(long)]
        storage_sku: Option<String>,
        /// Accepted for compatibility (V1).
        #[arg(long)]
        hyper_v_generation: Option<String>,
        #[command(flatten)]
        tags: TagArgs,
        /// Specifies whether an image is zone resilient or not (recorded).
        #[arg(long, value_parser = super::parse_bool, num_args = 0..=1, default_missing_value = "true")]
        zone_resilient: Option<bool>,
        /// Storage caching type for the image's OS disk: None, ReadOnly or ReadWrite (recorded).
        #[arg(long, value_parser = ["None", "ReadOnly", "ReadWrite"], ignore_case = true)]
        os_disk_caching: Option<String>,
        /// The name of the edge zone (recorded).
        #[arg(long)]
        edge_zone: Option<String>,
        /// Space-separated list of data disk sources, including unmanaged blob URI, managed disk ID or name, or snapshot ID or name (not supported: images here have an OS disk only).
        #[arg(value_name = "VALUE", long = "data-disk-sources", num_args = 1..)]
        refused_data_disk_sources: Vec<String>,
        /// Storage caching type for the image's data disk (not supported: images here have an OS disk only).
        #[arg(value_name = "VALUE", long = "data-disk-caching")]
        refused_data_disk_caching: Option<String>,
    },
    /// Show a managed image.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// List managed images.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Delete a managed image.
    Delete {
        #[command(flatten)]
        target: Target,
    },
    /// Update a managed image: its tags.
    Update {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        tags: TagArgs,
        #[command(flatten)]
        update: GenericUpdate,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
}

impl ImageCmd {
    /// Runs the command; the copy of the source's data releases the service lock.
    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        match self {
            ImageCmd::Create {
                name,
                resource_group,
                location,
                source,
                os_type,
                storage_sku,
                hyper_v_generation,
                tags,
                zone_resilient,
                os_disk_caching,
                edge_zone,
                ..
            } => {
                if hyper_v_generation
                    .as_deref()
                    .is_some_and(|g| !g.eq_ignore_ascii_case("V1"))
                {
                    return Err(Error::not_supported(
                        "--hyper-v-generation: ssefs images are V1",
                    ));
                }
                let mut set = Vec::new();
                super::az_args::record(
                    &mut set,
                    "storageProfile.zoneResilient",
                    zone_resilient.map(Value::Bool),
                );
                super::az_args::record(
                    &mut set,
                    "storageProfile.osDisk.caching",
                    os_disk_caching.map(|c| {
                        let known = ["None", "ReadOnly", "ReadWrite"];
                        Value::String(
                            known
                                .iter()
                                .find(|k| k.eq_ignore_ascii_case(&c))
                                .map_or(c.clone(), |k| k.to_string()),
                        )
                    }),
                );
                super::az_args::record(
                    &mut set,
                    "extendedLocation",
                    edge_zone.map(|z| serde_json::json!({ "name": z, "type": "EdgeZone" })),
                );
                let recorded = Recorded {
                    tags: tags.parse()?,
                    set,
                    remove: Vec::new(),
                };
                let group = resource_group.clone();
                let out = service::volume_create_shared(
                    shared,
                    Kind::Image,
                    &VolumeArgs {
                        name: name.clone(),
                        resource_group,
                        location,
                        sku: storage_sku,
                        source: Some(source),
                        os_type,
                        ..Default::default()
                    },
                )?;
                if recorded.is_empty() {
                    return Ok(out);
                }
                let s = shared.lock();
                s.record(
                    RecordTarget::Volume(Kind::Image, &name, Some(&group)),
                    &recorded,
                )?;
                s.volume_show(Kind::Image, &name, Some(&group))
            }
            ImageCmd::Update {
                target,
                tags,
                update,
                ..
            } => {
                let recorded = update.recorded(tags.parse()?)?;
                let s = shared.lock();
                s.record(
                    RecordTarget::Volume(Kind::Image, target.name(), target.group()),
                    &recorded,
                )?;
                s.volume_show(Kind::Image, target.name(), target.group())
            }
            ImageCmd::Show { target } => {
                shared
                    .lock()
                    .volume_show(Kind::Image, target.name(), target.group())
            }
            ImageCmd::List { resource_group, .. } => shared
                .lock()
                .volume_list(Kind::Image, resource_group.as_deref()),
            ImageCmd::Delete { target } => {
                shared
                    .lock()
                    .volume_delete(Kind::Image, target.name(), target.group())
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SigCmd {
    /// Create a shared image gallery.
    Create {
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'r', long)]
        gallery_name: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
    },
    /// Image definitions of a gallery.
    #[command(subcommand, name = "image-definition")]
    ImageDefinition(SigDefinitionCmd),
    /// Image versions of a gallery.
    #[command(subcommand, name = "image-version")]
    ImageVersion(SigVersionCmd),
}

#[derive(Debug, Subcommand)]
pub enum SigDefinitionCmd {
    /// Create an image definition.
    Create {
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'r', long)]
        gallery_name: String,
        #[arg(short = 'i', long)]
        gallery_image_definition: String,
        #[arg(long)]
        publisher: String,
        #[arg(long)]
        offer: String,
        /// Image sku.
        #[arg(long)]
        sku: String,
        /// The type of the OS that is included in the disk if creating a VM from user-image or
        /// a specialized VHD: Linux or Windows.
        #[arg(long)]
        os_type: String,
        #[arg(long)]
        os_state: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigVersionCmd {
    /// Create an image version from a managed image.
    Create {
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'r', long)]
        gallery_name: String,
        #[arg(short = 'i', long)]
        gallery_image_definition: String,
        #[arg(short = 'e', long)]
        gallery_image_version: String,
        /// The managed image (name or id).
        #[arg(long)]
        managed_image: String,
    },
}

impl SigCmd {
    pub fn run(self, s: &Service) -> Result<Value> {
        match self {
            SigCmd::Create {
                resource_group,
                gallery_name,
                location,
            } => s.gallery_create(&resource_group, &gallery_name, location.as_deref()),
            SigCmd::ImageDefinition(SigDefinitionCmd::Create {
                resource_group,
                gallery_name,
                gallery_image_definition,
                publisher,
                offer,
                sku,
                os_type,
                os_state,
            }) => s.gallery_definition_create(&service::GalleryDefinition {
                resource_group,
                gallery: gallery_name,
                name: gallery_image_definition,
                publisher,
                offer,
                sku,
                os_type,
                os_state: os_state.unwrap_or_else(|| "Generalized".into()),
            }),
            SigCmd::ImageVersion(SigVersionCmd::Create {
                resource_group,
                gallery_name,
                gallery_image_definition,
                gallery_image_version,
                managed_image,
            }) => s.gallery_version_create(
                &resource_group,
                &gallery_name,
                &gallery_image_definition,
                &gallery_image_version,
                &managed_image,
            ),
        }
    }
}
