//! A panic filter for one known panic of the object-store writer.
//!
//! When a write fails (a full disk, say), delta-rs aborts the upload after shutting it down
//! and object_store's `BufWriter::abort` then panics with "Already shut down" on a Tokio
//! worker thread (delta-rs catches it with `catch_unwind`, but the hook runs first). The write
//! error itself still comes back as an `Err` and is reported, so the panic's text and backtrace
//! on stderr only bury the one message that matters.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// The exact message of that panic in object_store's `buffered.rs` (0.13).
const WRITER_ABORT: &str = "Already shut down";

/// Hides that one panic of object_store's buffered writer and passes every other panic
/// (another message in the same file included) to the hook that was installed before.
/// Idempotent; programs call it once at start.
pub fn hide_writer_abort_panics() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            let file = info.location().map(|l| l.file());
            if !hidden(file, message) {
                previous(info);
            }
        }));
    });
}

/// Whether a panic at `file` with `message` is the writer's abort panic. Both must match: a
/// bug elsewhere in the same file (or a panic with the same words elsewhere) must still show.
fn hidden(file: Option<&str>, message: Option<&str>) -> bool {
    let in_writer = file.is_some_and(|f| {
        f.contains("object_store") && (f.ends_with("/buffered.rs") || f.ends_with("\\buffered.rs"))
    });
    in_writer && message == Some(WRITER_ABORT)
}

#[cfg(test)]
mod tests {
    use super::hidden;

    const FILE: &str =
        "/root/.cargo/registry/src/index.crates.io-x/object_store-0.13.2/src/buffered.rs";

    #[test]
    fn only_the_abort_panic_of_the_buffered_writer_is_hidden() {
        assert!(hidden(Some(FILE), Some("Already shut down")));
        // Another panic in the same file is a bug worth seeing.
        assert!(!hidden(
            Some(FILE),
            Some("cannot consume from pending buffer")
        ));
        assert!(!hidden(Some(FILE), Some("100 exceeds buffer sized of 10")));
        assert!(!hidden(Some(FILE), None));
        // The same words elsewhere, or a file of that name in another crate, are not it.
        assert!(!hidden(Some("src/lake.rs"), Some("Already shut down")));
        assert!(!hidden(
            Some("/x/other_crate-1.0/src/buffered.rs"),
            Some("Already shut down")
        ));
        assert!(!hidden(None, Some("Already shut down")));
    }

    /// The installed hook passes a different panic from a `buffered.rs` on to the previous
    /// hook: checked through a real panic, with a recording hook installed before.
    #[test]
    fn other_panics_reach_the_previous_hook() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let seen = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&seen);
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() == Some(&"a bug elsewhere") {
                s.fetch_add(1, Ordering::SeqCst);
            } else {
                default(info);
            }
        }));
        super::hide_writer_abort_panics();
        let r = std::panic::catch_unwind(|| panic!("a bug elsewhere"));
        assert!(r.is_err());
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
