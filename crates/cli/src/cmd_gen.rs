//! `hitstream gen`: realistic synthetic access logs, to a file or stdout, or sent as real
//! HTTP requests to a server (`--http URL`, the load-tester role).
//!
//! The engines are `hitstream-gen` and `hitstream-load`; this module turns flags into their
//! configurations, opens the output and reports what was written or sent.

use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use hitstream_gen::{
    parse_utc_offset, parse_weighted_paths, GenConfig, Generator, PathSource, DEFAULT_CLIENTS,
    DEFAULT_COUNT, DEFAULT_HOST, DEFAULT_PAGES, DEFAULT_SCANNERS, DEFAULT_SEED, DEFAULT_ZIPF,
};

/// Options of `hitstream gen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --rate, lines are written as fast as possible and timestamps advance as if at
100 lines/s (or --event-rate). With --rate, lines are paced in real time, flushed every tick,
and timestamps advance at that rate; --count then defaults to endless.

Examples:
  hitstream gen --count 5000000 --out access.log
  hitstream gen --format nginx --rate 50 --start now | hitstream run
  hitstream gen --paths '/product1=50,/product2=25,/product3=15,/product4=8,/product5=2'

With --http URL, the same traffic goes to a web server as HTTP/1.1 requests (path, method,
user agent, referer, and the client as X-Forwarded-For), over --concurrency kept-alive
connections, bounded by --count and/or --duration, paced by --rate (total requests/s).
It prints a summary like JMeter's aggregate report; -o json prints it as JSON.
  hitstream gen --http http://127.0.0.1:8080 --scanners 0 --count 10000 --concurrency 8 \
      --paths '/product1=50,/product2=25,/product3=15,/product4=8,/product5=2'")]
pub struct GenArgs {
    /// Lines to write; 0 means endless [default: 1000, or endless with --rate].
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Pace output in real time at R lines per second; timestamps advance at that rate.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Lines per second of event time, when it should differ from --rate (replay faster or
    /// slower than real time) [default: --rate, else 100].
    #[arg(long, value_name = "R")]
    pub event_rate: Option<f64>,

    /// Seed: the same seed and options give the same bytes.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,

    /// Log format written: a preset (vcombined, main, combined, nginx, debian, common, nasa)
    /// or an nginx/Apache format string. (`auto` is for reading logs: gen writes one format.)
    #[arg(long, value_name = "PRESET", default_value = "combined", value_parser = gen_format)]
    pub format: String,

    /// Request exactly these paths with these weights instead of a generated site:
    /// '/a=50,/b=25,/c' (weight 1 when omitted). Scanners still probe; add --scanners 0.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["pages", "zipf"])]
    pub paths: Option<String>,

    /// Pages of the generated site (blog, products, docs, downloads...), requested with Zipf
    /// popularity; static assets come on top.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGES)]
    pub pages: u32,

    /// Zipf exponent of page popularity (0: uniform).
    #[arg(long, value_name = "S", default_value_t = DEFAULT_ZIPF)]
    pub zipf: f64,

    /// Event time of the first line: RFC 3339 ('2026-01-01T00:00:00+00:00'), a date and time
    /// without offset (read in --tz-offset), a date, or 'now'.
    #[arg(long, value_name = "TIME", default_value = "2026-01-01T00:00:00+00:00")]
    pub start: String,

    /// UTC offset written in timestamps: +0000, -0400, +05:30 [default: the offset written in
    /// --start; the system's with 'now'].
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub tz_offset: Option<String>,

    /// Output format, as `-o` of `analyze`, `sql` and `report`: `text` or `json`, for the
    /// summary of --http. (Without --http gen writes log lines, in --format; to a file with
    /// --out.)
    #[arg(long, short = 'o', value_name = "FORMAT", default_value = "text", value_parser = summary_format)]
    pub output: SummaryFormat,

    /// Write the log lines to FILE instead of stdout.
    #[arg(long, value_name = "FILE", value_parser = out_file, conflicts_with = "http")]
    pub out: Option<PathBuf>,

    /// Send the traffic as HTTP requests to this server (`http://HOST:PORT[/PREFIX]`) instead
    /// of writing log lines.
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,

    /// With --http: stop after this long ('30s', '5m'), or at --count, whichever comes first.
    #[arg(long, value_name = "TIME", requires = "http", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// With --http: connections kept busy at once.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "http")]
    pub concurrency: usize,

    /// With --http: longest wait for a connection or a whole response.
    #[arg(long, value_name = "TIME", default_value = "10s", requires = "http", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,

    /// With --http: paths shown in the text summary (-o json lists all).
    #[arg(long, value_name = "N", default_value_t = 20, requires = "http")]
    pub top: usize,

    /// Clients in the pool: browsers, crawlers and tools, with heavy-tailed activity.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CLIENTS)]
    pub clients: u32,

    /// Scanner clients that probe for vulnerable paths (/wp-login.php, /.env...) in bursts.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SCANNERS)]
    pub scanners: u32,

    /// Host name of the generated site (virtual host, internal referers).
    #[arg(long, value_name = "HOST", default_value = DEFAULT_HOST)]
    pub host: String,
}

/// The summary formats of `gen --http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryFormat {
    /// Tables, as JMeter's aggregate report.
    Text,
    /// One JSON object.
    Json,
}

