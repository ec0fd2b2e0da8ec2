//! `hitstream validate --config F`: checks a `run` configuration without running it, in the
//! spirit of `nginx -t`: the file (syntax, unknown fields, cross-field checks), the sources
//! (files and patterns readable, addresses that parse and can be bound, Kafka brokers
//! written as `host:port`) and the sinks (directories writable or creatable, output files
//! writable). Every problem is listed, each naming the file and the field; nothing is
//! started and no network is used unless `--online` asks for it.

use std::fs::OpenOptions;
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, SourceConfig, SourceKind, SyslogProtocol};
use crate::verbosity::detail;

/// How long `--online` waits for each broker to accept a connection.
const ONLINE_TIMEOUT: Duration = Duration::from_secs(3);

/// Options of `hitstream validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The configuration file to check (TOML; see docs/config.md).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Also connect to the Kafka brokers the file names (one TCP connection to each, 3 s at
    /// most); without it nothing goes over the network.
    #[arg(long)]
    pub online: bool,
}

/// What the checks found.
#[derive(Default)]
struct Findings {
    /// Each makes the configuration fail.
    problems: Vec<String>,
    /// Said, but `run` would start.
    warnings: Vec<String>,
    /// One line per checked part, for the summary.
    summary: Vec<String>,
}

/// Runs `hitstream validate`.
pub fn run(a: ValidateArgs) -> anyhow::Result<()> {
    let name = a.config.display().to_string();
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("cannot read config file `{name}`"))?;
    // A file that does not parse has nothing else to check: its one error says where.
    let mut cfg = Config::parse_unchecked(&text, &name)?;
    let mut f = Findings::default();
    f.problems.extend(cfg.problems(&name));
    let consistent = f.problems.is_empty();
    if consistent {
        // The settings `run --config F` would use (the checkpoint directory beside the lake,
        // ...), and whatever else it refuses.
        match as_run(&a.config) {
            Ok(c) => cfg = c,
            Err(e) => f.problems.push(format!("{e:#}")),
        }
    }
    // Settings the cross-field checks refused would only be refused again.
    if consistent {
        check_settings(&cfg, &name, &mut f);
    }
    for (i, s) in cfg.sources.iter().enumerate() {
        check_source(
            s,
            &format!("in config file `{name}`: source #{}", i + 1),
            a.online,
            &mut f,
        );
    }
    check_sinks(&cfg, &name, a.online, &mut f);

    // `run`'s own checks and these can find the same problem: said once.
    let mut seen = std::collections::HashSet::new();
    f.problems.retain(|p| seen.insert(p.clone()));
    for w in &f.warnings {
        eprintln!("warning: {}", crate::output::clean(w));
    }
    if f.problems.is_empty() {
        if !crate::verbosity::quiet() {
            println!("configuration OK: {name}");
            for l in &f.summary {
                println!("  {}", crate::output::clean(l));
            }
        }
        return Ok(());
    }
    for p in &f.problems {
        eprintln!("error: {}", crate::output::clean(p));
    }
    let n = f.problems.len();
    anyhow::bail!(
        "config file `{name}`: {n} problem{}",
        if n == 1 { "" } else { "s" }
    )
}

/// The configuration `run --config path` would run.
fn as_run(path: &Path) -> anyhow::Result<Config> {
    #[derive(clap::Parser)]
    struct AsRun {
        #[command(flatten)]
        run: crate::cmd_run::RunArgs,
    }
    let args = <AsRun as clap::Parser>::try_parse_from([
        std::ffi::OsStr::new("run"),
        "--config".as_ref(),
        path.as_os_str(),
    ])?;
    crate::cmd_run::effective_config(&args.run, false)
}

/// The windows and the alert rules (the format is one of the cross-field checks).
fn check_settings(cfg: &Config, name: &str, f: &mut Findings) {
    match crate::pipeline::spec(cfg, cfg.threads) {
        Ok(_) => {
            let w = &cfg.window;
            let shape = match w.slide {
                Some(s) if s != w.size => format!(
                    "{} sliding by {}",
                    humantime::format_duration(w.size),
                    humantime::format_duration(s)
                ),
                _ => format!("{} tumbling", humantime::format_duration(w.size)),
            };
            let alerts = match &cfg.alert {
                None => "the default alert rules".to_string(),
                Some(r) if r.is_empty() => "no alerts".to_string(),
                Some(r) => format!("{} alert rules", r.len()),
            };
            f.summary.push(format!(
                "format {}; windows {shape}, lateness {}, top {}; {alerts}",
                cfg.format,
                humantime::format_duration(w.lateness),
                w.top
            ));
        }
        // The words `run` uses, so that the two are said once.
        Err(e) => f.problems.push(format!("in config file `{name}`: {e:#}")),
    }
    if let Some(tz) = &cfg.report.tz {
        if let Err(e) = crate::cmd_analyze::parse_tz(tz) {
            f.problems.push(format!(
                "in config file `{name}`: [report] field `tz`: {}",
                format!("{e:#}").trim_start_matches("--tz ")
            ));
        }
    }
}

