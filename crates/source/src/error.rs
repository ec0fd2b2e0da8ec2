//! Errors of the sources. Each variant carries the path or address it is about.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::fingerprint::Fingerprint;

/// An error of a source.
///
/// Errors about one file or one connection do not stop a running source: they are collected
/// and handed out by [`Source::take_problems`](crate::Source::take_problems) while the source
/// goes on with the other inputs (and retries the file when it changes). Only building a
/// source can fail outright.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A pattern in `include` or `exclude` is not a valid glob.
    #[error("invalid glob pattern `{pattern}`: {source}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: glob::PatternError,
    },
    /// A path given without wildcards does not exist (reported in non-follow mode, where the
    /// source does not wait for it).
    #[error("`{path}`: no such file")]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// In follow mode, nothing matches a pattern yet; the source keeps looking (reported
    /// once, at the first scan).
    #[error("no file matches `{pattern}` yet; waiting for one")]
    NoMatchYet {
        /// The pattern or path as given.
        pattern: String,
    },
    /// A file could not be opened or its metadata read.
    #[error("cannot open `{path}`: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed.
    #[error("cannot read `{path}` at byte {offset}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Byte offset (decompressed, for `.gz`) where reading failed.
        offset: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A `.gz` file is corrupt or ends early (still being written, or cut). Lines before
    /// `offset` were delivered; in follow mode the file is tried again when its size changes.
    #[error(
        "`{path}`: corrupt or incomplete gzip data after {offset} decompressed bytes: {source}"
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// Decompressed bytes read before the error.
        offset: u64,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// A file was truncated in place (copytruncate) and bytes after the last delivered line
    /// were not read; they are read from the rotated copy if one matches the patterns.
    #[error("`{path}` was truncated at byte {offset}; reading it again from the start")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset of the last delivered line end before the truncation was seen.
        offset: u64,
    },
    /// A path or match is a symbolic link and `follow_symlinks` is off: it is skipped
    /// (reported once per path).
    #[error("`{path}` is a symbolic link: skipped (set follow_symlinks = true, or --follow-symlinks, to read the file it points to)")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A file closed, or not yet opened, to stay within `max_open_files` went away (deleted,
    /// or renamed out of the patterns) before its last bytes were read.
    #[error("`{path}` went away before up to {bytes} bytes of it were read (it was waiting for one of max_open_files)")]
    Unread {
        /// Where the file was last seen.
        path: PathBuf,
        /// Bytes not read: after the last delivered line, or the whole file if it was never
        /// opened.
        bytes: u64,
    },
    /// No file has the content of a recorded [`FileExtent`](crate::FileExtent) any more:
    /// neither the file at its recorded path nor any file under the patterns has its
    /// fingerprint (deleted, rotated out of the patterns, or truncated in place without a
    /// copy). The lines cannot be read again.
    #[error(
        "`{path}` (file {fingerprint}) is gone: no file under the patterns has its content any more"
    )]
    Gone {
        /// The path the file had when the extent was read.
        path: PathBuf,
        /// The file's identity.
        fingerprint: Fingerprint,
    },
    /// The file of a recorded extent was found but holds less content than the extent
    /// reaches (truncated in place, or a `.gz` cut short); `expected` and `found` are content
    /// bytes.
    #[error(
        "`{path}` (file {fingerprint}) holds {found} bytes of content, fewer than the {expected} recorded"
    )]
    Shrunk {
        /// Where the file was found.
        path: PathBuf,
        /// The file's identity.
        fingerprint: Fingerprint,
        /// Content offset the extent ends at.
        expected: u64,
        /// Content bytes the file has now.
        found: u64,
    },
    /// The file of a recorded extent was found, but its bytes in the extent's range split
    /// into another number of lines than were read then: it was rewritten in place.
    #[error(
        "`{path}` (file {fingerprint}) has changed: the recorded range holds {found} lines, not the {expected} read then"
    )]
    Changed {
        /// Where the file was found.
        path: PathBuf,
        /// The file's identity.
        fingerprint: Fingerprint,
        /// Lines recorded.
        expected: u64,
        /// Lines the range holds now.
        found: u64,
    },
    /// Writing a checkpoint failed (temp file, fsync or rename).
    #[error("cannot write checkpoint `{path}`: {source}")]
    CheckpointWrite {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a checkpoint failed.
    #[error("cannot read checkpoint `{path}`: {source}")]
    CheckpointRead {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A checkpoint file is not valid JSON of the expected shape.
    #[error("checkpoint `{path}` is not valid: {source}")]
    CheckpointFormat {
        /// The checkpoint file.
        path: PathBuf,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Binding a listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Accepting or reading a connection, or receiving a datagram, failed.
    #[error("{what} on {local}{}: {source}", peer.map(|p| format!(" from {p}")).unwrap_or_default())]
    Network {
        /// What was being done (`accept`, `read`, `recv`).
        what: &'static str,
        /// The listening address.
        local: SocketAddr,
        /// The peer, when known.
        peer: Option<SocketAddr>,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a stream (stdin) failed.
    #[error("cannot read {name}: {source}")]
    Stream {
        /// The stream's name (`stdin`).
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Spool I/O failed (open, append, fsync, roll).
    #[error("spool `{path}`: {source}")]
    Spool {
        /// The spool directory or segment.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The spool reached one of its caps, or its writes fail and are retried: reading
    /// waits, or a malformed frame is counted and not kept. Not an error of the input.
    #[error("spool `{path}`: {what}")]
    SpoolState {
        /// The spool directory.
        path: PathBuf,
        /// What happens.
        what: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A problem a remote system the source reads from reported (a Kafka broker).
    #[error("{0}")]
    Remote(String),
}
