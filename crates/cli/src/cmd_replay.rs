//! `hitstream replay`: sends a real access log to stdout or to a TCP address, at its
//! original pacing sped up by `--speed` (the time of each line is read from the line), or at
//! a fixed `--rate`.
//!
//! Lines whose time cannot be read (they do not parse, or have no time) are sent at once,
//! right after the line before them, and counted. A line earlier than the latest time seen
//! is also sent at once (logs are only roughly ordered). `--max-pause` caps the pause
//! between two lines, so a night without traffic does not stall a replay.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use flate2::bufread::MultiGzDecoder;
use hitstream_format::{FormatSpec, Parser, Record};

/// Lines looked at by `--format auto`.
const DETECT_SAMPLE: usize = 1000;

/// Options of `hitstream replay`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The time of each line is read with --format; with --speed 60 an hour of log plays in a
minute. Lines without a readable time are sent at once and counted.

Examples:
  hitstream replay access.log.2.gz --speed 60 --to 127.0.0.1:5140
  hitstream replay access.log --rate 200 --limit 10000 | hitstream analyze -
  hitstream replay access.log --speed 3600 --max-pause 1")]
pub struct ReplayArgs {
    /// Log file to replay (gzip is recognised by its content), or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Play the log this many times faster than it was written.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub speed: f64,

    /// Send a fixed R lines per second instead of following the log's own times.
    #[arg(long, value_name = "R", conflicts_with = "speed")]
    pub rate: Option<f64>,

    /// Send newline-delimited lines to this TCP address (HOST:PORT) instead of stdout.
    #[arg(long, value_name = "ADDR")]
    pub to: Option<String>,

    /// Log format used to read the time of each line: `auto`, a preset (common, combined,
    /// vcombined, debian, nginx, main, nasa), an nginx log_format or an Apache LogFormat
    /// string.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    pub format: String,

    /// Stop after N lines.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Longest pause between two lines, in seconds of replay (wall-clock) time; longer gaps
    /// in the log are shortened to it. 0 means no cap.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub max_pause: f64,
}

/// How lines are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pacing {
    /// Follow the log's times, this many times faster.
    Speed(f64),
    /// A fixed number of lines per second.
    Rate(f64),
}

/// When each line is due, as an offset from the start of the replay.
#[derive(Debug)]
struct Schedule {
    pacing: Pacing,
    /// Longest gap of log time (µs) kept between two lines; longer gaps are cut to it.
    max_gap_us: Option<i64>,
    first: Option<i64>,
    latest: i64,
    cut: i64,
    sent: u64,
}

impl Schedule {
    fn new(pacing: Pacing, max_pause: f64) -> Schedule {
        let max_gap_us = match pacing {
            Pacing::Speed(s) if max_pause > 0.0 => Some((max_pause * s * 1e6) as i64),
            _ => None,
        };
        Schedule {
            pacing,
            max_gap_us,
            first: None,
            latest: 0,
            cut: 0,
            sent: 0,
        }
    }

    /// When the next line, whose log time is `t` (µs since the epoch, if known), is due.
    fn due(&mut self, t: Option<i64>) -> Duration {
        self.sent += 1;
        match self.pacing {
            Pacing::Rate(r) => Duration::from_secs_f64((self.sent - 1) as f64 / r),
            Pacing::Speed(s) => {
                if let Some(t) = t {
                    match self.first {
                        None => {
                            self.first = Some(t);
                            self.latest = t;
                        }
                        Some(_) if t > self.latest => {
                            let gap = t - self.latest;
                            if let Some(max) = self.max_gap_us {
                                if gap > max {
                                    self.cut += gap - max;
                                }
                            }
                            self.latest = t;
                        }
                        Some(_) => {}
                    }
                }
                let Some(first) = self.first else {
                    return Duration::ZERO;
                };
                let log_us = (self.latest - first - self.cut).max(0);
                Duration::from_secs_f64(log_us as f64 / 1e6 / s)
            }
        }
    }
}

/// Time as the replay sees it; tests use a fake one.
trait Clock {
    /// Time since the replay started.
    fn elapsed(&self) -> Duration;
    /// Waits.
    fn sleep(&mut self, d: Duration);
}

struct WallClock(Instant);

