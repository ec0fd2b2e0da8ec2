//! Synthetic access-log traffic (placeholder until the generator lands).
