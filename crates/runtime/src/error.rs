//! Errors of the runtime. Each variant names what it is about: the file, the sink, the
//! epoch.

use std::path::PathBuf;

/// The error type sinks, outputs and source factories return: anything that can say what
/// went wrong. `anyhow::Error` converts into it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can stop a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The settings are not usable.
    #[error("{0}")]
    Config(String),
    /// The log format is not usable.
    #[error("format: {0}")]
    Format(String),
    /// A checkpoint or epoch record could not be read or written.
    #[error("{}", state_text(what, path, source))]
    State {
        /// What the file is (checkpoint, epoch record).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint or epoch record is damaged or from another version.
    #[error("{what} `{path}` is damaged or from another version: {detail}")]
    Damaged {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint does not fit this pipeline or its sinks.
    #[error("{0}")]
    Recovery(String),
    /// A source could not be opened.
    #[error("opening source {name}: {source}")]
    Source {
        /// The source.
        name: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// An output or epoch sink failed.
    #[error("{sink}: {source}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The window engine refused a batch (a bug: batches are applied in order).
    #[error("applying a batch: {0}")]
    Engine(String),
    /// A pipeline thread panicked.
    #[error("the pipeline thread panicked")]
    Panicked,
}

impl RuntimeError {
    pub(crate) fn sink(name: &str, source: BoxError) -> RuntimeError {
        RuntimeError::Sink {
            sink: name.to_string(),
            source,
        }
    }
}

/// A full disk is the one state error a user fixes by hand: say so, and that the restart
/// resumes from the last durable checkpoint.
fn state_text(what: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    if is_disk_full(e) {
        format!(
            "no space left on device while writing the {what} `{}`; nothing was lost: \
             restart when there is room",
            path.display()
        )
    } else {
        format!("{what} `{}`: {e}", path.display())
    }
}

/// Whether an error comes from a full disk, anywhere in its chain (the sinks' libraries wrap
/// the I/O error, some only in their message), so that sinks and the pipeline's own files
/// tell the user the same thing.
pub fn is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28) {
                return true;
            }
        }
        let text = err.to_string();
        if text.contains("No space left on device") || text.contains("os error 28") {
            return true;
        }
        cur = err.source();
    }
    false
}