/// Names of output formats of any command: given to `--out`, one is far more likely a
/// misplaced format than a file the user wants to create.
const FORMAT_NAMES: [&str; 6] = ["text", "json", "csv", "html", "table", "jsonl"];

/// Reads `-o/--output`. Until it meant the output format everywhere, `gen -o` took a file:
/// such a value is refused with the flag that takes a file now.
fn summary_format(s: &str) -> Result<SummaryFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(SummaryFormat::Text),
        "json" => Ok(SummaryFormat::Json),
        _ => Err(format!(
            "-o/--output is the output format, `text` or `json` (of the --http summary); to \
             write the log lines to a file, use --out {s}"
        )),
    }
}

/// Reads `--out`, refusing a format name (`--out json` was meant as `-o json`).
fn out_file(s: &str) -> Result<PathBuf, String> {
    if FORMAT_NAMES.contains(&s.trim().to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{s}` is the name of an output format, not a file: -o/--output takes the format; \
             to write a file with that name, give a path such as --out ./{s}"
        ));
    }
    Ok(PathBuf::from(s))
}

/// Reads `--format`: what gen can write, refused here (a usage error) rather than when the
/// generator starts.
fn gen_format(s: &str) -> Result<String, String> {
    let presets = || {
        hitstream_format::PRESETS
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if s.trim().eq_ignore_ascii_case("auto") {
        return Err(format!(
            "`auto` detects the format of a log being read; gen writes one format: give a \
             preset ({}) or an nginx log_format / Apache LogFormat string",
            presets()
        ));
    }
    match hitstream_format::FormatSpec::from_str_any(s) {
        Ok(_) => Ok(s.to_string()),
        Err(hitstream_format::FormatError::UnknownPreset { .. }) => Err(format!(
            "unknown format `{}`{}: gen writes a preset ({}), an nginx log_format string \
             ($remote_addr ...) or an Apache LogFormat string (%h ...)",
            s.trim(),
            hitstream_format::closest_preset(s)
                .filter(|p| *p != "auto")
                .map(|p| format!(" (did you mean `{p}`?)"))
                .unwrap_or_default(),
            presets()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `hitstream gen`.
pub fn run(args: GenArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.http {
        return run_http(url, &args);
    }
    if args.output == SummaryFormat::Json {
        crate::usage::usage_bail!(
            "-o json is the format of the --http summary; without --http gen writes log lines \
             in --format (write them to a file with --out FILE)"
        );
    }
    let config = config_from(&args)?;
    let mut generator = Generator::new(config).context("configuring the generator")?;
    let began = Instant::now();
    let result = match &args.out {
        Some(path) => {
            let mut file = File::create(path)
                .with_context(|| format!("creating output file {}", path.display()))?;
            generator
                .write_to(&mut file)
                .with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match generator.write_to(&mut out) {
                // The reader went away (`| head`): a normal end for a generator.
                Err(e) if e.is_broken_pipe() => Ok(generator.lines()),
                r => r.context("writing to stdout"),
            }
        }
    };
    let lines = result?;
    if let Some(path) = &args.out {
        let secs = began.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        crate::verbosity::info!(
            "wrote {lines} lines ({:.1} MB) to {} in {secs:.2} s ({:.0} lines/s)",
            bytes as f64 / 1e6,
            path.display(),
            lines as f64 / secs.max(1e-9),
        );
    }
    Ok(())
}

/// `gen --http`: the generator's traffic as real requests, then the summary on stdout.
fn run_http(url: &str, args: &GenArgs) -> anyhow::Result<()> {
    let json = args.output == SummaryFormat::Json;
    let target = hitstream_load::Target::parse(url).context("reading --http")?;
    let mut gen_config = config_from(args)?;
    // The generator only draws requests here; the count, the pacing and the clock are the
    // load's.
    let count = match (args.count, args.duration, args.rate) {
        (Some(0), _, _) => None,
        (Some(n), _, _) => Some(n),
        (None, Some(_), _) | (None, None, Some(_)) => None,
        (None, None, None) => Some(DEFAULT_COUNT),
    };
    gen_config.count = None;
    gen_config.rate = None;
    let generator = Generator::new(gen_config).context("configuring the generator")?;
    let config = hitstream_load::LoadConfig {
        target,
        count,
        duration: args.duration,
        concurrency: args.concurrency,
        rate: args.rate,
        timeout: args.timeout,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .context("installing the SIGINT/SIGTERM handler")?;
    let summary = hitstream_load::run(&config, generator, stop)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", crate::output::table::load_summary(&summary, args.top));
    }
    if summary.requests > 0 && summary.responses == 0 {
        bail!(
            "no request to {url} got a response ({})",
            summary
                .errors_by_kind
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Turns the flags into a configuration.
fn config_from(args: &GenArgs) -> anyhow::Result<GenConfig> {
    let tz = args
        .tz_offset
        .as_deref()
        .map(parse_utc_offset)
        .transpose()
        .context("reading --tz-offset")?;
    let (start, start_micros, tz_offset) = parse_start(&args.start, tz)
        .with_context(|| format!("reading --start `{}`", args.start))?;
    let count = match (args.count, args.rate) {
        (Some(0), _) | (None, Some(_)) => None,
        (Some(n), _) => Some(n),
        (None, None) => Some(DEFAULT_COUNT),
    };
    let paths = match &args.paths {
        Some(list) => PathSource::Weighted(parse_weighted_paths(list)?),
        None => PathSource::Site {
            pages: args.pages,
            zipf: args.zipf,
        },
    };
    Ok(GenConfig {
        format: args.format.clone(),
        count,
        rate: args.rate,
        event_rate: args.event_rate,
        seed: args.seed,
        start,
        start_micros,
        tz_offset,
        paths,
        clients: args.clients,
        scanners: args.scanners,
        host: args.host.clone(),
    })
}

/// Reads `--start` into (Unix seconds, microseconds, UTC offset for the logs). An explicit `--tz-offset`
/// wins; otherwise the offset written in the time is used (the system's for `now`, UTC for a
/// time without offset).
fn parse_start(s: &str, tz: Option<i32>) -> anyhow::Result<(i64, u32, i32)> {
    let s = s.trim();
    let split = |ts: jiff::Timestamp| {
        // Seconds rounded down, so the microseconds are never negative.
        let micros = ts.as_microsecond();
        (
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000) as u32,
        )
    };
    if s.eq_ignore_ascii_case("now") {
        let now = jiff::Timestamp::now();
        let off = tz.unwrap_or_else(|| jiff::tz::TimeZone::system().to_offset(now).seconds());
        let (secs, micros) = split(now);
        return Ok((secs, micros, off));
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        let off = match tz {
            Some(o) => o,
            None => written_offset(s).unwrap_or(0),
        };
        let (secs, micros) = split(ts);
        return Ok((secs, micros, off));
    }
    let off = tz.unwrap_or(0);
    let dt = match s.parse::<jiff::civil::DateTime>() {
        Ok(dt) => dt,
        Err(_) => match s.parse::<jiff::civil::Date>() {
            Ok(d) => d.to_datetime(jiff::civil::Time::midnight()),
            Err(e) => bail!("not a time (RFC 3339, `YYYY-MM-DD[THH:MM:SS]` or `now`): {e}"),
        },
    };
    let ts = jiff::tz::Offset::from_seconds(off)?.to_timestamp(dt)?;
    let (secs, micros) = split(ts);
    Ok((secs, micros, off))
}

/// The UTC offset at the end of an RFC 3339 time (`...+02:00`, `...Z`).
fn written_offset(s: &str) -> Option<i32> {
    if s.ends_with(['Z', 'z']) {
        return Some(0);
    }
    [6, 5]
        .iter()
        .filter_map(|&n| s.len().checked_sub(n).and_then(|i| s.get(i..)))
        .find_map(|tail| parse_utc_offset(tail).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        gen: GenArgs,
    }

    fn config(args: &[&str]) -> anyhow::Result<GenConfig> {
        let cli = Cli::try_parse_from(std::iter::once("gen").chain(args.iter().copied()))?;
        config_from(&cli.gen)
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c, GenConfig::default());
    }

    #[test]
    fn count_and_rate() {
        assert_eq!(config(&["--count", "5"]).unwrap().count, Some(5));
        assert_eq!(config(&["--count", "0"]).unwrap().count, None);
        assert_eq!(config(&["--rate", "10"]).unwrap().count, None);
        assert_eq!(
            config(&["--rate", "10", "--count", "7"]).unwrap().count,
            Some(7)
        );
        assert!(config(&["--rate", "x"]).is_err());
    }

    #[test]
    fn start_and_offsets() {
        let c = config(&["--start", "2026-03-01T10:00:00+02:00"]).unwrap();
        assert_eq!((c.start, c.tz_offset), (1_772_352_000, 7200));
        let c = config(&["--start", "2026-03-01T10:00:00Z", "--tz-offset", "-0400"]).unwrap();
        assert_eq!((c.start, c.tz_offset), (1_772_359_200, -14_400));
        let c = config(&["--start", "2026-03-01T10:00:00", "--tz-offset=+0100"]).unwrap();
        assert_eq!((c.start, c.tz_offset), (1_772_355_600, 3600));
        let c = config(&["--start", "2026-03-01"]).unwrap();
        assert_eq!((c.start, c.tz_offset), (1_772_323_200, 0));
        assert!(config(&["--start", "now"]).unwrap().start > 1_700_000_000);
        let c = config(&["--start", "2026-03-01T10:00:00.25Z"]).unwrap();
        assert_eq!((c.start, c.start_micros), (1_772_359_200, 250_000));
        assert!(config(&["--start", "yesterday"]).is_err());
        assert!(config(&["--tz-offset", "+25"]).is_err());
    }

    #[test]
    fn paths_versus_site() {
        let c = config(&["--paths", "/a=3,/b"]).unwrap();
        assert!(matches!(c.paths, PathSource::Weighted(ref v) if v.len() == 2));
        let c = config(&["--pages", "10", "--zipf", "1.2"]).unwrap();
        assert_eq!(
            c.paths,
            PathSource::Site {
                pages: 10,
                zipf: 1.2
            }
        );
        assert!(config(&["--paths", "/a", "--pages", "3"]).is_err());
        assert!(config(&["--paths", "nope"]).is_err());
    }

    #[test]
    fn writes_a_file() {
        let dir = std::env::temp_dir().join(format!("hitstream-gen-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.log");
        let cli = Cli::try_parse_from([
            "gen",
            "--count",
            "250",
            "--format",
            "nginx",
            "--out",
            path.to_str().unwrap(),
        ])
        .unwrap();
        run(cli.gen).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 250);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