fn check_source(s: &SourceConfig, at: &str, online: bool, f: &mut Findings) {
    match s.kind {
        SourceKind::File => {
            let mut files = 0;
            for pat in &s.paths {
                files += check_pattern(pat, s, at, f);
            }
            f.summary.push(format!(
                "{}: file {} ({files} file{} now, {})",
                short(at),
                s.paths.join(", "),
                if files == 1 { "" } else { "s" },
                if s.follow { "followed" } else { "read once" }
            ));
        }
        SourceKind::Stdin => f.summary.push(format!("{}: stdin", short(at))),
        SourceKind::Tcp | SourceKind::Syslog => {
            let Some(listen) = &s.listen else { return };
            let (tcp, udp) = match (s.kind, s.protocol) {
                (SourceKind::Tcp, _) => (true, false),
                (_, SyslogProtocol::Udp) => (false, true),
                (_, SyslogProtocol::Tcp) => (true, false),
                (_, SyslogProtocol::Both) => (true, true),
            };
            check_listen(listen, tcp, udp, &format!("{at}: field `listen`"), f);
            if let Some(dir) = &s.spool {
                check_dir(dir, &format!("{at}: field `spool`"), f);
            }
            let kind = if s.kind == SourceKind::Tcp {
                "tcp"
            } else {
                "syslog"
            };
            f.summary.push(format!(
                "{}: {kind} {listen}{}",
                short(at),
                match &s.spool {
                    Some(d) => format!(", spooled in {}", d.display()),
                    None => ", no spool (at-most-once)".to_string(),
                }
            ));
        }
        SourceKind::Kafka => {
            let Some(brokers) = &s.brokers else { return };
            check_brokers(brokers, &format!("{at}: field `brokers`"), online, f);
            if s.topic.as_deref().is_some_and(|t| t.trim().is_empty()) {
                f.problems.push(format!("{at}: field `topic` is empty"));
            }
            if let Some(k) = &s.origin_key {
                if let Err(e) = hitstream_kafka::OriginKey::from_file(k) {
                    f.problems.push(format!("{at}: field `origin_key`: {e}"));
                }
            }
            f.summary.push(format!(
                "{}: kafka topic {} on {brokers}{}",
                short(at),
                s.topic.as_deref().unwrap_or(""),
                if online { " (brokers reached)" } else { "" }
            ));
        }
    }
}

/// `source #2` out of `in config file `F`: source #2`.
fn short(at: &str) -> &str {
    at.rsplit(": ").next().unwrap_or(at)
}

