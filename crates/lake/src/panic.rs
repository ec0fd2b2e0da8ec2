//! A panic filter for one known panic of the object-store writer.
//!
//! When a write fails (a full disk, say), delta-rs aborts the upload after shutting it down
//! and object_store's `BufWriter::abort` then panics with "Already shut down" on a Tokio
//! worker thread. The write error itself still comes back as an `Err` and is reported, so the
//! panic's text and backtrace on stderr only bury the one message that matters.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Hides panics raised in object_store's buffered writer and passes every other panic to
/// the hook that was installed before. Idempotent; programs call it once at start.
pub fn hide_writer_abort_panics() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_writer = info.location().is_some_and(|l| {
                let f = l.file();
                f.contains("object_store") && f.ends_with("buffered.rs")
            });
            if !in_writer {
                previous(info);
            }
        }));
    });
}
