//! Cryptography, and the only module that names the cipher crates.
//!
//! - [`DataKey`]: a disk's 512-bit data encryption key (DEK), wiped on drop.
//! - [`SectorCipher`]: AES-256-XTS over 4096-byte sectors, tweak = sector index (plain64).
//! - [`KeyPair`]: an RSA key-encryption key (KEK) that wraps and unwraps DEKs with RSA-OAEP-SHA256.
//! - [`BackupKey`], [`seal`], [`Sealed`]: the AES-256-GCM envelope of key backups.

#[cfg(target_arch = "x86_64")]
mod aesni;
mod backup;
mod datakey;
mod kek;
mod xts;

pub use backup::{BACKUP_MAGIC, BACKUP_VERSION, BackupKey, MAX_SEALED, Sealed, key_id_hex, seal};
pub use datakey::DataKey;
pub use kek::{KeyPair, PrivateComponents, PublicKey};
pub use xts::{SECTOR_SIZE, SectorCipher};
