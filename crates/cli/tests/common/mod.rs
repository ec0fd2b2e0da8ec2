//! Helpers shared by the end-to-end tests: the binary under test and the real logs in
//! ../shared/data. (Each test file uses only some of them.)
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `hitstream` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hitstream"))
}

/// A file of the shared test data.
pub fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing {}: the tests read the real logs in ../shared/data beside the repository",
        p.display()
    );
    p
}

/// The first 200,000 lines of the NASA log of July 1995 (gzip).
pub const NASA: &str = "nasa-http-1995/NASA_access_log_Jul95.first200000.gz";

/// The text of [`NASA`].
pub fn nasa_text() -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(data(NASA)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The first `n` lines of [`NASA`] (all of them if it has fewer).
pub fn nasa_lines(n: usize) -> Vec<u8> {
    let mut text = nasa_text();
    let end = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i + 1);
    text.truncate(end);
    text
}

/// The stdout of a successful run; fails the test with stderr otherwise.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "hitstream failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Creates `bucket` on the S3 emulator at `endpoint` (scripts/test starts one), with the
/// boto3 of the Python at `py`.
pub fn create_s3_bucket(py: &str, endpoint: &str, bucket: &str) {
    let made = std::process::Command::new(py)
        .args([
            "-c",
            &format!(
                "import boto3; boto3.client('s3', endpoint_url='{endpoint}', \
                 region_name='us-east-1', aws_access_key_id='test', \
                 aws_secret_access_key='test').create_bucket(Bucket='{bucket}')"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// The stderr of a finished command, as text.
pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stdout of a finished command, as text.
pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `hitstream ARGS` run in `dir`, with no input.
pub fn hs_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `cmd` with `input` on its stdin, written on a thread of its own: the child may fail
/// (and stop reading) before the end, and that failure is what a test then shows.
pub fn output_with_stdin(cmd: &mut Command, input: Vec<u8>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

/// Points the per-user directories of `cmd` at `home` (HOME), `state` (XDG_STATE_HOME) and
/// `data` (XDG_DATA_HOME), and takes systemd's STATE_DIRECTORY away, so that the defaults of
/// state and lake land in the test's own directory, never the real home.
pub fn in_home<'c>(
    cmd: &'c mut Command,
    home: &Path,
    state: &Path,
    data: &Path,
) -> &'c mut Command {
    cmd.env("HOME", home)
        .env("XDG_STATE_HOME", state)
        .env("XDG_DATA_HOME", data)
        .env_remove("STATE_DIRECTORY")
}

// --- Logs as a web server writes them and logrotate rotates them ----------------------

/// Appends `text` to the log `path` (created if missing), as a web server does.
pub fn append_log(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Rotates `log` to `to` as logrotate does by default: a rename, then a new empty `log`.
pub fn rotate_by_rename(log: &Path, to: &Path) {
    std::fs::rename(log, to).unwrap();
    std::fs::File::create(log).unwrap();
}

/// Rotates `log` to `to` as logrotate's `copytruncate` does: a copy, then `log` cut to
/// nothing in place (the writer's file stays the same).
pub fn rotate_by_copytruncate(log: &Path, to: &Path) {
    std::fs::copy(log, to).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(log)
        .unwrap();
}

// --- Processes -------------------------------------------------------------------------

/// Stops `child` the way a service manager does (SIGTERM).
pub fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// The exit status of `child` once it ends within `limit`; None when it still runs then.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if t.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exit status of `child` once it ends within `limit`; otherwise it is killed and the
/// test fails, naming it `what`.
pub fn wait_or_kill(child: &mut Child, what: &str, limit: Duration) -> ExitStatus {
    wait_timeout(child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not stop within {limit:?}")
    })
}

/// SIGTERM, then the exit status within `limit`; otherwise it is killed and the test fails,
/// naming it `what`.
pub fn terminate(child: &mut Child, what: &str, limit: Duration) -> ExitStatus {
    sigterm(child);
    wait_timeout(child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not stop within {limit:?} of SIGTERM")
    })
}

/// `hitstream` under an open-file limit of `nofile` (soft and hard, set by the shell that
/// then execs it, as a service manager would); arguments follow.
pub fn bin_under_nofile(nofile: u64) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")])
        .arg(bin());
    c
}

/// The lines of the child's piped stderr, read on a thread so that the child never blocks
/// on a full pipe.
pub fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    rx
}

