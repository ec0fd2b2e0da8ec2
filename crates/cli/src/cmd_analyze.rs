//! `hitstream analyze`: a one-shot report over files or stdin, parsed on all cores.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use hitstream_analyze::{
    Bound, Filter, GeoReport, Meta, Options, Partial, RejectSample, Report, StatusSet, TimeBasis,
};
use hitstream_format::{rank, FormatSpec, Outcome, Parser, Record, RejectReason};
use hitstream_lake::{RejectRows, RequestRows};

use crate::input::{self, Chunker, Cut};
use crate::load::{Load, Loaded};
use crate::output::{self, OutputKind};

const CHUNK: usize = 2 << 20;
const DETECT_SAMPLE: usize = crate::trust::SAMPLE_LINES;

/// Options of `hitstream analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Log files (plain or gzip, detected by content); `-` reads stdin. Several files are read
    /// in time order of their first line.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Log format: `auto`, a preset (common, combined, vcombined, debian, nginx, main, nasa),
    /// an nginx log_format string ('$remote_addr - ...') or an Apache LogFormat string ('%h %l ...').
    #[arg(short, long, default_value = "auto")]
    pub format: String,

    /// Rows in each top-N table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Keep only requests at or after this time: `2024-07-25`, `2024-07-25T10:00`, or with an
    /// offset (`2024-07-25T10:00:00+02:00`) for an instant. Without an offset it is read in the
    /// clock of `--tz` (by default the local time written in the log).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Keep only requests before this time (exclusive); a date alone includes that whole day.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Keep only requests to this virtual host (vhost field, else Host header).
    #[arg(long, value_name = "HOST")]
    pub vhost: Option<String>,

    /// Keep only these statuses: codes, classes and ranges, comma-separated (`404`, `5xx`, `200,304`, `500-503`).
    #[arg(long, value_name = "LIST")]
    pub status: Option<String>,

    /// Keep only requests whose path starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub path_prefix: Option<String>,

    /// Clock for day and hour buckets: `UTC` (the default, as `run` and the dashboard), an
    /// offset (`+02:00`, `-0400`), a zone name (`Europe/Paris`), or `as-written` for the local
    /// time written in each line. Every table, chart and the JSON's `meta.time_basis` name it.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Count endpoints with their query string.
    #[arg(long)]
    pub keep_query: bool,

    /// Output: table (terminal), json (schema hitstream.analyze/1), csv (one file per table
    /// into --out DIR), html (one self-contained file with charts).
    #[arg(short, long, value_enum, default_value_t = OutputKind::Table)]
    pub output: OutputKind,

    /// Where to write: a file for table/json/html (default stdout), a directory for csv
    /// (default ./hitstream-csv).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Write every rejected line with its position and reason to FILE.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,

    /// Parser threads [default: one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Fail (exit 1) when most lines were rejected or most have the same oddity, a sign of
    /// the wrong format, instead of warning and writing the report anyway. A run where every
    /// line was rejected fails in any case.
    #[arg(long)]
    pub strict: bool,

    /// Also load every parsed line into the lake's `requests` table (and rejected lines
    /// into `rejects`). Loading the same files again adds nothing.
    #[arg(long)]
    pub store: bool,

    /// Data directory or `file://` URL of the lake (with --store). [default:
    /// $STATE_DIRECTORY/lake, $XDG_DATA_HOME/hitstream/lake or ~/.local/share/hitstream/lake]
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,

    /// A MaxMind-format database (`.mmdb`: GeoLite2/GeoIP2 Country, City or ASN, or a flat
    /// `country_code` database) for the countries and autonomous systems of the clients. May be
    /// given twice (a country and an ASN database); the first that knows a field wins.
    #[arg(long, value_name = "FILE.mmdb")]
    pub geoip: Vec<PathBuf>,
}

