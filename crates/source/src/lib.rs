//! Log sources (placeholder until the sources land).