/// A child killed (SIGKILL) when dropped while it runs, so that a failed assertion leaves
/// no process behind.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    pub fn kill_9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill_9();
        }
    }
}

/// xorshift64: a reproducible schedule (of kills, of writes) from a seed.
pub struct XorShift(pub u64);

impl XorShift {
    /// A generator of `seed` whose first few outputs are already spent, so that near seeds
    /// (0, 1, 2...) give schedules far apart.
    pub fn new(seed: u64) -> XorShift {
        let mut x =
            XorShift(0x9e37_79b9_7f4a_7c15 ^ (seed + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
        for _ in 0..4 {
            x.next();
        }
        x
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Polls until `probe` holds, or fails with what it last saw.
pub fn wait_until(what: &str, limit: Duration, mut probe: impl FnMut() -> (bool, String)) {
    let t = Instant::now();
    loop {
        let (done, seen) = probe();
        if done {
            return;
        }
        assert!(
            t.elapsed() < limit,
            "{what}: not within {limit:?}; last seen {seen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until something listens on the loopback `port` (at most 20 s).
pub fn wait_for_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// --- The dashboard ---------------------------------------------------------------------

/// A `hitstream` serving the dashboard: its address, from its `dashboard: http://ADDR/`
/// line, and its stderr, read on a thread, for failure messages. Killed when dropped.
pub struct Dashboard {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Dashboard {
    /// `hitstream ARGS`, with no input.
    pub fn start(args: &[&str]) -> Dashboard {
        Dashboard::spawn(Command::new(bin()).args(args).stdin(Stdio::null()))
    }

    /// Started from a prepared command (its stdin set by the caller); waits up to 60 s for
    /// the dashboard's address.
    pub fn spawn(cmd: &mut Command) -> Dashboard {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let rx = stderr_lines(&mut child);
        let t = Instant::now();
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(l) => {
                    let a = l
                        .split("dashboard: http://")
                        .nth(1)
                        .map(|u| u.split(['/', ' ']).next().unwrap().parse().unwrap());
                    seen.push(l);
                    if let Some(a) = a {
                        break a;
                    }
                }
                Err(_) => {
                    if let Some(s) = child.try_wait().unwrap() {
                        panic!("hitstream exited ({s}) before serving: {}", seen.join("\n"));
                    }
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no dashboard URL: {}",
                seen.join("\n")
            );
        };
        Dashboard {
            child,
            addr,
            stderr: rx,
            seen,
        }
    }

    /// All it wrote on stderr so far.
    pub fn stderr(&mut self) -> String {
        self.seen.extend(self.stderr.try_iter());
        self.seen.join("\n")
    }

    /// SIGTERM, then its exit status (within `limit`) and stderr.
    pub fn stop(mut self, limit: Duration) -> (ExitStatus, String) {
        let status = terminate(&mut self.child, "hitstream", limit);
        (status, self.stderr())
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 GET of `path` on `addr`, with `Host: host` and `headers` (the server closes
/// the connection after the body), waiting up to `wait` for the answer: its status and
/// body. Fails the test when the answer is not HTTP.
pub fn http_get_as(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    wait: Duration,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response to {path}: {resp:?}"));
    let body = resp
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// [`http_get_as`] with the address as the host, waiting up to 30 s.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_get_as(
        addr,
        &addr.to_string(),
        path,
        headers,
        Duration::from_secs(30),
    )
}

/// The body of a `200 OK` to `GET path` on the loopback `port`.
pub fn http_get_ok(port: u16, path: &str) -> String {
    let (status, body) = http_get(SocketAddr::from(([127, 0, 0, 1], port)), path, &[]);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

// --- The lake --------------------------------------------------------------------------

/// `hitstream sql --output FMT` over `lake`: what it printed.
pub fn sql_as(lake: &Path, q: &str, fmt: &str) -> String {
    ok(Command::new(bin())
        .args(["sql", "--output", fmt, "--data"])
        .arg(lake)
        .arg(q)
        .output()
        .unwrap())
}

/// `hitstream sql -o json` over `lake`: the rows.
pub fn sql_json(lake: &Path, q: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&sql_as(lake, q, "json")).unwrap()
}

/// The first value of the first row.
pub fn first_value(rows: &[serde_json::Value]) -> &serde_json::Value {
    rows[0].as_object().unwrap().values().next().unwrap()
}

/// The first value of the first row, as a number (0 when it is null).
pub fn first_u64(rows: &[serde_json::Value]) -> u64 {
    first_value(rows).as_u64().unwrap_or(0)
}

/// `hitstream analyze -q -o json --format FORMAT FILE`: the report.
pub fn analyze_report(file: &Path, format: &str) -> serde_json::Value {
    let out = ok(Command::new(bin())
        .args(["analyze", "-q", "-o", "json", "--format", format])
        .arg(file)
        .output()
        .unwrap());
    serde_json::from_str(&out).unwrap()
}

/// `hitstream sql -o csv` over `lake`: the rows after the header, or the error.
pub fn sql_rows(lake: &Path, q: &str) -> Result<Vec<String>, String> {
    let o = Command::new(bin())
        .args(["sql", "-o", "csv", "--data"])
        .arg(lake)
        .arg(q)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(format!(
            "sql {q:?} failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect())
}

/// Checks that `requests` holds each of the lines numbered 0..lines (their path
/// `/item/N`) exactly once: a summary of what it holds, or of what differs.
pub fn check_item_requests(lake: &Path, lines: u64) -> Result<String, String> {
    let rows = sql_rows(lake, "SELECT path FROM requests")?;
    let mut seen = vec![0u32; lines as usize];
    let mut unexpected = Vec::new();
    for p in &rows {
        match p
            .strip_prefix("/item/")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n < seen.len() => seen[n] += 1,
            _ => unexpected.push(p.clone()),
        }
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&n| seen[n] == 0).collect();
    let doubled: Vec<usize> = (0..seen.len()).filter(|&n| seen[n] > 1).collect();
    let extra: u64 = doubled.iter().map(|&n| u64::from(seen[n] - 1)).sum();
    let summary = format!(
        "{} rows for {lines} lines: missing {} (first {}), doubled {} (first {}, {extra} extra \
         rows), unexpected paths {}{}",
        rows.len(),
        missing.len(),
        missing.first().map_or("-".to_string(), usize::to_string),
        doubled.len(),
        doubled.first().map_or("-".to_string(), usize::to_string),
        unexpected.len(),
        unexpected
            .first()
            .map_or(String::new(), |p| format!(" (first {p:?})"))
    );
    if missing.is_empty() && doubled.is_empty() && unexpected.is_empty() {
        Ok(summary)
    } else {
        Err(format!("requests: {summary}"))
    }
}

// --- Time ------------------------------------------------------------------------------

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC date (year, month, day) of a Unix time, by Howard Hinnant's `civil_from_days`:
/// independent of the code under test.
pub fn civil(t: i64) -> (i64, u32, u32) {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m as u32, d as u32)
}

/// `YYYY-MM-DD` of a Unix time, UTC.
pub fn ymd(t: i64) -> String {
    let (y, m, d) = civil(t);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` (the common log format's time) of a Unix time, UTC.
pub fn clf_time(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(t);
    let secs = t.rem_euclid(86_400);
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[m as usize - 1],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// --- Kafka -----------------------------------------------------------------------------

/// The tansu broker: `HITSTREAM_TANSU` (scripts/test sets it), else cargo's bin directory,
/// else the PATH.
pub fn tansu() -> PathBuf {
    if let Some(p) = std::env::var_os("HITSTREAM_TANSU") {
        return p.into();
    }
    let cargo = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cargo/bin/tansu");
    if cargo.exists() {
        return cargo;
    }
    "tansu".into()
}

/// A tansu broker on a free loopback port, with memory storage, or storage in an S3 bucket
/// (on the S3 emulator that scripts/test starts) to keep the messages across a restart.
/// (tansu's SQLite storage stopped serving fetches under these tests: `run` read 0 of
/// 30,000 shipped lines in 120 s, or stalled at 2,777 while shipping.) Killed when dropped.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
    /// The S3 endpoint and bucket of the storage; None: memory.
    s3: Option<(String, String)>,
}

impl Broker {
    /// A broker with memory storage, its log in `dir/tansu.log`.
    pub fn start(dir: &Path) -> Broker {
        let mut b = Broker::not_started(dir);
        b.spawn();
        b
    }

    /// A broker with memory storage on a port of its own, not started yet ([`Broker::spawn`]).
    pub fn not_started(dir: &Path) -> Broker {
        Broker {
            child: None,
            port: free_port(),
            log: dir.join("tansu.log"),
            s3: None,
        }
    }

    /// A broker whose messages outlive it: they are kept in a new bucket of the S3 emulator
    /// that scripts/test starts (`HITSTREAM_S3_ENDPOINT`).
    pub fn start_persistent(dir: &Path) -> Broker {
        let endpoint = std::env::var("HITSTREAM_S3_ENDPOINT").expect(
            "HITSTREAM_S3_ENDPOINT names the S3 emulator that keeps the broker's messages \
             (scripts/test starts one)",
        );
        let py = std::env::var("HITSTREAM_PYTHON").expect("scripts/test sets HITSTREAM_PYTHON");
        let bucket = format!("tansu-{}-{}", std::process::id(), free_port());
        create_s3_bucket(&py, &endpoint, &bucket);
        let mut b = Broker::not_started(dir);
        b.s3 = Some((endpoint, bucket));
        b.spawn();
        b
    }

    /// Starts (or starts again) the broker, and waits up to 30 s until it listens.
    pub fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(tansu());
        cmd.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ]);
        match &self.s3 {
            Some((endpoint, bucket)) => cmd
                .args(["--storage-engine", &format!("s3://{bucket}/")])
                .envs([
                    ("AWS_ENDPOINT", endpoint.as_str()),
                    ("AWS_ALLOW_HTTP", "true"),
                    ("AWS_ACCESS_KEY_ID", "test"),
                    ("AWS_SECRET_ACCESS_KEY", "test"),
                    ("AWS_DEFAULT_REGION", "us-east-1"),
                    ("AWS_REGION", "us-east-1"),
                ]),
            None => cmd.args(["--storage-engine", "memory://tansu/"]),
        };
        let child = cmd
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the broker `{}` ({e}): scripts/test installs it (cargo install tansu)",
                    tansu().display()
                )
            });
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the broker exited ({st}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the broker did not start: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`, for `--kafka`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `hitstream run` of the Kafka `topic` as consumer `group` into `lake`, to the topic's end
/// (common log format, no windows printed, no alerts).
pub fn kafka_run_cmd(broker: &str, topic: &str, group: &str, lake: &Path) -> Command {
    let mut c = Command::new(bin());
    c.args(["run", "--kafka", broker, "--topic", topic, "--group", group])
        .args([
            "--kafka-stop-at-end",
            "--format",
            "common",
            "--emit",
            "none",
            "--no-alerts",
        ])
        .args(["--checkpoint-interval", "1s", "--idle-timeout", "1h"])
        .arg("--data")
        .arg(lake);
    c
}

/// A number `"name":N` in a run's checkpoint file (a counter of the pipeline or a source's
/// state, read as text); None when absent.
pub fn checkpoint_number(file: &Path, name: &str) -> Option<u64> {
    let bytes = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let key = format!("\"{name}\":");
    let at = text.find(&key)?;
    Some(
        text[at + key.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap(),
    )
}

/// One Kafka test at a time in a test binary: each runs a broker, shippers and consumers,
/// and on 2 cores several at once starve the consumer-group heartbeats.
pub fn kafka_serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
