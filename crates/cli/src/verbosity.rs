//! How much the binary says on stderr beyond its errors: the global `-q`/`--quiet` and
//! `-v`/`--verbose` flags of every command.
//!
//! - errors and warnings: `eprintln!` as always; `-q` never hides them;
//! - informational lines (what was detected, where state lives, progress, end-of-run
//!   summaries): [`info!`], hidden by `-q`;
//! - detail a user asks for when something looks wrong (each file opened, each setting
//!   that was defaulted): [`detail!`], shown only with `-v`.
//!
//! ```ignore
//! use crate::verbosity::{detail, info};
//! info!("state lives at {}", dir.display());
//! detail!("checkpoint interval {:?}", cfg.checkpoint.interval);
//! if crate::verbosity::quiet() { /* no progress bar */ }
//! ```
//!
//! The level is one process-wide value, set once by `main` from the flags before a command
//! runs: threading it through every command and the pipeline's helpers would touch every
//! signature for a setting that never changes during a run.
#![cfg_attr(not(feature = "full"), allow(dead_code))]

use std::sync::atomic::{AtomicU8, Ordering};

/// How much is said on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-q`: errors and warnings only.
    Quiet = 0,
    /// Errors, warnings and informational lines.
    Normal = 1,
    /// `-v`: also detail.
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

/// Sets the level from the global flags (`-q` wins over `-v`: a script that asks for
/// silence gets it).
pub fn set_from_flags(quiet: bool, verbose: u8) {
    let l = if quiet {
        Level::Quiet
    } else if verbose > 0 {
        Level::Verbose
    } else {
        Level::Normal
    };
    LEVEL.store(l as u8, Ordering::Relaxed);
}

/// The current level.
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Quiet,
        1 => Level::Normal,
        _ => Level::Verbose,
    }
}

/// `-q` was given: informational output (progress bars too) stays off.
pub fn quiet() -> bool {
    level() == Level::Quiet
}

/// `-v` was given.
pub fn verbose() -> bool {
    level() == Level::Verbose
}

/// An informational line on stderr (like `eprintln!`), hidden by `-q`.
macro_rules! info {
    ($($arg:tt)*) => {
        if !$crate::verbosity::quiet() {
            eprintln!($($arg)*);
        }
    };
}

/// A line of detail on stderr (like `eprintln!`), shown only with `-v`.
#[allow(unused_macros)]
macro_rules! detail {
    ($($arg:tt)*) => {
        if $crate::verbosity::verbose() {
            eprintln!($($arg)*);
        }
    };
}

#[allow(unused_imports)]
pub(crate) use {detail, info};
