//! The mount daemon's own periodic work: every [`PERIOD`], the rotations that key rotation
//! policies have made due, with the sets that follow them (forwarded commands look for due
//! rotations too, before and after they run; that is the trigger tests rely on).
//!
//! Its clock: the daemon never reads `SSEFS_NOW` from its own environment, so on a store whose
//! `test-clock` is true the periodic check uses the `SSEFS_NOW` that the last forwarded command
//! carried (held as it was, not advancing), and the real clock when that command carried none
//! or the store has no test clock. It runs under the gate forwarded commands run under, since
//! the clock override is process-wide.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::remote::CommandGate;
use crate::clock;
use crate::error::{IoContext, Result};
use crate::service::Service;

/// How often the daemon looks for due rotations by itself.
pub const PERIOD: Duration = Duration::from_secs(5);

/// Starts the periodic thread; it ends with the daemon (or when the service is gone).
pub fn start(service: Weak<Mutex<Service>>, gate: Arc<CommandGate>) -> Result<()> {
    std::thread::Builder::new()
        .name("ssefs-schedule".into())
        .spawn(move || {
            loop {
                std::thread::sleep(PERIOD);
                let Some(service) = service.upgrade() else {
                    return;
                };
                let test_now = gate.lock();
                let test_clock = service.lock().store().config().test_clock();
                clock::set_override(if test_clock { *test_now } else { None });
                service.lock().run_due_rotations();
                clock::set_override(None);
                drop(test_now);
            }
        })
        .ctx(|| "start the daemon's periodic thread")?;
    Ok(())
}
