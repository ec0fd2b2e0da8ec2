//! `hitstream demo`: the real-time pipeline on a fresh machine with nothing else. Generated
//! traffic (with scanners probing for admin pages) flows at a steady rate through `run`:
//! event-time windows close as the clock moves, tables and alerts print as they happen.
//! With `--kafka`, the same traffic goes through a local Kafka-protocol broker started for
//! the demo: shipped into a 3-partition topic, read back by the pipeline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hitstream_gen::{GenConfig, Generator};
use hitstream_runtime::{RunSource, SourceSpec, Stream};
use hitstream_source::{LineLimits, StreamSource};

use crate::config::{Config, LakeConfig, SourceConfig, SourceKind};

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
    /// Through Kafka: start a local Kafka-protocol broker (`tansu`, on a free loopback port,
    /// memory storage), ship the traffic into a 3-partition topic and read it back.
    #[arg(long)]
    pub kafka: bool,
}

/// The demo's broker: a `tansu` child process, stopped with the demo.
struct LocalBroker {
    child: std::process::Child,
    addr: String,
}

impl LocalBroker {
    fn start(log: &std::path::Path) -> anyhow::Result<LocalBroker> {
        let tansu = std::env::var_os("HITSTREAM_TANSU")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("PATH").and_then(|ps| {
                    std::env::split_paths(&ps)
                        .map(|d| d.join("tansu"))
                        .find(|p| p.is_file())
                })
            })
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| std::path::Path::new(&h).join(".cargo/bin/tansu"))
                    .filter(|p| p.is_file())
            })
            .context(
                "demo --kafka needs a Kafka-protocol broker and found none: install one with \
                 `cargo install tansu --version 0.6.0 --locked --features dynostore,libsql`",
            )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let out = std::fs::File::create(log)
            .with_context(|| format!("creating the broker's log {}", log.display()))?;
        let child = std::process::Command::new(&tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting the broker {}", tansu.display()))?;
        let mut b = LocalBroker { child, addr };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(&b.addr).is_err() {
            if let Some(st) = b.child.try_wait()? {
                anyhow::bail!("the broker exited ({st}); its log is {}", log.display());
            }
            if t0.elapsed() > Duration::from_secs(30) {
                anyhow::bail!(
                    "the broker did not listen within 30 s; its log is {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(b)
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo's topic.
const TOPIC: &str = "hitstream-demo";

/// The generator's pipe as a source, for the pipeline or for `ship`.
fn traffic(reader: std::io::PipeReader) -> Box<dyn RunSource> {
    let src = StreamSource::new("demo traffic", reader, LineLimits::default());
    Box::new(Stream::new("generated traffic", Box::new(src)))
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

/// The traffic through a local broker: `ship` of the generator's stream into a 3-partition
/// topic on one thread, the pipeline reading the topic. When the traffic ends (`--duration`),
/// the pipeline is stopped once it has read every line that was delivered.
fn run_through_kafka(
    mut cfg: Config,
    data: &str,
    reader: std::io::PipeReader,
    bounded: bool,
) -> anyhow::Result<()> {
    let local = std::path::Path::new(data.strip_prefix("file://").unwrap_or(data));
    std::fs::create_dir_all(local).with_context(|| format!("creating {}", local.display()))?;
    let broker = LocalBroker::start(&local.join("broker.log"))?;
    crate::verbosity::info!(
        "demo: Kafka-protocol broker on {}, topic {TOPIC} (3 partitions)",
        broker.addr
    );
    let conn = hitstream_kafka::Connection::new(&broker.addr);
    hitstream_kafka::create_topic(&conn, TOPIC, 3, Duration::from_secs(30))
        .with_context(|| format!("creating topic {TOPIC} on {}", broker.addr))?;
    let ship_cfg = hitstream_kafka::ShipConfig::new(conn, TOPIC, local.join("_ship.json"));
    let delivered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let shipped = Arc::new(AtomicBool::new(false));
    {
        let (delivered, shipped) = (delivered.clone(), shipped.clone());
        std::thread::spawn(move || {
            let src = traffic(reader);
            let never = AtomicBool::new(false);
            let r = hitstream_kafka::ship(&ship_cfg, src, &never, |st, notes| {
                for n in notes {
                    eprintln!("ship: {n}");
                }
                delivered.store(st.delivered, Ordering::SeqCst);
            });
            match r {
                Ok(st) => delivered.store(st.delivered, Ordering::SeqCst),
                Err(e) => eprintln!("demo: shipping into Kafka failed: {e}"),
            }
            shipped.store(true, Ordering::SeqCst);
        });
    }
    let mut topic = SourceConfig::of_kind(SourceKind::Kafka);
    topic.brokers = Some(broker.addr.clone());
    topic.topic = Some(TOPIC.into());
    topic.group = Some("demo".into());
    cfg.sources = vec![topic];
    let window = cfg.window.size.as_secs().max(1) as i64;
    let on_start: Option<crate::pipeline::OnStart> = bounded.then(|| {
        Box::new(
            move |stop: hitstream_runtime::Stopper, watch: hitstream_runtime::Watch| {
                while !shipped.load(Ordering::SeqCst)
                    || watch.status().counters.lines < delivered.load(Ordering::SeqCst)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                // A topic does not end as a pipe does: the last windows close when the
                // watermark, moved by the clock once input is idle, passes their end.
                crate::verbosity::info!(
                    "demo: every delivered line is read; closing the last windows"
                );
                let last = jiff::Timestamp::now().as_second();
                let close_at = (last / window + 1) * window;
                let limit = Instant::now() + Duration::from_secs(window as u64 + 15);
                while Instant::now() < limit
                    && watch.status().watermark.is_none_or(|w| w < close_at)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                // The window's emission reaches the outputs with the next epoch.
                std::thread::sleep(Duration::from_millis(1500));
                stop.stop();
            },
        ) as crate::pipeline::OnStart
    });
    crate::pipeline::run_with(&cfg, None, Vec::new(), on_start)?;
    drop(broker);
    Ok(())
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
    // Every setting of the demo comes from its flags: a bad one is a usage error.
    let cfg = config(&a, &data).map_err(|e| {
        crate::usage::error(format!("{e:#}").replace("in config file `(demo)`: ", ""))
    })?;
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
    let mut generator = Generator::new(gen_cfg)
        .context("demo traffic")
        .map_err(crate::usage::mark)?;
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
        crate::verbosity::info!(
            "demo: {} requests/s of generated traffic, {} windows; Ctrl-C to stop",
            a.rate,
            humantime::format_duration(a.window)
        );
    }
    if a.kafka {
        run_through_kafka(cfg, &data, reader, a.duration.is_some())?;
    } else {
        let traffic = SourceSpec::Custom {
            name: "generated traffic".into(),
            factory: Box::new(move |_: &hitstream_source::Checkpoint| Ok(traffic(reader))),
        };
        crate::pipeline::run(&cfg, None, vec![traffic])?;
    }
    // The batch half: today's report from the lake the stream just filled.
    let report = crate::cmd_report::DailyArgs {
        date: None,
        top: 5,
        tz: Some("UTC".into()),
        data_flag: None,
        data: data.clone(),
        output: crate::cmd_report::DailyOutput::Table,
        out: None,
        no_save: false,
    };
    println!();
    crate::cmd_report::print(&report, now.to_zoned(jiff::tz::TimeZone::UTC).date())?;
    crate::verbosity::info!(
        "the lake is at {data}: hitstream sql --data {data} \"SELECT count(*) FROM requests\""
    );
    Ok(())
}