/// Parses `--tz`.
pub fn parse_tz(s: &str) -> anyhow::Result<TimeBasis> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(TimeBasis::Fixed(0));
    }
    if t.eq_ignore_ascii_case("as-written") {
        return Ok(TimeBasis::AsWritten);
    }
    if t.starts_with('+') || t.starts_with('-') {
        let digits: String = t[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()) {
            let h: i32 = digits[..2].parse()?;
            let m: i32 = digits[2..].parse()?;
            if h <= 23 && m <= 59 {
                let secs = h * 3600 + m * 60;
                return Ok(TimeBasis::Fixed(if t.starts_with('-') {
                    -secs
                } else {
                    secs
                }));
            }
        }
        bail!("--tz `{s}`: an offset is written +hh:mm or -hhmm");
    }
    let tz = jiff::tz::TimeZone::get(t).with_context(|| {
        format!("--tz `{s}`: not UTC, an offset (+02:00) or a known time zone name")
    })?;
    Ok(TimeBasis::Zone {
        name: t.to_string(),
        offset_at: Arc::new(move |utc| {
            jiff::Timestamp::from_second(utc)
                .map(|ts| tz.to_offset(ts).seconds())
                .unwrap_or(0)
        }),
    })
}

/// Parses `--from`/`--to`.
pub fn parse_bound(flag: &str, s: &str, is_end: bool) -> anyhow::Result<Bound> {
    let t = s.trim();
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        if t.len() <= 10 {
            let day = d
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp().as_second())?;
            return Ok(Bound::Civil(if is_end { day + 86_400 } else { day }));
        }
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(Bound::Instant(ts.as_second()));
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        let secs = dt
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp()
            .as_second();
        return Ok(Bound::Civil(secs));
    }
    bail!(
        "{flag} `{s}`: expected a date (2024-07-25), a date and time (2024-07-25T10:00) \
         or an instant with offset (2024-07-25T10:00:00+02:00)"
    )
}

fn build_options(a: &AnalyzeArgs) -> anyhow::Result<(Options, Vec<String>)> {
    let mut filters = Vec::new();
    let mut f = Filter::default();
    if let Some(s) = &a.from {
        f.from = Some(parse_bound("--from", s, false)?);
        filters.push(format!("from {s}"));
    }
    if let Some(s) = &a.to {
        f.to = Some(parse_bound("--to", s, true)?);
        filters.push(format!("to {s}"));
    }
    if let Some(v) = &a.vhost {
        f.vhost = Some(v.clone());
        filters.push(format!("vhost {v}"));
    }
    if let Some(s) = &a.status {
        f.status = Some(StatusSet::parse(s).map_err(|e| anyhow::anyhow!("--status: {e}"))?);
        filters.push(format!("status {s}"));
    }
    if let Some(p) = &a.path_prefix {
        f.path_prefix = Some(p.as_bytes().to_vec());
        filters.push(format!("path prefix {p}"));
    }
    let basis = match &a.tz {
        Some(z) => parse_tz(z)?,
        None => TimeBasis::default(),
    };
    Ok((
        Options {
            keep_query: a.keep_query,
            filter: f,
            basis,
        },
        filters,
    ))
}

/// A chunk of input on its way to a parser thread.
struct Chunk {
    seq: u64,
    input: usize,
    first_line: u64,
    /// Byte offset of the chunk in its (decompressed) input.
    first_offset: u64,
    data: Vec<u8>,
    /// Lines cut at the line limit, in order: rejected as `line_too_long`.
    cuts: Vec<Cut>,
}

/// The first readable chunk of the first input, read before threads start so that format
/// detection can look at it.
struct Primed {
    chunker: Chunker,
    first: Vec<u8>,
    first_cuts: Vec<Cut>,
}

fn first_lines(buf: &[u8], n: usize) -> Vec<&[u8]> {
    buf.split(|&b| b == b'\n').take(n).collect()
}

/// The time of the first parsable line of a file, to order inputs.
fn first_time(path: &str, parser: &Parser) -> Option<i64> {
    let r = input::open(path, Arc::new(AtomicU64::new(0))).ok()?;
    let mut c = Chunker::new(r, 64 * 1024);
    let mut buf = Vec::new();
    c.next_into(&mut buf).ok()?;
    let mut rec = Record::new();
    for l in buf.split(|&b| b == b'\n').take(1000) {
        if parser.parse(l, &mut rec).is_usable() {
            return rec.time.map(|t| t.utc);
        }
    }
    None
}

