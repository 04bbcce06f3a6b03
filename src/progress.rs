//! Progress of long copies and re-encryptions, on the caller's terminal.
//!
//! Shown only when the work runs in the command's own process and its stderr is a terminal
//! (never in a script's captured output, and never by the mount daemon, whose stderr is its
//! log): one line, rewritten in place as whole percents go by, ended when the work ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the mount daemon: its work is for other processes' commands.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Work smaller than this finishes before a progress line would help.
const MIN_TOTAL: u64 = 64 << 20;

/// Turns progress off for this process (the mount daemon).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// One piece of work whose progress may be shown.
pub struct Progress {
    what: String,
    total: u64,
    shown: Option<u64>,
    enabled: bool,
}

impl Progress {
    /// `what` is shown before the percentage ("copying disk 'd1'"); `total` is in bytes.
    pub fn new(what: impl Into<String>, total: u64) -> Progress {
        Progress {
            what: what.into(),
            total,
            shown: None,
            enabled: !DISABLED.load(Ordering::Relaxed)
                && total >= MIN_TOTAL
                && std::io::stderr().is_terminal(),
        }
    }

    /// The work has reached byte `done` of its total.
    pub fn update(&mut self, done: u64) {
        if !self.enabled || self.total == 0 {
            return;
        }
        let pct = done.min(self.total) * 100 / self.total;
        if self.shown == Some(pct) {
            return;
        }
        self.shown = Some(pct);
        let mib = |b: u64| b >> 20;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{}: {pct:3}% ({} of {} MiB)",
            self.what,
            mib(done.min(self.total)),
            mib(self.total)
        );
        let _ = err.flush();
    }
}

impl Drop for Progress {
    /// Ends the line (at 100% if the work got there), so the next output starts afresh.
    fn drop(&mut self) {
        if self.shown.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_shown_off_a_terminal_or_for_small_work() {
        // Test harnesses capture stderr: not a terminal.
        let mut p = Progress::new("copying", 1 << 30);
        p.update(1 << 29);
        assert_eq!(p.shown, None);
        let p = Progress::new("copying", 1 << 20);
        assert!(!p.enabled);
    }
}
