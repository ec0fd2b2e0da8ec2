//! `hitstream demo`: the real-time pipeline on a fresh machine with nothing else. Generated
//! traffic (with scanners probing for admin pages) flows at a steady rate through `run`:
//! event-time windows close as the clock moves, tables and alerts print as they happen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hitstream_gen::{GenConfig, Generator};
use hitstream_source::{LineLimits, StreamSource};

use crate::cmd_run::{effective_config, run_pipeline, RunArgs};

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
    /// Also store rows, windows and alerts in the lake at this directory (then try
    /// `hitstream sql --data DIR "SELECT ..."`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
}

/// Runs `hitstream demo`.
pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let args = RunArgs {
        config: None,
        tail: Vec::new(),
        file: Vec::new(),
        tcp: None,
        syslog: None,
        spool: None,
        format: Some("combined".into()),
        window: Some(a.window),
        slide: None,
        lateness: Some(Duration::from_secs(2)),
        idle_timeout: Some(Duration::from_secs(2)),
        top: Some(5),
        emit: None,
        jsonl: None,
        alerts: None,
        late: None,
        rejects: None,
        tui: a.tui,
        checkpoint_dir: None,
        checkpoint_interval: None,
        threads: None,
        no_alerts: false,
        data: a.data.clone(),
        store: false,
        retention: None,
    };
    let cfg = effective_config(&args, true)?;

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
    let stop = Arc::new(AtomicBool::new(false));
    let gen_stop = Arc::new(AtomicBool::new(false));
    {
        // Traffic stops when the duration is over or the pipeline is stopping (Ctrl-C, `q` in
        // the view). Dropping the writer then ends the stream: every window closes, the run ends.
        let gen_stop = gen_stop.clone();
        let stop = stop.clone();
        let deadline = a.duration.map(|d| Instant::now() + d);
        std::thread::spawn(move || loop {
            if stop.load(Ordering::SeqCst) || deadline.is_some_and(|t| Instant::now() >= t) {
                gen_stop.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
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
    let src = StreamSource::new("demo traffic", reader, LineLimits::default());
    run_pipeline(
        &cfg,
        None,
        vec![("generated traffic".to_string(), Box::new(src))],
        stop,
    )
}
