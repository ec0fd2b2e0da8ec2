//! `hitstream demo`: the real-time pipeline on a fresh machine with nothing else. Generated
//! traffic (with scanners probing for admin pages) flows at a steady rate through `run`:
//! event-time windows close as the clock moves, tables and alerts print as they happen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hitstream_gen::{GenConfig, Generator};
use hitstream_runtime::{RunSource, SourceSpec, Stream};
use hitstream_source::{LineLimits, StreamSource};

use crate::config::{Config, LakeConfig};

/// Options of `hitstream demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Generated requests per second.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Window length.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// Scanner clients among the traffic (they trigger the 404-burst alert).
    #[arg(long, default_value_t = 2)]
    pub scanners: u32,
    /// Stop after this long (default: run until Ctrl-C); every open window is then closed.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Live terminal view instead of console tables.
    #[arg(long)]
    pub tui: bool,
    /// Random seed of the traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Store rows, windows and alerts in the lake at this directory (then try
    /// `hitstream sql --data DIR "SELECT ..."`); default: a new directory under the system's
    /// temporary directory, kept after the demo.
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Address of the live web dashboard (a free port when this one is taken).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub http: String,
    /// No web dashboard.
    #[arg(long)]
    pub no_http: bool,
}

/// The dashboard's address: the one asked for, or a free port on the same host when it is
/// taken (a second demo, another server on 8080).
fn dashboard_addr(asked: &str) -> anyhow::Result<String> {
    let addr: std::net::SocketAddr = asked
        .parse()
        .with_context(|| format!("--http `{asked}`: expected HOST:PORT"))?;
    Ok(match std::net::TcpListener::bind(addr) {
        Ok(_) => asked.to_string(),
        Err(_) => std::net::SocketAddr::new(addr.ip(), 0).to_string(),
    })
}

/// The demo's configuration: combined lines, short windows and lateness, top 5, the lake at
/// `data`.
fn config(a: &DemoArgs, data: &str) -> anyhow::Result<Config> {
    let mut cfg = Config::parse_unchecked("format = \"combined\"", "(demo)")?;
    cfg.window.size = a.window;
    cfg.window.lateness = Duration::from_secs(2);
    cfg.window.idle_timeout = Duration::from_secs(2);
    cfg.window.top = 5;
    cfg.output.tui = a.tui;
    if !a.no_http {
        cfg.http.listen = Some(dashboard_addr(&a.http)?);
    }
    let local = data.strip_prefix("file://").unwrap_or(data);
    cfg.checkpoint.dir = Some(std::path::Path::new(local).join("_checkpoint"));
    cfg.lake = Some(LakeConfig::at(data.to_string()));
    cfg.check_without_sources("(demo)")?;
    Ok(cfg)
}

/// Runs `hitstream demo`.
pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let data = match &a.data {
        Some(d) => d.clone(),
        None => std::env::temp_dir()
            .join(format!(
                "hitstream-demo-{}",
                jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S")
            ))
            .to_string_lossy()
            .into_owned(),
    };
    let cfg = config(&a, &data)?;
    let now = jiff::Timestamp::now();
    let gen_cfg = GenConfig {
        count: None,
        rate: Some(a.rate),
        seed: a.seed,
        start: now.as_second(),
        start_micros: now.subsec_microsecond().max(0) as u32,
        tz_offset: 0,
        scanners: a.scanners,
        ..GenConfig::default()
    };
    let mut generator = Generator::new(gen_cfg).context("demo traffic")?;
    let (reader, mut writer) = std::io::pipe().context("creating the demo pipe")?;
    let gen_stop = Arc::new(AtomicBool::new(false));
    if let Some(d) = a.duration {
        // Traffic stops when the duration is over. Dropping the writer then ends the stream:
        // every window closes, the run ends. (Ctrl-C and `q` stop the pipeline itself.)
        let gen_stop = gen_stop.clone();
        let deadline = Instant::now() + d;
        std::thread::spawn(move || {
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            gen_stop.store(true, Ordering::SeqCst);
        });
    }
    std::thread::spawn(move || {
        let _ = generator.write_to_until(&mut writer, &gen_stop);
    });
    if !a.tui {
        eprintln!(
            "demo: {} requests/s of generated traffic, {} windows; Ctrl-C to stop",
            a.rate,
            humantime::format_duration(a.window)
        );
    }
    let traffic = SourceSpec::Custom {
        name: "generated traffic".into(),
        factory: Box::new(move |_: &hitstream_source::Checkpoint| {
            let src = StreamSource::new("demo traffic", reader, LineLimits::default());
            Ok(Box::new(Stream::new("generated traffic", Box::new(src))) as Box<dyn RunSource>)
        }),
    };
    crate::pipeline::run(&cfg, None, vec![traffic])?;
    // The batch half: today's report from the lake the stream just filled.
    let report = crate::cmd_report::DailyArgs {
        date: None,
        top: 5,
        tz: Some("UTC".into()),
        data: data.clone(),
        output: crate::cmd_sql::Tabular::Table,
        out: None,
        no_save: false,
    };
    println!();
    crate::cmd_report::print(&report, now.to_zoned(jiff::tz::TimeZone::UTC).date())?;
    eprintln!(
        "the lake is at {data}: hitstream sql --data {data} \"SELECT count(*) FROM requests\""
    );
    Ok(())
}
