//! The parse pool's unit of work: a job is a slice of a source batch with the engine's
//! batch spec; a parser thread turns it into panes, counts, rejects and encoded rows.

use std::sync::Arc;
use std::time::Duration;

use hitstream_format::{
    rank, FormatSpec, Outcome, Parser, Record, RejectReason, GIVE_FORMAT_HINT, ODDITY_COUNT,
};
use hitstream_source::Batch;
use hitstream_window::{BatchSpec, PaneBatch};

use crate::error::RuntimeError;
use crate::sink::{EncodedRows, RowEncoder};

/// Lines per parse job: big enough to amortise the hand-off, small enough to spread a source
/// batch over every core.
pub(crate) const JOB_LINES: usize = 1024;

/// Lines `--format auto` looks at, and how long it waits for them.
pub(crate) const DETECT_LINES: usize = 200;
pub(crate) const DETECT_WAIT: Duration = Duration::from_secs(1);

/// The encoders of the epoch sinks (None for a sink that stores no rows), by sink index.
pub(crate) type Encoders = Arc<[Option<Arc<dyn RowEncoder>>]>;

pub(crate) struct Job {
    pub spec: BatchSpec,
    pub batch: Arc<Batch>,
    pub from: usize,
    pub to: usize,
    pub encoders: Encoders,
    /// The name to store as the rows' source, when not the batch's own (a replay).
    pub origin: Option<Arc<str>>,
}

pub(crate) struct RejectedLine {
    pub code: &'static str,
    pub explanation: String,
    pub line: Vec<u8>,
    pub offset: u64,
    pub from: Option<hitstream_source::LineSourceBuf>,
}

pub(crate) struct JobDone {
    pub seq: u64,
    pub panes: PaneBatch,
    pub ok: u64,
    pub degraded: u64,
    /// Degraded lines by oddity, indexed as [`hitstream_format::Oddity::ALL`].
    pub oddities: [u64; ODDITY_COUNT],
    pub rejects: Vec<RejectedLine>,
    pub source: String,
    /// Encoded rows by epoch sink index.
    pub rows: Vec<Option<EncodedRows>>,
}

pub(crate) fn parse_job(parser: &Parser, job: &Job) -> JobDone {
    let mut panes = PaneBatch::new(job.spec);
    let mut rec = Record::new();
    let (mut ok, mut degraded) = (0, 0);
    let mut oddities = [0u64; ODDITY_COUNT];
    let mut rejects = Vec::new();
    let source = job
        .origin
        .as_deref()
        .map_or_else(|| job.batch.origin_name(), str::to_string);
    let extra_names = parser.spec().extra_names();
    let mut writers: Vec<_> = job
        .encoders
        .iter()
        .map(|e| e.as_ref().map(|e| e.writer()))
        .collect();
    // A line cut at the source's line limit is rejected, not parsed: its head may well
    // parse, into a record with a field silently cut short.
    let cut = job.batch.truncated();
    let mut next_cut = cut.partition_point(|&t| t < job.from);
    for i in job.from..job.to {
        let line = job.batch.line(i).unwrap_or(b"");
        let too_long = cut.get(next_cut) == Some(&i);
        let outcome = if too_long {
            next_cut += 1;
            Outcome::Rejected(RejectReason::TooLong {
                kept: u32::try_from(line.len()).unwrap_or(u32::MAX),
            })
        } else {
            parser.parse(line, &mut rec)
        };
        match outcome {
            Outcome::Rejected(r) => rejects.push(RejectedLine {
                code: r.code(),
                explanation: parser.explain(&r),
                line: line.to_vec(),
                offset: job.batch.line_offset(i),
                from: job.batch.line_source(i).map(|s| s.to_buf()),
            }),
            o => {
                match o {
                    Outcome::Degraded(d) => {
                        degraded += 1;
                        for x in d.iter() {
                            oddities[x as usize] += 1;
                        }
                    }
                    _ => ok += 1,
                }
                panes.add(&rec);
                for w in writers.iter_mut().flatten() {
                    w.push_from(
                        &rec,
                        &extra_names,
                        &source,
                        job.batch.line_offset(i),
                        job.batch.line_source(i),
                    );
                }
            }
        }
    }
    JobDone {
        seq: job.spec.seq(),
        panes,
        ok,
        degraded,
        oddities,
        rejects,
        source,
        rows: writers.into_iter().map(|w| w.map(|w| w.finish())).collect(),
    }
}

/// Whether the format is to be detected from the first lines.
pub(crate) fn needs_detection(format: &str) -> bool {
    format.trim().eq_ignore_ascii_case("auto")
}

/// The parser for the configured format, and what detection chose (to tell the user).
pub(crate) fn make_parser(
    format: &str,
    sample: &[&[u8]],
) -> Result<(Parser, Option<String>), RuntimeError> {
    if !needs_detection(format) {
        let spec =
            FormatSpec::from_str_any(format).map_err(|e| RuntimeError::Format(e.to_string()))?;
        return Ok((Parser::new(spec), None));
    }
    let r = rank(sample.iter().copied());
    if let Some(d) = r.detection() {
        return Ok((Parser::new(d.spec.clone()), Some(d.describe())));
    }
    Err(RuntimeError::Format(no_fit_message(&r)))
}

/// Why `--format auto` could not choose, with the closest presets, for the error that ends
/// the run.
fn no_fit_message(r: &hitstream_format::Ranking) -> String {
    if r.is_empty() {
        return format!(
            "--format auto: the first lines are blank, nothing to detect a format from. Give \
             the format: {GIVE_FORMAT_HINT}"
        );
    }
    let closest = r.closest(3);
    let mut s = format!(
        "--format auto: no preset fits the first {} lines cleanly",
        r.sample
    );
    if closest.is_empty() {
        s.push_str("; no preset parses any of them");
    } else {
        s.push_str(&format!(
            "; closest (share of the sample lines): {}",
            closest
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    s.push_str(&format!(". Give the format: {GIVE_FORMAT_HINT}"));
    s
}