impl Clock for WallClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// What a replay did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    lines: u64,
    untimed: u64,
    /// The reader stopped (broken pipe on stdout).
    closed: bool,
}

/// Opens the input: a file (gzip by its magic bytes) or stdin.
fn open(path: &str) -> anyhow::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open `{path}`"))?)
    };
    let mut br = BufReader::with_capacity(256 * 1024, raw);
    let head = br
        .fill_buf()
        .with_context(|| format!("cannot read `{path}`"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(br),
        )))
    } else {
        Ok(Box::new(br))
    }
}

/// Reads the next line (with its `\n`, if any) into `buf`; false at the end.
fn next_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, name: &str) -> anyhow::Result<bool> {
    buf.clear();
    let n = r
        .read_until(b'\n', buf)
        .with_context(|| format!("reading `{name}`"))?;
    Ok(n > 0)
}

/// The time of a line in µs since the epoch, if it parses and has one.
fn line_time(parser: &Parser, line: &[u8]) -> Option<i64> {
    let mut rec = Record::new();
    if !parser.parse(line, &mut rec).is_usable() {
        return None;
    }
    rec.time.map(|t| t.utc * 1_000_000 + i64::from(t.micros))
}

/// What to send and when.
struct Plan<'p> {
    /// Reads the time of each line; `None` with a fixed rate.
    parser: Option<&'p Parser>,
    schedule: Schedule,
    limit: Option<u64>,
}

/// Sends lines from `input` to `out` as `plan` says. `first` holds lines already read (for
/// format detection).
fn replay(
    first: Vec<Vec<u8>>,
    input: &mut dyn BufRead,
    name: &str,
    out: &mut dyn Write,
    plan: Plan<'_>,
    clock: &mut dyn Clock,
) -> anyhow::Result<Summary> {
    let Plan {
        parser,
        mut schedule,
        limit,
    } = plan;
    let mut sum = Summary::default();
    let mut first = first.into_iter();
    let mut buf = Vec::new();
    loop {
        if limit.is_some_and(|l| sum.lines >= l) {
            break;
        }
        let line: &[u8] = match first.next() {
            Some(l) => {
                buf = l;
                &buf
            }
            None => {
                if !next_line(input, &mut buf, name)? {
                    break;
                }
                &buf
            }
        };
        let t = parser.and_then(|p| line_time(p, line));
        if parser.is_some() && t.is_none() {
            sum.untimed += 1;
        }
        let due = schedule.due(t);
        let now = clock.elapsed();
        if due > now {
            // Flush before waiting, so the reader sees the lines on time.
            if let Err(e) = out.flush() {
                return finish(e, sum);
            }
            clock.sleep(due - now);
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let written = out.write_all(body).and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            return finish(e, sum);
        }
        sum.lines += 1;
    }
    if let Err(e) = out.flush() {
        return finish(e, sum);
    }
    Ok(sum)
}

/// A write error ends the replay: quietly if the reader went away (`| head`).
fn finish(e: io::Error, mut sum: Summary) -> anyhow::Result<Summary> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        sum.closed = true;
        Ok(sum)
    } else {
        Err(e).context("writing the replayed lines")
    }
}

