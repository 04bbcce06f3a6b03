//! Progress of long work on the caller's terminal: copies of disks and snapshots that are not
//! reflinks, re-encryptions under a new key, rotations of a set (every DEK re-wrapped, also
//! when a rotation a crash interrupted is resumed) and `ssefs check`.
//!
//! A bar (indicatif) on stderr, shown only when the work runs in the command's own process and
//! its stderr is a terminal: never in a pipe or a script's captured output, and never on
//! stdout, so `-o json`/`tsv` output is the same with or without a terminal. The mount daemon
//! turns it off: its work is for other processes' commands and its stderr is its log. Small
//! work (under [`MIN_BYTES`] or [`MIN_ITEMS`]) finishes before a bar would help.
//!
//! ```text
//! copying disk 'd1' [##############>-----------------] 1.21 GiB/2.00 GiB (3s)
//! re-wrapping the DEKs of disk encryption set 'des1' [####>---------] 312/1000 (12s)
//! ```

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Set by the mount daemon: its work is for other processes' commands.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Byte counts smaller than this finish before a bar would help.
pub const MIN_BYTES: u64 = 64 << 20;
/// Item counts (disks, records) smaller than this finish before a bar would help.
pub const MIN_ITEMS: u64 = 2;

/// Turns progress off for this process (the mount daemon).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// One piece of work whose progress may be shown. Shared by reference between the threads
/// that do the work (a rotation's re-wrap workers): the bar is thread-safe.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Work counted in bytes; `what` is shown before the bar ("copying disk 'd1'").
    pub fn new(what: impl Into<String>, total: u64) -> Progress {
        Progress::start(
            what.into(),
            total,
            MIN_BYTES,
            "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
        )
    }

    /// Work counted in items (disks re-wrapped, records checked).
    pub fn items(what: impl Into<String>, total: u64) -> Progress {
        Progress::start(
            what.into(),
            total,
            MIN_ITEMS,
            "{prefix} [{bar:30}] {pos}/{len} ({eta})",
        )
    }

    fn start(what: String, total: u64, min: u64, template: &str) -> Progress {
        let shown =
            !DISABLED.load(Ordering::Relaxed) && total >= min && std::io::stderr().is_terminal();
        if !shown {
            return Progress { bar: None };
        }
        // The templates are constants: a bad one is a bug, shown as the default style.
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#>-");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(what);
        bar.tick();
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is shown.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// The work has reached `done` of its total.
    pub fn update(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// `n` more of the work is done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
}

impl Drop for Progress {
    /// Clears the bar, so that what the command prints next (its output, or the error that
    /// stopped the work) starts on a clean line.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_shown_off_a_terminal_or_for_small_work() {
        // Test harnesses capture stderr: not a terminal.
        let p = Progress::new("copying", 1 << 30);
        p.update(1 << 29);
        assert!(!p.shown());
        assert!(!Progress::items("checking", 1000).shown());
        assert!(!Progress::new("copying", 1 << 20).shown());
    }
}
