//! Running VMs: launching and supervising their runner processes (qemu by default, or a
//! configured command), asking them to power off, and cleaning up after a daemon that died.
//!
//! - `runner.rs`: the runner's command line and the [`runner::Supervisor`];
//! - `qmp.rs`: the few QMP commands the default qemu runner needs (power off);
//! - `accel.rs`: KVM when it really boots a guest here, else TCG.

pub mod accel;
pub mod qmp;
pub mod runner;
