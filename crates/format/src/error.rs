//! Errors in format definitions. Line-level problems are not errors: they are outcomes.

/// A format string or preset name that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// Not a preset, and not a format string either.
    #[error("unknown format `{name}`{}: use a preset ({known}), `auto`, an nginx log_format string ($remote_addr ...) or an Apache LogFormat string (%h ...)", did_you_mean(.suggestion))]
    UnknownPreset {
        /// What was given.
        name: String,
        /// The preset names.
        known: String,
        /// The preset name closest to `name`, when one is close enough to be a typo.
        suggestion: Option<String>,
    },
    /// The format string cannot be compiled.
    #[error("in format `{format}` at byte {at}: {message}")]
    Syntax {
        /// The format string.
        format: String,
        /// Byte offset of the problem.
        at: usize,
        /// What is wrong.
        message: String,
    },
    /// Without a time there is no event time to put the line in.
    #[error("format `{format}` has no time field ($time_local, $time_iso8601, $msec, %t)")]
    NoTimestamp {
        /// The format string.
        format: String,
    },
}

fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(n) => format!(" (did you mean `{n}`?)"),
        None => String::new(),
    }
}