/// Checks one path or glob pattern of a file source; returns how many files it matches.
fn check_pattern(pat: &str, s: &SourceConfig, at: &str, f: &mut Findings) -> usize {
    let paths = match glob::glob(pat) {
        Ok(p) => p,
        Err(e) => {
            f.problems.push(format!(
                "{at}: field `paths`: `{pat}` is not a valid pattern: {e}"
            ));
            return 0;
        }
    };
    let mut files = 0;
    for entry in paths {
        let p = match entry {
            Ok(p) => p,
            Err(e) => {
                f.problems
                    .push(format!("{at}: field `paths`: `{pat}`: {e}"));
                continue;
            }
        };
        let shown = p.display();
        let link = p
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if link && !s.follow_symlinks {
            f.warnings.push(format!(
                "{at}: `{shown}` is a symbolic link: skipped (set follow_symlinks = true to read it)"
            ));
            continue;
        }
        if p.is_dir() {
            if !has_glob(pat) {
                f.problems.push(format!(
                    "{at}: field `paths`: `{shown}` is a directory; give its files or a pattern (`{}/*.log`)",
                    shown
                ));
                // Said: not also "matches no file".
                return 0;
            }
            continue;
        }
        match std::fs::File::open(&p) {
            Ok(_) => {
                files += 1;
                detail!("{at}: `{shown}` is readable");
            }
            Err(e) => f
                .problems
                .push(format!("{at}: field `paths`: cannot read `{shown}`: {e}")),
        }
    }
    if files == 0 {
        let dir = fixed_dir(pat);
        let missing = if dir.is_dir() {
            String::new()
        } else {
            format!(", and the directory `{}` does not exist", dir.display())
        };
        if s.follow {
            // `run` waits for followed files (a service started before the web server).
            f.warnings.push(format!(
                "{at}: `{pat}` matches no file yet{missing}; followed files are read when they appear"
            ));
        } else {
            f.problems.push(format!(
                "{at}: field `paths`: `{pat}` matches no file{missing} (with follow = false only files that exist at the start are read)"
            ));
        }
    }
    files
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The directory part of a pattern before its first wildcard.
fn fixed_dir(pat: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    let path = Path::new(pat);
    let comps: Vec<_> = path.components().collect();
    for (i, c) in comps.iter().enumerate() {
        let s = c.as_os_str().to_string_lossy();
        if has_glob(&s) || i + 1 == comps.len() {
            break;
        }
        dir.push(c);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

fn check_listen(listen: &str, tcp: bool, udp: bool, what: &str, f: &mut Findings) {
    let addr = match listen.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => {
            f.problems.push(format!(
                "{what}: `{listen}` is not an address to listen on (HOST:PORT, such as 127.0.0.1:5140)"
            ));
            return;
        }
    };
    // Bound and let go at once: `run` binds it again when it starts.
    if tcp {
        match TcpListener::bind(addr) {
            Ok(_) => detail!("{what}: TCP {addr} can be bound"),
            Err(e) => f
                .problems
                .push(format!("{what}: cannot listen on TCP {addr}: {e}")),
        }
    }
    if udp {
        match UdpSocket::bind(addr) {
            Ok(_) => detail!("{what}: UDP {addr} can be bound"),
            Err(e) => f
                .problems
                .push(format!("{what}: cannot listen on UDP {addr}: {e}")),
        }
    }
}

fn check_brokers(brokers: &str, what: &str, online: bool, f: &mut Findings) {
    let list: Vec<&str> = brokers
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    if list.is_empty() {
        f.problems
            .push(format!("{what}: no broker given (host:port[,host:port])"));
    }
    for b in list {
        let ok = b
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            f.problems
                .push(format!("{what}: `{b}` is not host:port (kafka1:9092)"));
            continue;
        }
        if !online {
            continue;
        }
        let reached = b
            .to_socket_addrs()
            .map_err(|e| e.to_string())
            .and_then(|addrs| {
                let mut last = "no address".to_string();
                for a in addrs {
                    match TcpStream::connect_timeout(&a, ONLINE_TIMEOUT) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(last)
            });
        match reached {
            Ok(()) => detail!("{what}: broker {b} accepts connections"),
            Err(e) => f
                .problems
                .push(format!("{what}: cannot reach broker {b}: {e}")),
        }
    }
}

/// A directory that must hold files: it exists and takes a new file, or it can be created.
fn check_dir(dir: &Path, what: &str, f: &mut Findings) {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        f.problems.push(format!(
            "{what}: `{}` is not a directory",
            existing.display()
        ));
        return;
    }
    // The only sure answer to "can this process write here" (ACLs, read-only mounts,
    // another user's directory) is to try.
    let probe = existing.join(format!(".hitstream-validate-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            if existing == dir {
                detail!("{what}: `{}` is writable", dir.display());
            } else {
                detail!("{what}: `{}` will be created", dir.display());
            }
        }
        Err(e) if existing == dir => f
            .problems
            .push(format!("{what}: cannot write in `{}`: {e}", dir.display())),
        Err(e) => f.problems.push(format!(
            "{what}: cannot create `{}` (in `{}`: {e})",
            dir.display(),
            existing.display()
        )),
    }
}

/// A file an output appends to or creates.
fn check_out_file(path: &str, what: &str, f: &mut Findings) {
    if path == "-" {
        return;
    }
    let p = Path::new(path);
    if p.is_dir() {
        f.problems
            .push(format!("{what}: `{path}` is a directory, not a file"));
        return;
    }
    if p.exists() {
        // Opened for appending only, so nothing already in it is touched.
        if let Err(e) = OpenOptions::new().append(true).open(p) {
            f.problems
                .push(format!("{what}: cannot write to `{path}`: {e}"));
        }
        return;
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        f.problems.push(format!(
            "{what}: the directory of `{path}` (`{}`) does not exist",
            parent.display()
        ));
        return;
    }
    check_dir(parent, what, f);
}