/// Runs `hitstream replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let pacing = match args.rate {
        Some(r) if r > 0.0 && r.is_finite() => Pacing::Rate(r),
        Some(r) => {
            crate::usage::usage_bail!("--rate {r}: must be a positive number of lines per second")
        }
        None if args.speed > 0.0 && args.speed.is_finite() => Pacing::Speed(args.speed),
        None => crate::usage::usage_bail!("--speed {}: must be a positive factor", args.speed),
    };
    if !(args.max_pause >= 0.0 && args.max_pause.is_finite()) {
        crate::usage::usage_bail!(
            "--max-pause {}: must be zero or a positive number of seconds",
            args.max_pause
        );
    }
    let name = if args.file == "-" {
        "(stdin)".to_string()
    } else {
        args.file.clone()
    };
    let mut input = open(&args.file)?;
    let mut first = Vec::new();
    let parser = match pacing {
        Pacing::Rate(_) => None,
        Pacing::Speed(_) => {
            let spec = if args.format.trim().eq_ignore_ascii_case("auto") {
                let mut buf = Vec::new();
                while first.len() < DETECT_SAMPLE && next_line(&mut *input, &mut buf, &name)? {
                    first.push(std::mem::take(&mut buf));
                }
                let ranking = hitstream_format::rank(first.iter().map(Vec::as_slice));
                match ranking.detection() {
                    Some(d) => {
                        crate::verbosity::info!("{}", d.describe());
                        d.spec
                    }
                    None if ranking.is_empty() => {
                        bail!("`{name}` is empty: there are no lines to replay")
                    }
                    None => {
                        let e = crate::trust::no_fit(&ranking, &name);
                        bail!("{e}; or replay at a fixed --rate, which needs no format")
                    }
                }
            } else {
                FormatSpec::from_str_any(&args.format).map_err(crate::usage::wrap("--format"))?
            };
            Some(Parser::new(spec))
        }
    };
    let plan = || Plan {
        parser: parser.as_ref(),
        schedule: Schedule::new(pacing, args.max_pause),
        limit: args.limit,
    };
    let mut clock = WallClock(Instant::now());
    let (sum, dest) = match &args.to {
        Some(addr) => {
            let stream =
                TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
            let _ = stream.set_nodelay(true);
            let mut out = BufWriter::with_capacity(64 * 1024, stream);
            let sum = replay(first, &mut *input, &name, &mut out, plan(), &mut clock)
                .with_context(|| format!("sending to {addr}"))?;
            (sum, addr.clone())
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
            let sum = replay(first, &mut *input, &name, &mut out, plan(), &mut clock)?;
            (sum, "stdout".to_string())
        }
    };
    let secs = clock.elapsed().as_secs_f64();
    let mut msg = format!("replay: sent {} lines to {dest} in {secs:.1} s", sum.lines);
    if parser.is_some() {
        msg.push_str(&format!(
            "; {} without a readable time (sent at once)",
            sum.untimed
        ));
    }
    if sum.closed {
        msg.push_str("; the reader closed the stream");
    }
    crate::verbosity::info!("{msg}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A clock that moves only when slept on, and records the sleeps.
    #[derive(Default)]
    struct FakeClock {
        now: Duration,
        sleeps: Vec<Duration>,
    }

    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            self.now
        }

        fn sleep(&mut self, d: Duration) {
            self.now += d;
            self.sleeps.push(d);
        }
    }

    fn line(hms: &str, path: &str) -> String {
        format!(
            "1.2.3.4 - - [10/Oct/2000:{hms} +0000] \"GET {path} HTTP/1.0\" 200 10 \"-\" \"t\"\n"
        )
    }

    fn combined() -> Parser {
        Parser::new(FormatSpec::from_str_any("combined").unwrap())
    }

    fn run_fake(
        text: &str,
        pacing: Pacing,
        max_pause: f64,
        limit: Option<u64>,
    ) -> (String, Summary, FakeClock) {
        let parser = combined();
        let mut input = io::Cursor::new(text.as_bytes().to_vec());
        let mut out = Vec::new();
        let mut clock = FakeClock::default();
        let p = matches!(pacing, Pacing::Speed(_)).then_some(&parser);
        let sum = replay(
            Vec::new(),
            &mut input,
            "t",
            &mut out,
            Plan {
                parser: p,
                schedule: Schedule::new(pacing, max_pause),
                limit,
            },
            &mut clock,
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), sum, clock)
    }

    #[test]
    fn speed_follows_the_log_times() {
        let text = line("13:00:00", "/a") + &line("13:01:00", "/b") + &line("13:03:00", "/c");
        let (out, sum, clock) = run_fake(&text, Pacing::Speed(60.0), 0.0, None);
        assert_eq!(out, text);
        assert_eq!(
            sum,
            Summary {
                lines: 3,
                untimed: 0,
                closed: false
            }
        );
        // One minute of log is one second at 60x; two minutes two seconds.
        assert_eq!(
            clock.sleeps,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
    }

    #[test]
    fn untimed_and_earlier_lines_go_at_once_and_are_counted() {
        let text = "garbage first\n".to_string()
            + &line("13:00:00", "/a")
            + "not a log line\n"
            + &line("12:59:00", "/late")
            + &line("13:00:30", "/b");
        let (out, sum, clock) = run_fake(&text, Pacing::Speed(10.0), 0.0, None);
        assert_eq!(out, text);
        assert_eq!(sum.untimed, 2);
        assert_eq!(clock.sleeps, vec![Duration::from_secs(3)]);
    }

    #[test]
    fn max_pause_shortens_long_gaps() {
        let text = line("01:00:00", "/a") + &line("09:00:00", "/b") + &line("09:00:01", "/c");
        let (_, _, clock) = run_fake(&text, Pacing::Speed(1.0), 2.0, None);
        assert_eq!(
            clock.sleeps,
            vec![Duration::from_secs(2), Duration::from_secs(1)]
        );
    }

    #[test]
    fn fixed_rate_and_limit() {
        let text: String = (0..10).map(|i| format!("anything {i}\n")).collect();
        let (out, sum, clock) = run_fake(&text, Pacing::Rate(4.0), 0.0, Some(5));
        assert_eq!(out.lines().count(), 5);
        assert_eq!(sum.lines, 5);
        assert_eq!(sum.untimed, 0, "a fixed rate reads no times");
        assert_eq!(clock.now, Duration::from_secs(1));
        assert_eq!(clock.sleeps.len(), 4);
    }

    #[test]
    fn last_line_without_newline_gets_one() {
        let (out, _, _) = run_fake("a\nb", Pacing::Rate(1e9), 0.0, None);
        assert_eq!(out, "a\nb\n");
    }

    #[test]
    fn broken_pipe_ends_quietly() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut input = io::Cursor::new(b"a\nb\n".to_vec());
        let sum = replay(
            Vec::new(),
            &mut input,
            "t",
            &mut Closed,
            Plan {
                parser: None,
                schedule: Schedule::new(Pacing::Rate(1e9), 0.0),
                limit: None,
            },
            &mut FakeClock::default(),
        )
        .unwrap();
        assert!(sum.closed);
        assert_eq!(sum.lines, 0);
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("hitstream-replay-{}-{name}", std::process::id()))
    }

    #[test]
    fn gz_file_to_tcp_with_auto_format() {
        let text =
            line("13:00:00", "/a") + &line("13:00:00", "/b") + "junk\n" + &line("13:00:01", "/c");
        let path = temp_path("in.log.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        std::fs::write(&path, e.finish().unwrap()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).unwrap();
            got
        });
        let started = Instant::now();
        run(ReplayArgs {
            file: path.to_string_lossy().into_owned(),
            speed: 10.0,
            rate: None,
            to: Some(addr.to_string()),
            format: "auto".into(),
            limit: None,
            max_pause: 0.0,
        })
        .unwrap();
        let got = receiver.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, text);
        // One second of log at 10x: about 0.1 s.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn limit_and_unreadable_format_errors() {
        let path = temp_path("plain.log");
        std::fs::write(&path, "no format here\nnor here\n").unwrap();
        let args = |format: &str, rate: Option<f64>| ReplayArgs {
            file: path.to_string_lossy().into_owned(),
            speed: 1.0,
            rate,
            to: Some("127.0.0.1:1".into()),
            format: format.into(),
            limit: Some(1),
            max_pause: 0.0,
        };
        let e = run(args("auto", None)).unwrap_err();
        assert!(format!("{e:#}").contains("--format auto"), "{e:#}");
        let e = run(args("%h %z", None)).unwrap_err();
        assert!(format!("{e:#}").contains("--format"), "{e:#}");
        let e = run(args("auto", Some(-1.0))).unwrap_err();
        assert!(format!("{e:#}").contains("--rate"), "{e:#}");
        // A fixed rate needs no format; the address refuses the connection.
        let e = run(args("auto", Some(10.0))).unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot connect to 127.0.0.1:1"),
            "{e:#}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn args_parse() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: ReplayArgs,
        }
        let c = Cli::try_parse_from([
            "x",
            "f.log",
            "--speed",
            "60",
            "--to",
            "127.0.0.1:9",
            "--limit",
            "5",
        ])
        .unwrap();
        assert_eq!(c.a.speed, 60.0);
        assert_eq!(c.a.limit, Some(5));
        assert_eq!(c.a.format, "auto");
        assert!(Cli::try_parse_from(["x", "f.log", "--speed", "2", "--rate", "3"]).is_err());
    }
}
