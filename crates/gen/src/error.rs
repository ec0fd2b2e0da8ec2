//! Errors of the generator, each naming what was wrong and where.

use hitstream_format::FormatError;

/// Everything that can go wrong when configuring or running a [`crate::Generator`].
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The format is neither a preset nor a format string the format crate accepts.
    #[error("cannot use log format `{name}`")]
    Format {
        /// What was asked for.
        name: String,
        /// Why the format crate refused it.
        #[source]
        source: FormatError,
    },
    /// An entry of a `--paths` list is malformed.
    #[error("bad --paths entry `{entry}` (entry {index}): {reason}")]
    Paths {
        /// The entry as written.
        entry: String,
        /// Its 1-based position in the list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A UTC offset that is not `+HHMM`, `-HH:MM` or `Z`.
    #[error("bad UTC offset `{text}`: expected +HHMM, -HH:MM or Z")]
    Offset {
        /// The offset as written.
        text: String,
    },
    /// A setting outside its valid range.
    #[error("invalid {field}: {reason}")]
    Config {
        /// The setting (named like its command-line flag).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the output failed.
    #[error("writing generated lines after {lines} lines")]
    Write {
        /// Lines written successfully before the failure.
        lines: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl GenError {
    /// Whether this is a write to a closed pipe (`hitstream gen | head`): the reader has gone,
    /// which is how a pipeline ends normally, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, GenError::Write { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
