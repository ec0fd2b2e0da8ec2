//! Stand-in for the live terminal view while it is being written.
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the view is told.
#[allow(dead_code)]
pub enum UiEvent {
    Window(hitstream_window::WindowResult),
    Alert(hitstream_window::Alert),
    Stats(RunStats),
    Message(String),
    End,
}

/// Pipeline counters for the header.
#[derive(Debug, Clone, Default)]
#[allow(dead_code)]
pub struct RunStats {
    pub lines: u64,
    pub ok: u64,
    pub degraded: u64,
    pub rejected: u64,
    pub late: u64,
    pub lines_per_sec: f64,
    pub watermark: Option<i64>,
    pub sources: String,
}

pub fn spawn(
    rx: crossbeam_channel::Receiver<UiEvent>,
    _stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<std::io::Result<()>>> {
    Ok(std::thread::spawn(move || {
        for _ in rx.iter() {}
        Ok(())
    }))
}
