//! ssefs: cloud-style server-side encryption of managed disks, on one Linux machine.
//!
//! # Layers
//!
//! Data flows one way: command line → [`service`] → [`vault`] and [`volume`] → [`crypto`] →
//! backing files ([`store`], [`format`], [`fsio`]). Only `crypto` names the cipher crates and
//! only `cli` (in the binary's library half) names clap.
//!
//! # Glossary
//!
//! - **DEK**, data encryption key: 512 random bits per disk (two AES-256 keys for XTS).
//! - **KEK**, key-encryption key: the RSA key that wraps a DEK: the store's platform key, or a
//!   customer key in a vault reached through a disk encryption set.
//! - **sector**: 4096 bytes of a disk, the unit of encryption; sector `i` sits at byte
//!   `i * 4096` of the data file.
//! - **tweak**: the sector index, 128-bit little-endian, that makes equal plaintexts in
//!   different sectors encrypt differently (dm-crypt's `plain64`).
//! - **runner**: the process that runs a VM over the plaintext disk files of the mount (qemu,
//!   or the `vm.runner` template), started and reaped by [`vm`].

pub mod buffers;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod crypto;
pub mod daemon;
pub mod duration;
pub mod error;
pub mod format;
pub mod fs;
pub mod fsio;
pub mod hsm;
pub mod ids;
pub mod log;
pub mod progress;
pub mod rbac;
pub mod service;
pub mod store;
pub mod vault;
pub mod vault_dir;
pub mod vm;
pub mod volume;

pub use error::{Error, Result};
