//! Usage errors: what the user typed on the command line cannot be run (a bad flag value,
//! flags that do not go together, no input given). They exit 2, as clap's own do; every
//! other failure exits 1.
//!
//! ```ignore
//! use crate::usage::usage_bail;
//! usage_bail!("--kafka needs --topic TOPIC");          // return Err(...) from the function
//! let d = parse(s).map_err(crate::usage::wrap("--date"))?; // "--date: <the parser's words>"
//! ```
#![cfg_attr(not(feature = "full"), allow(dead_code))]

/// A usage error; `main` exits 2 when one is anywhere in an error's chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A usage error with this message.
pub fn error(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// For `map_err`: a usage error `what: <the error>`.
#[allow(dead_code)]
pub fn wrap<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| error(format!("{what}: {e}"))
}

/// For `map_err` over a function that only reads flags: its error, chain and all, as a
/// usage error.
pub fn mark(e: anyhow::Error) -> anyhow::Error {
    if is_usage(&e) {
        return e;
    }
    error(format!("{e:#}"))
}

/// Whether an error is a usage error (exit 2).
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Usage>())
}

/// Returns a usage error from the enclosing function, formatted like `format!`.
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::usage::error(format!($($arg)*)))
    };
}

#[allow(unused_imports)]
pub(crate) use usage_bail;