/// Runs `hitstream analyze`.
pub fn run(a: AnalyzeArgs) -> anyhow::Result<()> {
    // Only flags are read here: what fails is a usage error.
    let (opts, filters) = build_options(&a).map_err(crate::usage::mark)?;
    // Opened first: a wrong path should fail before minutes of reading.
    let geo = if a.geoip.is_empty() {
        None
    } else {
        Some(crate::geoip::Mmdb::open(&a.geoip)?)
    };
    if a.files.iter().filter(|f| *f == "-").count() > 1 {
        crate::usage::usage_bail!("stdin (`-`) can be given only once");
    }
    let progress = Arc::new(AtomicU64::new(0));

    // A mistyped format is a usage error, told before any input is opened.
    let auto = a.format.trim().eq_ignore_ascii_case("auto");
    let given = if auto {
        None
    } else {
        Some(FormatSpec::from_str_any(&a.format).map_err(crate::usage::wrap("--format"))?)
    };

    // Prime the first input (for stdin this is the only way to look at it twice).
    let mut inputs = a.files.clone();
    let first_chunker = input::open(&inputs[0], progress.clone())?;
    let mut chunker = Chunker::new(first_chunker, CHUNK);
    let mut first = Vec::new();
    chunker
        .next_into(&mut first)
        .with_context(|| format!("cannot read `{}`", inputs[0]))?;

    let spec = if let Some(spec) = given {
        spec
    } else {
        let mut tried = vec![(
            inputs[0].clone(),
            rank(first_lines(&first, DETECT_SAMPLE).iter().copied()),
        )];
        // An empty first file: look at the others.
        if tried[0].1.is_empty() {
            for p in inputs.iter().skip(1).filter(|p| *p != "-") {
                let r = input::open(p, Arc::new(AtomicU64::new(0)))?;
                let mut c = Chunker::new(r, 256 * 1024);
                let mut buf = Vec::new();
                c.next_into(&mut buf)?;
                let ranking = rank(first_lines(&buf, DETECT_SAMPLE));
                let empty = ranking.is_empty();
                tried.push((p.clone(), ranking));
                if !empty {
                    break;
                }
            }
        }
        let (name, ranking) = tried.pop().expect("one input at least");
        match ranking.detection() {
            Some(d) => {
                crate::verbosity::info!("{}", d.describe());
                d.spec
            }
            None if ranking.is_empty() => return Err(crate::trust::empty(&inputs)),
            None => return Err(crate::trust::no_fit(&ranking, &input::display_name(&name))),
        }
    };
    // What `--format auto` would pick, for the message when the given format reads most
    // lines badly (auto mode has just picked it).
    let better = if auto {
        None
    } else {
        crate::trust::better_preset(first_lines(&first, DETECT_SAMPLE), &spec.name)
    };
    let parser = Parser::new(spec);

    // Several files: read them in time order of their first line (stdin stays first).
    let first_cuts = chunker.take_cuts();
    let mut primed = Some(Primed {
        chunker,
        first,
        first_cuts,
    });
    if inputs.len() > 1 && !inputs.iter().any(|p| p == "-") {
        let first_name = inputs[0].clone();
        let mut keyed: Vec<(Option<i64>, usize, String)> = inputs
            .iter()
            .enumerate()
            .map(|(i, p)| (first_time(p, &parser), i, p.clone()))
            .collect();
        keyed.sort_by_key(|(t, i, _)| (t.is_none(), *t, *i));
        inputs = keyed.into_iter().map(|(_, _, p)| p).collect();
        if inputs[0] != first_name {
            primed = None; // the primed reader belongs to another file; reopen in order
            progress.store(0, Ordering::Relaxed);
        }
    }

    let total_bytes: u64 = inputs.iter().map(|p| input::size_of(p)).sum();
    let show_progress =
        !crate::verbosity::quiet() && std::io::stderr().is_terminal() && total_bytes >= 32 << 20;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);

    let data = if a.store {
        crate::state::lake_for_writing(a.data.as_deref())?
    } else {
        String::new()
    };
    let load = if a.store {
        Some(Load::open(&data, &inputs)?)
    } else {
        None
    };
    let (result, loaded) = pipeline(
        &inputs,
        primed,
        &parser,
        &opts,
        threads,
        a.rejects.as_deref(),
        progress.clone(),
        show_progress.then_some(total_bytes),
        load,
    )?;
    if let Some(l) = loaded {
        crate::verbosity::info!("{}", l.describe(&data));
    }

    let meta = Meta {
        inputs: inputs.iter().map(|p| input::display_name(p)).collect(),
        format: parser.spec().name.clone(),
        format_definition: parser.spec().source.clone(),
        time_basis: opts.basis.describe(),
        keep_query: a.keep_query,
        top: a.top,
        filters,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut report = Report::build(&result, a.top, meta);
    if let Some(g) = &geo {
        let lookup = |ip| g.lookup(ip);
        report.geo = Some(GeoReport::build(&result, &lookup, a.top, g.names()));
    }
    let shares = crate::trust::Shares {
        lines: report.totals.lines,
        rejected: report.totals.rejected,
        oddities: report
            .degraded
            .iter()
            .map(|n| (n.name.clone(), n.count))
            .collect(),
        reasons: report
            .rejected
            .iter()
            .map(|n| (n.name.clone(), n.count))
            .collect(),
    };
    let format = format!("`{}`", parser.spec().name);
    crate::trust::check(&shares, &format, a.strict, || better)?;
    if report.totals.rejected > 0 {
        let reasons = reasons(&report);
        eprintln!(
            "warning: {} of {} lines rejected ({}){}",
            report.totals.rejected,
            report.totals.lines,
            reasons.join(", "),
            match &a.rejects {
                Some(p) => format!("; written to {}", p.display()),
                None => "; see them with --rejects FILE".to_string(),
            }
        );
    }
    output::write(&report, a.output, a.out.as_deref())
}

