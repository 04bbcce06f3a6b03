//! Virtual machines over the mounted disks: launching and supervising the process that runs
//! each VM (its "runner", qemu unless `vm.runner` names another), asking it to power off
//! through QMP, and choosing between KVM and emulation.
//!
//! A runner only ever sees plaintext disk files of the mount; it never touches the store.

pub mod accel;
pub mod qmp;
pub mod runner;

pub use accel::Accel;
pub use runner::{Boot, ExitHook, ExitInfo, RunnerSpec, Supervisor, command_line, kill_leftovers};
