//! Where the results of `hitstream run` go. Every output is a [`Sink`]; the pipeline hands
//! each one every window result, alert, late line and rejected line, and flushes them all
//! before it saves a checkpoint. The lake, Kafka topics and the dashboard plug in here.
//!
//! The work between two checkpoints is an epoch; [`Sink::commit`] closes one. Sinks that
//! can store an epoch idempotently (the lake) make the pipeline exactly-once for them; the
//! others are at-least-once across a crash (a replayed epoch is emitted again).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hitstream_window::{Alert, LateLine, WindowResult};

use crate::console;

/// An output of the run pipeline. Every method has a do-nothing default, so a sink
/// implements only what it stores.
pub trait Sink: Send {
    /// A window was emitted (first emission, or an update with a higher `revision`).
    fn window(&mut self, _w: &WindowResult) -> anyhow::Result<()> {
        Ok(())
    }

    /// An alert rule fired.
    fn alert(&mut self, _a: &Alert) -> anyhow::Result<()> {
        Ok(())
    }

    /// A line arrived too late for any window (or had no time).
    fn late(&mut self, _l: &LateLine) -> anyhow::Result<()> {
        Ok(())
    }

    /// A line could not be parsed; `why` is `reason_code<TAB>explanation`.
    fn reject(&mut self, _why: &str, _line: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }

    /// A rejected line with where it was read (`source`, byte `offset` of the line).
    fn reject_at(
        &mut self,
        why: &str,
        line: &[u8],
        _source: &str,
        _offset: Option<u64>,
    ) -> anyhow::Result<()> {
        self.reject(why, line)
    }

    /// Parsed lines as rows of the lake's `requests` table (only when a sink wants them,
    /// see [`Sink::wants_requests`]).
    fn requests(&mut self, _rows: hitstream_lake::arrow::array::RecordBatch) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether the pipeline should build `requests` rows for this sink.
    fn wants_requests(&self) -> bool {
        false
    }

    /// Rows waiting for the next commit (the pipeline closes an epoch early when many wait).
    fn buffered_rows(&self) -> usize {
        0
    }

    /// Makes everything handed over so far durable; called before every checkpoint.
    fn flush(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Closes epoch `epoch`: makes its output durable, idempotently where the sink can.
    fn commit(&mut self, _epoch: u64) -> anyhow::Result<()> {
        self.flush()
    }
}

/// Readable blocks per window on stdout, alerts on stderr.
pub struct ConsoleSink {
    windows: bool,
    alerts: bool,
}

impl ConsoleSink {
    /// Windows and alerts (alerts only when `alerts` is set).
    pub fn new(alerts: bool) -> ConsoleSink {
        ConsoleSink {
            windows: true,
            alerts,
        }
    }

    /// Alerts only (windows go elsewhere, e.g. JSON lines on stdout).
    pub fn alerts_only() -> ConsoleSink {
        ConsoleSink {
            windows: false,
            alerts: true,
        }
    }
}

impl Sink for ConsoleSink {
    fn window(&mut self, w: &WindowResult) -> anyhow::Result<()> {
        if self.windows {
            let mut out = std::io::stdout().lock();
            out.write_all(console::render_window(w).as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> anyhow::Result<()> {
        if self.alerts {
            eprintln!("{}", console::render_alert(a));
        }
        Ok(())
    }
}

fn open_out(spec: &str) -> anyhow::Result<Box<dyn Write + Send>> {
    if spec == "-" {
        Ok(Box::new(std::io::stdout()))
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec)
            .with_context(|| format!("cannot open output `{spec}`"))?;
        Ok(Box::new(std::io::BufWriter::new(f)))
    }
}

/// JSON lines of window results or of alerts, to a file (appended) or stdout (`-`).
pub struct JsonlSink {
    out: Box<dyn Write + Send>,
    windows: bool,
}

impl JsonlSink {
    /// Window results.
    pub fn windows(spec: &str) -> anyhow::Result<JsonlSink> {
        Ok(JsonlSink {
            out: open_out(spec)?,
            windows: true,
        })
    }

    /// Alerts.
    pub fn alerts(spec: &str) -> anyhow::Result<JsonlSink> {
        Ok(JsonlSink {
            out: open_out(spec)?,
            windows: false,
        })
    }
}

impl Sink for JsonlSink {
    fn window(&mut self, w: &WindowResult) -> anyhow::Result<()> {
        if self.windows {
            serde_json::to_writer(&mut self.out, w)?;
            self.out.write_all(b"\n")?;
            // Live consumers see each window as soon as it closes.
            self.out.flush()?;
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> anyhow::Result<()> {
        if !self.windows {
            serde_json::to_writer(&mut self.out, a)?;
            self.out.write_all(b"\n")?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        Ok(self.out.flush()?)
    }
}

/// Raw lines with their reason, one per line: the late output or the rejects file.
pub struct LineFileSink {
    out: Box<dyn Write + Send>,
    late: bool,
}

impl LineFileSink {
    /// Lines too late for any window: `reason<TAB>event time<TAB>line`.
    pub fn late(path: &Path) -> anyhow::Result<LineFileSink> {
        Ok(LineFileSink {
            out: open_out(&path.display().to_string())?,
            late: true,
        })
    }

    /// Lines that could not be parsed: `reason<TAB>explanation<TAB>line`.
    pub fn rejects(path: &Path) -> anyhow::Result<LineFileSink> {
        Ok(LineFileSink {
            out: open_out(&path.display().to_string())?,
            late: false,
        })
    }
}

impl Sink for LineFileSink {
    fn late(&mut self, l: &LateLine) -> anyhow::Result<()> {
        if self.late {
            write!(
                self.out,
                "{}\t{}\t",
                l.reason.code(),
                l.event_time
                    .map_or("-".to_string(), hitstream_window::rfc3339)
            )?;
            self.out.write_all(&l.line)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn reject(&mut self, why: &str, line: &[u8]) -> anyhow::Result<()> {
        if !self.late {
            self.out.write_all(why.as_bytes())?;
            self.out.write_all(b"\t")?;
            self.out.write_all(line)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        Ok(self.out.flush()?)
    }
}
