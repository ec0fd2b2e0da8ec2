//! Event-time windows (placeholder until the engine lands).