/// Rejection reasons with their counts ("missing field 3", ...).
fn reasons(report: &Report) -> Vec<String> {
    report
        .rejected
        .iter()
        .map(|r| format!("{} {}", r.name, r.count))
        .collect()
}

/// Reads, parses and aggregates every input on `threads` threads.
#[allow(clippy::too_many_arguments)]
fn pipeline(
    inputs: &[String],
    primed: Option<Primed>,
    parser: &Parser,
    opts: &Options,
    threads: usize,
    rejects_path: Option<&std::path::Path>,
    progress: Arc<AtomicU64>,
    progress_total: Option<u64>,
    load: Option<Load>,
) -> anyhow::Result<(Partial, Option<Loaded>)> {
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    // Emptied buffers go back to the reader: 2 MiB allocations per chunk would page-fault.
    let (free_tx, free_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let (rej_tx, rej_rx) = crossbeam_channel::unbounded::<(u64, Vec<u8>)>();
    let names: Vec<String> = inputs.iter().map(|p| input::display_name(p)).collect();
    let want_rejects = rejects_path.is_some();

    let bar = progress_total.map(|t| {
        let pb = indicatif::ProgressBar::new(t);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    });

    // Room for a commit's worth of chunks: parsers keep going while the loader writes.
    let (store_tx, store_rx) = crossbeam_channel::bounded(32);
    let store = load.is_some();
    let extra_names = parser.spec().extra_names();
    std::thread::scope(|s| -> anyhow::Result<(Partial, Option<Loaded>)> {
        let loader = load.map(|l| s.spawn(move || l.run(store_rx)));
        // Reader.
        let reader = {
            let progress = progress.clone();
            let bar = bar.clone();
            s.spawn(move || -> anyhow::Result<()> {
                let mut seq = 0u64;
                let mut primed = primed;
                for (idx, path) in inputs.iter().enumerate() {
                    let mut line = 1u64;
                    let mut offset = 0u64;
                    let mut chunker = match (idx, primed.take()) {
                        (0, Some(p)) => {
                            let n = count_lines(&p.first);
                            let len = p.first.len() as u64 + skipped(&p.first_cuts);
                            if !p.first.is_empty() {
                                tx.send(Chunk {
                                    seq,
                                    input: idx,
                                    first_line: line,
                                    first_offset: offset,
                                    data: p.first,
                                    cuts: p.first_cuts,
                                })
                                .ok();
                                seq += 1;
                            }
                            line += n;
                            offset += len;
                            p.chunker
                        }
                        _ => Chunker::new(input::open(path, progress.clone())?, CHUNK),
                    };
                    loop {
                        let mut buf = free_rx.try_recv().unwrap_or_default();
                        let more = chunker
                            .next_into(&mut buf)
                            .with_context(|| format!("reading `{path}`"))?;
                        if !more {
                            break;
                        }
                        let n = count_lines(&buf);
                        let cuts = chunker.take_cuts();
                        let len = buf.len() as u64 + skipped(&cuts);
                        if tx
                            .send(Chunk {
                                seq,
                                input: idx,
                                first_line: line,
                                first_offset: offset,
                                data: buf,
                                cuts,
                            })
                            .is_err()
                        {
                            return Ok(());
                        }
                        seq += 1;
                        line += n;
                        offset += len;
                        if let Some(b) = &bar {
                            b.set_position(progress.load(Ordering::Relaxed));
                        }
                    }
                }
                drop(tx);
                Ok(())
            })
        };

        // Rejects writer: puts chunks back in order so the file is deterministic.
        let writer = rejects_path.map(|path| {
            let path = path.to_path_buf();
            s.spawn(move || -> anyhow::Result<()> {
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create rejects file `{}`", path.display()))?;
                let mut w = std::io::BufWriter::new(f);
                let mut next = 0u64;
                let mut pending: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
                for (seq, bytes) in rej_rx.iter() {
                    pending.insert(seq, bytes);
                    while let Some(b) = pending.remove(&next) {
                        w.write_all(&b)?;
                        next += 1;
                    }
                }
                for (_, b) in pending {
                    w.write_all(&b)?;
                }
                w.flush()
                    .with_context(|| format!("writing `{}`", path.display()))?;
                Ok(())
            })
        });

        // Parsers.
        let mut workers = Vec::new();
        for _ in 0..threads {
            let rx = rx.clone();
            let free_tx = free_tx.clone();
            let rej_tx = rej_tx.clone();
            let store_tx = store_tx.clone();
            let names = &names;
            let extra_names = &extra_names;
            workers.push(s.spawn(move || {
                let mut part = Partial::new(opts);
                let mut rows = store.then(RequestRows::new);
                let mut rejected = store.then(RejectRows::new);
                for chunk in rx.iter() {
                    let mut rej_buf = Vec::new();
                    {
                        let mut rec = Record::new();
                        let mut line_no = chunk.first_line;
                        let data = &chunk.data[..];
                        let mut start = 0;
                        // Bytes of cut lines skipped before `start`, for the offsets.
                        let mut skipped = 0u64;
                        let mut cuts = chunk.cuts.iter().peekable();
                        while start < data.len() {
                            let end = memchr::memchr(b'\n', &data[start..])
                                .map_or(data.len(), |p| start + p);
                            let line = &data[start..end];
                            let at = chunk.first_offset + start as u64 + skipped;
                            start = end + 1;
                            // Like `run`, a line cut at the limit is rejected, not parsed.
                            let outcome = match cuts.next_if(|c| c.end == end) {
                                Some(c) => {
                                    skipped += c.skipped;
                                    Outcome::Rejected(RejectReason::TooLong {
                                        kept: u32::try_from(line.len()).unwrap_or(u32::MAX),
                                    })
                                }
                                None => parser.parse(line, &mut rec),
                            };
                            match outcome {
                                Outcome::Rejected(reason) => {
                                    let detail = || parser.explain(&reason);
                                    let src = &names[chunk.input];
                                    if let Some(r) = &mut rejected {
                                        r.push(
                                            src,
                                            Some(at),
                                            reason.code(),
                                            &detail(),
                                            trim_cr(line),
                                        );
                                    }
                                    if want_rejects {
                                        let _ = write!(
                                            rej_buf,
                                            "{src}:{line_no}\t{}\t{}\t",
                                            reason.code(),
                                            detail()
                                        );
                                        rej_buf.extend_from_slice(trim_cr(line));
                                        rej_buf.push(b'\n');
                                    }
                                    part.reject(&reason, || RejectSample {
                                        source: src.clone(),
                                        line: line_no,
                                        reason: reason.code().to_string(),
                                        detail: detail(),
                                        text: String::from_utf8_lossy(&line[..line.len().min(300)])
                                            .into_owned(),
                                    });
                                }
                                _ => {
                                    part.add(&rec, &outcome);
                                    if let Some(r) = &mut rows {
                                        r.push(&rec, extra_names, &names[chunk.input], Some(at));
                                    }
                                }
                            }
                            line_no += 1;
                        }
                    }
                    if want_rejects {
                        let _ = rej_tx.send((chunk.seq, rej_buf));
                    }
                    if let (Some(r), Some(j)) = (&mut rows, &mut rejected) {
                        let _ = store_tx.send((chunk.seq, r.finish(), j.finish()));
                    }
                    let _ = free_tx.send(chunk.data);
                }
                part
            }));
        }
        drop(rx);
        drop(rej_tx);
        drop(free_tx);
        drop(store_tx);

        let mut total: Option<Partial> = None;
        for w in workers {
            let p = w.join().expect("parser thread panicked");
            match &mut total {
                Some(t) => t.merge(p),
                None => total = Some(p),
            }
        }
        reader.join().expect("reader thread panicked")?;
        if let Some(w) = writer {
            w.join().expect("rejects writer panicked")?;
        }
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let loaded = match loader {
            Some(l) => Some(l.join().expect("lake loader panicked")?),
            None => None,
        };
        Ok((total.unwrap_or_else(|| Partial::new(opts)), loaded))
    })
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Bytes of cut lines that were skipped (not in the chunk).
fn skipped(cuts: &[Cut]) -> u64 {
    cuts.iter().map(|c| c.skipped).sum()
}

/// Lines in a chunk: newlines, plus one for a last line without its newline.
fn count_lines(b: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', b).count() as u64;
    if b.last().is_some_and(|c| *c != b'\n') {
        n + 1
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(
            parse_bound("--from", "1995-07-02", false).unwrap(),
            Bound::Civil(804_643_200)
        );
        assert_eq!(
            parse_bound("--to", "1995-07-02", true).unwrap(),
            Bound::Civil(804_643_200 + 86_400)
        );
        assert_eq!(
            parse_bound("--from", "1995-07-02T10:00", false).unwrap(),
            Bound::Civil(804_643_200 + 36_000)
        );
        assert_eq!(
            parse_bound("--from", "1995-07-02T10:00:00-04:00", false).unwrap(),
            Bound::Instant(804_643_200 + 36_000 + 14_400)
        );
        assert!(parse_bound("--from", "yesterday", false)
            .unwrap_err()
            .to_string()
            .contains("--from"));
    }

    #[test]
    fn zones() {
        assert!(matches!(parse_tz("UTC").unwrap(), TimeBasis::Fixed(0)));
        assert!(matches!(
            parse_tz("-0400").unwrap(),
            TimeBasis::Fixed(-14_400)
        ));
        assert!(matches!(
            parse_tz("+05:30").unwrap(),
            TimeBasis::Fixed(19_800)
        ));
        let TimeBasis::Zone { offset_at, .. } = parse_tz("Europe/Paris").unwrap() else {
            panic!()
        };
        assert_eq!(offset_at(804_571_201), 7200); // July: CEST
        assert_eq!(offset_at(788_918_400), 3600); // January: CET
        assert!(parse_tz("Mars/Olympus").is_err());
    }

    #[test]
    fn line_counts() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
    }
}
