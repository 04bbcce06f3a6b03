//! `ssefs image …` (managed images) and the minimal `ssefs sig …` (shared image galleries) that
//! shows the documented rule: a custom image encrypted with a customer key cannot go into a
//! gallery.

use clap::Subcommand;
use parking_lot::Mutex;
use serde_json::Value;

use super::disk::Target;
use crate::error::{Error, Result};
use crate::ids::Kind;
use crate::service::{self, Service, VolumeArgs};

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
    },
    /// Delete a managed image.
    Delete {
        #[command(flatten)]
        target: Target,
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
            } => {
                if hyper_v_generation
                    .as_deref()
                    .is_some_and(|g| !g.eq_ignore_ascii_case("V1"))
                {
                    return Err(Error::invalid(
                        "(NotSupported) --hyper-v-generation: ssefs images are V1",
                    ));
                }
                service::volume_create_shared(
                    shared,
                    Kind::Image,
                    &VolumeArgs {
                        name,
                        resource_group,
                        location,
                        sku: storage_sku,
                        source: Some(source),
                        os_type,
                        ..Default::default()
                    },
                )
            }
            ImageCmd::Show { target } => {
                shared
                    .lock()
                    .volume_show(Kind::Image, target.name(), target.group())
            }
            ImageCmd::List { resource_group } => shared
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