fn check_sinks(cfg: &Config, name: &str, online: bool, f: &mut Findings) {
    let at = format!("in config file `{name}`");
    let o = &cfg.output;
    for (field, v) in [("jsonl", &o.jsonl), ("alerts", &o.alerts)] {
        if let Some(p) = v {
            check_out_file(p, &format!("{at}: [output] field `{field}`"), f);
        }
    }
    for (field, v) in [("late", &o.late), ("rejects", &o.rejects)] {
        if let Some(p) = v {
            check_out_file(
                &p.to_string_lossy(),
                &format!("{at}: [output] field `{field}`"),
                f,
            );
        }
    }
    if let Some(b) = &o.kafka_brokers {
        check_brokers(
            b,
            &format!("{at}: [output] field `kafka_brokers`"),
            online,
            f,
        );
    }
    if let Some(l) = &cfg.lake {
        if l.data.is_empty() {
            f.summary
                .push("lake: the default location (said at start)".to_string());
        } else if l.data.contains("://") && !l.data.starts_with("file://") {
            f.summary
                .push(format!("lake: {} (an object store: not checked)", l.data));
        } else {
            let local = l.data.strip_prefix("file://").unwrap_or(&l.data);
            check_dir(Path::new(local), &format!("{at}: [lake] field `data`"), f);
            f.summary.push(format!("lake: {local}"));
        }
    }
    if let Some(d) = &cfg.checkpoint.dir {
        // By default checkpoints live in the lake's directory, which was just checked.
        let in_lake = cfg.lake.as_ref().is_some_and(|l| {
            !l.data.is_empty() && d.starts_with(l.data.strip_prefix("file://").unwrap_or(&l.data))
        });
        if !in_lake {
            check_dir(d, &format!("{at}: [checkpoint] field `dir`"), f);
        }
        f.summary.push(format!("checkpoints: {}", d.display()));
    }
    let lake = cfg.lake.as_ref().map(|l| l.data.as_str());
    match cfg.http.server(lake) {
        Ok(Some(sc)) => {
            check_listen(
                &sc.addr.to_string(),
                true,
                false,
                &format!("{at}: [http] field `listen`"),
                f,
            );
            f.summary.push(format!("dashboard: http://{}/", sc.addr));
        }
        Ok(None) => {}
        Err(e) => f.problems.push(format!("{at}: [http]: {e:#}")),
    }
}

/// The settings a run goes with, one line each (`run -v` shows them).
pub fn describe(cfg: &Config) -> Vec<String> {
    let d = |v: Duration| humantime::format_duration(v).to_string();
    let w = &cfg.window;
    let mut out = vec![format!(
        "format {}; windows {}{}, lateness {}, idle timeout {}, top {}; {}",
        cfg.format,
        d(w.size),
        w.slide
            .map_or(String::new(), |s| format!(" sliding by {}", d(s))),
        d(w.lateness),
        d(w.idle_timeout),
        w.top,
        match &cfg.alert {
            None => "the default alert rules".to_string(),
            Some(r) => format!("{} alert rules", r.len()),
        }
    )];
    for (i, s) in cfg.sources.iter().enumerate() {
        let what = match s.kind {
            SourceKind::File => format!(
                "file {} ({})",
                s.paths.join(", "),
                if s.follow { "followed" } else { "read once" }
            ),
            SourceKind::Stdin => "stdin".to_string(),
            SourceKind::Tcp | SourceKind::Syslog => format!(
                "{:?} {}{}",
                s.kind,
                s.listen.as_deref().unwrap_or(""),
                s.spool
                    .as_ref()
                    .map_or(String::new(), |p| format!(", spool {}", p.display()))
            )
            .to_lowercase(),
            SourceKind::Kafka => format!(
                "kafka topic {} on {}",
                s.topic.as_deref().unwrap_or(""),
                s.brokers.as_deref().unwrap_or("")
            ),
        };
        out.push(format!("source #{}: {what}", i + 1));
    }
    let o = &cfg.output;
    let files: Vec<String> = [
        ("jsonl", o.jsonl.clone()),
        ("alerts", o.alerts.clone()),
        ("late", o.late.as_ref().map(|p| p.display().to_string())),
        (
            "rejects",
            o.rejects.as_ref().map(|p| p.display().to_string()),
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
    .collect();
    out.push(format!(
        "output: {}{}",
        if o.tui {
            "live view"
        } else if o.console {
            "console"
        } else {
            "no console"
        },
        if files.is_empty() {
            String::new()
        } else {
            format!(", {}", files.join(", "))
        }
    ));
    match &cfg.checkpoint.dir {
        Some(dir) => out.push(format!(
            "checkpoints: {} every {}",
            dir.display(),
            d(cfg.checkpoint.interval)
        )),
        None => out.push("checkpoints: none".to_string()),
    }
    if let Some(l) = &cfg.lake {
        out.push(format!("lake: {}", l.data));
    }
    if let Some(h) = &cfg.http.listen {
        out.push(format!("dashboard: {h}"));
    }
    out.push(match cfg.threads {
        Some(n) => format!("parser threads: {n}"),
        None => "parser threads: one per core".to_string(),
    });
    out
}
