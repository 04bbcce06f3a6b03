//! The control files' side of the mount: their attributes, reads, and writes (parsed
//! completely, checked, applied through [`crate::control`], the reason of a refusal kept for
//! `/.control/last-error`).

use fuser::{FileAttr, FileHandle, FileType};

use std::sync::Arc;

use parking_lot::Mutex;

use super::StoreFs;
use super::WritebackFlush;
use super::data::Handle;
use super::inodes::{CONTROL, Object};
use crate::control;
use crate::error::Result;
use crate::log;
use crate::service::Service;

impl StoreFs {
    pub(super) fn control_of(&self, fh: FileHandle) -> Option<control::Node> {
        match self.handles.read().get(&fh.0) {
            Some(Handle::Control(node)) => Some(node.clone()),
            _ => None,
        }
    }

    /// Attributes of a control node (files show their current size).
    pub(super) fn control_attr(&self, node: control::Node) -> Result<FileAttr> {
        let ino = match node {
            control::Node::Root => CONTROL,
            ref other => self.inodes.lock().assign(Object::Control(other.clone())),
        };
        if node.is_dir() {
            return Ok(self.dir_attr(ino));
        }
        let size = if node.readable() {
            let last_error = self.last_error.lock().clone();
            node.read(&self.service.lock(), &last_error)?.len() as u64
        } else {
            0
        };
        let perm = match (node.readable(), node.writable()) {
            (true, true) => 0o600,
            (true, false) => 0o400,
            _ => 0o200,
        };
        Ok(self.attr(ino, FileType::RegularFile, size, perm))
    }

    /// What a control write needs, apart from the file system (so that it can run on a
    /// thread of its own).
    pub(super) fn control_writer(&self) -> ControlWriter {
        ControlWriter {
            service: self.service.clone(),
            last_error: self.last_error.clone(),
            writeback: self.writeback.clone(),
        }
    }

    /// Up to `size` bytes of a control file's content at `offset`.
    pub(super) fn read_control(
        &self,
        node: &control::Node,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>> {
        let last_error = self.last_error.lock().clone();
        let text = node.read(&self.service.lock(), &last_error)?;
        let bytes = text.as_bytes();
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let to = from.saturating_add(size as usize).min(bytes.len());
        Ok(bytes[from..to].to_vec())
    }
}

/// Applies control writes.
pub(super) struct ControlWriter {
    service: Arc<Mutex<Service>>,
    last_error: Arc<Mutex<String>>,
    writeback: Option<Arc<WritebackFlush>>,
}

impl ControlWriter {
    /// Whether a write may wait for request threads (to write the writeback cache back): then
    /// it must not run on one, or with few threads nobody would be left to serve those writes.
    pub(super) fn waits_for_requests(&self) -> bool {
        self.writeback.is_some()
    }

    /// One control write: parse completely, apply, remember the reason of a refusal.
    pub(super) fn write(&self, node: &control::Node, data: &[u8]) -> std::result::Result<(), i32> {
        let result = control::parse(node, data).and_then(|cmd| {
            log::info(&format!(".control: {cmd:?}"));
            // A snapshot must hold what still sits in the writeback cache (caching ReadWrite).
            if let (control::Command::Snapshot { .. }, Some(flush)) = (&cmd, &self.writeback) {
                flush.flush();
            }
            control::apply(cmd, &self.service)
        });
        // A revocation's cache invalidation finishes before the write returns (it runs
        // without the service lock: see RevocationHookSource::hook).
        crate::service::wait_for_revocations(&self.service);
        match result {
            Ok(()) => {
                self.last_error.lock().clear();
                Ok(())
            }
            Err(e) => {
                let line = format!("({}) {e}", e.code());
                log::warn(&format!(".control write refused: {line}"));
                *self.last_error.lock() = line;
                Err(control::errno(&e))
            }
        }
    }
}
