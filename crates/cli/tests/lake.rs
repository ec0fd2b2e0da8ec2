//! End-to-end tests of the lake: `run --data`, `analyze --store`, `sql`, `report daily`,
//! exactly-once across kill -9, and the tables read by independent Delta readers.
//! Expected numbers come from counting the log text itself, from `analyze`, or from a clean
//! run; never from the lake code under test.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{
    bin, clf_time, data, nasa_lines, nasa_text, ok, sigterm, sql_as as sql, sql_json, ymd, NASA,
};

/// Lines per local day, read from the `[dd/Mon/yyyy:` text of each line.
fn lines_per_day(text: &[u8]) -> BTreeMap<String, u64> {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut m = BTreeMap::new();
    for l in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let l = String::from_utf8_lossy(l);
        let i = l.find('[').expect("a timestamp");
        let (d, mon, y) = (&l[i + 1..i + 3], &l[i + 4..i + 7], &l[i + 8..i + 12]);
        let mo = months.iter().position(|x| *x == mon).unwrap() + 1;
        *m.entry(format!("{y}-{mo:02}-{d}")).or_default() += 1;
    }
    m
}

/// Lines per UTC day of a log written at -0400 (NASA's): four hours later than written.
fn lines_per_utc_day(text: &[u8]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let l = String::from_utf8_lossy(l);
        let i = l.find('[').expect("a timestamp");
        assert_eq!(&l[i + 22..i + 27], "-0400", "{l}");
        let (d, hh): (u32, u32) = (
            l[i + 1..i + 3].parse().unwrap(),
            l[i + 13..i + 15].parse().unwrap(),
        );
        assert_eq!(&l[i + 4..i + 12], "Jul/1995", "{l}");
        let d = if hh >= 20 { d + 1 } else { d };
        *m.entry(format!("1995-07-{d:02}")).or_default() += 1;
    }
    m
}

fn count(lake: &Path, q: &str) -> u64 {
    common::first_value(&sql_json(lake, q)).as_u64().unwrap()
}

/// Every table of a lake as sorted CSV: what "the same tables" means.
fn dump(lake: &Path) -> BTreeMap<&'static str, String> {
    [
        (
            "requests",
            "SELECT * FROM requests ORDER BY source, \"offset\"",
        ),
        (
            "windows",
            "SELECT * FROM windows ORDER BY window_start, revision, metric, key, value",
        ),
        (
            "alerts",
            "SELECT * FROM alerts ORDER BY window_start, revision, rule, key",
        ),
    ]
    .into_iter()
    .map(|(t, q)| (t, sql(lake, q, "csv")))
    .collect()
}

fn run_file(log: &Path, lake: &Path, extra: &[&str]) -> Child {
    Command::new(bin())
        .args(["run", "--window", "60s", "--emit", "none", "--threads", "2"])
        .args(extra)
        .arg("--file")
        .arg(log)
        .arg("--data")
        .arg(lake)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes the first `n` lines of the NASA log to `dir/nasa.log`: its path and text.
fn nasa_head(dir: &Path, n: usize) -> (PathBuf, Vec<u8>) {
    let text = nasa_lines(n);
    let log = dir.join("nasa.log");
    std::fs::write(&log, &text).unwrap();
    (log, text)
}

/// The endpoint (from `var`) of a storage emulator that scripts/test started, and the
/// Python that talks to it; `None` (the test is skipped, and says so) outside scripts/test.
fn emulator(var: &str, what: &str) -> Option<(String, String)> {
    let Ok(endpoint) = std::env::var(var) else {
        eprintln!("SKIPPED {what} test: {var} is not set (scripts/test starts a server)");
        return None;
    };
    let py = std::env::var("HITSTREAM_PYTHON").expect("scripts/test sets HITSTREAM_PYTHON too");
    Some((endpoint, py))
}

/// Lets a following run work for `after`, stops it with SIGTERM, and returns its stderr.
fn stop_after(mut c: Child, after: Duration) -> String {
    std::thread::sleep(after);
    sigterm(&c);
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    c.wait().unwrap();
    err
}

fn wait_ok(mut c: Child, limit: Duration) -> String {
    let t = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            let mut err = String::new();
            c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            assert!(s.success(), "hitstream run failed: {err}");
            return err;
        }
        if t.elapsed() > limit {
            let _ = c.kill();
            panic!("hitstream run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Requests of the windows that start within a local day (UTC-4 for NASA), latest revision
/// of each window.
fn window_requests_of_day(lake: &Path, day: &str) -> u64 {
    count(
        lake,
        &format!(
            "WITH last AS (SELECT window_start, max(revision) AS r FROM windows \
             WHERE metric = 'requests' GROUP BY window_start) \
             SELECT sum(w.value) AS n FROM windows w JOIN last l \
             ON w.window_start = l.window_start AND w.revision = l.r \
             WHERE w.metric = 'requests' \
             AND w.window_start >= TIMESTAMP '{day}T00:00:00Z' \
             AND w.window_start < TIMESTAMP '{day}T00:00:00Z' + INTERVAL '1 day'"
        ),
    )
}

#[test]
fn run_stores_rows_and_windows_and_the_daily_report_matches_analyze() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let err = wait_ok(run_file(&data(NASA), &lake, &[]), Duration::from_secs(300));
    assert!(err.contains("200000 lines"), "{err}");

    // Rows per day equal a count of the log text.
    let want = lines_per_day(&nasa_text());
    let got: BTreeMap<String, u64> = sql_json(
        &lake,
        "SELECT day, count(*) AS n FROM requests GROUP BY day ORDER BY day",
    )
    .iter()
    .map(|r| {
        (
            r["day"].as_str().unwrap().to_string(),
            r["n"].as_u64().unwrap(),
        )
    })
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        count(
            &lake,
            "SELECT sum(value) FROM windows WHERE metric = 'requests'"
        ),
        200_000
    );

    // `day` filters read only that day's files (partition pruning).
    let plan = sql(
        &lake,
        "EXPLAIN ANALYZE SELECT count(*) FROM requests WHERE day = '1995-07-02' AND status = 404",
        "csv",
    );
    assert!(plan.contains("day=1995-07-02"), "{plan}");
    assert!(!plan.contains("day=1995-07-01"), "{plan}");

    // The daily report from the lake = analyze of the same day = the streaming windows.
    let day = "1995-07-02";
    let rep: Value = serde_json::from_str(&ok(Command::new(bin())
        .args([
            "report", "daily", "--date", day, "--top", "10", "-o", "json", "--data",
        ])
        .arg(&lake)
        .output()
        .unwrap()))
    .unwrap();
    let ana: Value = serde_json::from_str(&ok(Command::new(bin())
        .args(["analyze", "-q", "-o", "json", "--from", day, "--to", day])
        .arg(data(NASA))
        .output()
        .unwrap()))
    .unwrap();
    let r = &rep["report"];
    for k in [
        "status",
        "status_classes",
        "methods",
        "protocols",
        "unique_hosts",
        "top_hosts",
        "top_endpoints",
        "top_error_endpoints",
        "daily",
        "hourly",
        "timeline",
        "not_found",
        "content_size",
        "no_status",
    ] {
        assert_eq!(r[k], ana[k], "{k}");
    }
    for k in ["requests", "bytes", "first", "last", "days"] {
        assert_eq!(r["totals"][k], ana["totals"][k], "totals.{k}");
    }
    // Both in UTC days, as the windows.
    let utc = lines_per_utc_day(&nasa_text());
    assert_eq!(r["totals"]["requests"].as_u64(), Some(utc[day]));
    assert_eq!(window_requests_of_day(&lake, day), utc[day]);
    // The seed's report: top pages by SQL, the same as analyze's top endpoints.
    let pages = rep["top_pages"].as_array().unwrap();
    assert_eq!(pages.len(), 10);
    for (p, e) in pages.iter().zip(ana["top_endpoints"].as_array().unwrap()) {
        assert_eq!(p["path"], e["endpoint"]);
        assert_eq!(p["requests"], e["requests"]);
    }
    // And it was appended to `reports`.
    assert_eq!(
        count(
            &lake,
            &format!("SELECT count(*) FROM reports WHERE report_date = '{day}'")
        ),
        1
    );
    let csv = sql(&lake, "SELECT report_date, requests FROM reports", "csv");
    assert_eq!(csv, format!("report_date,requests\n{day},{}\n", utc[day]));

    interop(&lake, &want);
}

/// The tables read by other Delta implementations (PyPI deltalake and DuckDB's delta
/// extension), when scripts/test has set up their Python environment.
fn interop(lake: &Path, want: &BTreeMap<String, u64>) {
    let Ok(py) = std::env::var("HITSTREAM_PYTHON") else {
        eprintln!("SKIPPED interop check: HITSTREAM_PYTHON is not set (scripts/test sets it)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/interop_check.py");
    let out = ok(Command::new(py).arg(script).arg(lake).output().unwrap());
    let v: Value = serde_json::from_str(&out).unwrap();
    for reader in ["deltalake", "duckdb"] {
        let per_day: BTreeMap<String, u64> = v[reader]["requests_per_day"]
            .as_object()
            .unwrap_or_else(|| panic!("{reader}: {out}"))
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect();
        assert_eq!(&per_day, want, "{reader}");
        assert_eq!(
            v[reader]["window_requests"].as_u64(),
            Some(200_000),
            "{reader}"
        );
    }
    assert_eq!(
        v["deltalake"]["partition_columns"],
        serde_json::json!(["day"])
    );
    assert!(v["deltalake"]["run_epoch"].as_u64().unwrap() >= 1);
    assert_eq!(
        v["duckdb"]["files_one_day"],
        v["deltalake"]["files_one_day"]
    );
}

#[test]
fn kill_9_at_random_moments_leaves_the_same_tables_as_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("nasa.log");
    std::fs::write(&log, nasa_text()).unwrap();
    let flags = ["--checkpoint-interval", "100ms"];

    let clean = tmp.path().join("clean");
    wait_ok(run_file(&log, &clean, &flags), Duration::from_secs(300));
    let want = dump(&clean);
    assert_eq!(
        want["requests"].lines().count(),
        200_001,
        "header + every line"
    );

    let lake = tmp.path().join("crashy");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut kills = 0;
    let mut repeats = 0;
    while kills < 20 {
        let mut c = {
            let mut cmd = Command::new(bin());
            cmd.args(["run", "--window", "60s", "--emit", "none", "--threads", "2"])
                .args(flags)
                .arg("--file")
                .arg(&log)
                .arg("--data")
                .arg(&lake)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 600));
        if c.try_wait().unwrap().is_some() {
            break;
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        let mut err = String::new();
        c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        repeats += err.matches("repeating epoch").count();
        kills += 1;
    }
    let err = wait_ok(run_file(&log, &lake, &flags), Duration::from_secs(300));
    eprintln!("{kills} kills, {repeats} epochs repeated after a crash");
    assert!(
        kills >= 10,
        "only {kills} kills before the run ended: make the input larger"
    );
    assert!(
        repeats >= 1,
        "no kill landed between an epoch's commits and its checkpoint"
    );
    let got = dump(&lake);
    for (t, csv) in &want {
        assert!(
            got[t] == *csv,
            "table {t} differs from the clean run after {kills} kills ({repeats} epochs repeated); \
             rows {} vs {}\n{err}",
            got[t].lines().count(),
            csv.lines().count()
        );
    }
}

#[test]
fn a_lake_written_by_another_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [01/Jul/1995:00:00:01 -0400] \"GET / HTTP/1.0\" 200 10\n",
    )
    .unwrap();
    let lake = tmp.path().join("lake");
    wait_ok(run_file(&log, &lake, &[]), Duration::from_secs(60));
    std::fs::remove_dir_all(lake.join("_checkpoint")).unwrap();
    let c = run_file(&log, &lake, &[]);
    let o = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("holds epoch") && err.contains("checkpoint"),
        "{err}"
    );
}

#[test]
fn analyze_store_loads_once_and_counts_match() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let log = data("apache-debian-rotated-2024");
    let files: Vec<PathBuf> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("access")
        })
        .collect();
    assert!(!files.is_empty());
    let load = || {
        Command::new(bin())
            .args(["analyze", "-o", "json", "--store", "--data"])
            .arg(&lake)
            .args(&files)
            .output()
            .unwrap()
    };
    let first = load();
    let report: Value = serde_json::from_str(&ok(first.clone())).unwrap();
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("stored"), "{err}");
    let parsed =
        report["totals"]["ok"].as_u64().unwrap() + report["totals"]["degraded"].as_u64().unwrap();
    assert!(parsed > 0);
    assert_eq!(count(&lake, "SELECT count(*) FROM requests"), parsed);
    let rejected = report["totals"]["rejected"].as_u64().unwrap();
    if rejected > 0 {
        assert_eq!(count(&lake, "SELECT count(*) FROM rejects"), rejected);
    }
    assert_eq!(
        count(&lake, "SELECT sum(bytes) FROM requests"),
        report["totals"]["bytes"].as_u64().unwrap()
    );

    // The same files again: nothing new.
    let second = load();
    let err = String::from_utf8_lossy(&second.stderr).to_string();
    ok(second);
    assert!(err.contains("already in the lake"), "{err}");
    assert_eq!(count(&lake, "SELECT count(*) FROM requests"), parsed);
}

#[test]
fn rejects_are_stored_with_reason_and_position_and_retention_drops_old_days() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.log");
    let mut text = String::new();
    for d in 1..=5 {
        text.push_str(&format!(
            "1.2.3.4 - - [0{d}/Jul/1995:10:00:00 -0400] \"GET /{d} HTTP/1.0\" 200 10\n"
        ));
    }
    let bad_at = text.len();
    text.push_str("this is not a log line\n");
    std::fs::write(&log, &text).unwrap();
    let cfg = tmp.path().join("lake.toml");
    std::fs::write(
        &cfg,
        "[lake]\noptimize_interval = \"1ms\"\nretention = \"2days\"\n",
    )
    .unwrap();
    let lake = tmp.path().join("lake");
    wait_ok(
        run_file(
            &log,
            &lake,
            &["--config", cfg.to_str().unwrap(), "--format", "common"],
        ),
        Duration::from_secs(60),
    );
    let rej = sql_json(
        &lake,
        "SELECT source, \"offset\", reason, line FROM rejects",
    );
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0]["offset"].as_u64(), Some(bad_at as u64));
    assert_eq!(rej[0]["line"], "this is not a log line");
    assert!(rej[0]["source"].as_str().unwrap().ends_with("a.log"));
    // The newest data is 1995-07-05 14:00 UTC: two days back keeps 07-03 onwards.
    let days: Vec<String> = sql_json(&lake, "SELECT DISTINCT day FROM requests ORDER BY day")
        .iter()
        .map(|r| r["day"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(days, ["1995-07-03", "1995-07-04", "1995-07-05"]);
}

#[test]
fn sql_errors_and_missing_lakes_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .args(["sql", "--data"])
        .arg(tmp.path().join("none"))
        .arg("SELECT 1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no lake at"));
    let lake = tmp.path().join("lake");
    let log = tmp.path().join("a.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [01/Jul/1995:00:00:01 -0400] \"GET / HTTP/1.0\" 200 10\n",
    )
    .unwrap();
    wait_ok(run_file(&log, &lake, &[]), Duration::from_secs(60));
    let o = Command::new(bin())
        .args(["sql", "--data"])
        .arg(&lake)
        .arg("SELECT nope FROM requests")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("error:") && err.contains("nope"), "{err}");
    let table = sql(&lake, "SELECT client, status FROM requests", "table");
    assert!(table.contains("| 1.2.3.4 | 200    |"), "{table}");
}

#[test]
fn run_makes_the_scheduled_daily_report() {
    let tmp = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The next whole minute (UTC), at least 5 s away.
    let due = (now + 5).div_ceil(60) * 60;
    let (h, m) = ((due / 3600) % 24, (due / 60) % 60);
    // The report covers the day the schedule fires in, which is tomorrow when the next
    // minute is past midnight.
    let day = ymd(due as i64);
    let log = tmp.path().join("a.log");
    let t = due - due % 86_400 + 1;
    let clf = clf_time(t as i64);
    std::fs::write(
        &log,
        format!("1.2.3.4 - - [{clf}] \"GET /today HTTP/1.0\" 200 10\n"),
    )
    .unwrap();
    let cfg = tmp.path().join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "[lake]\ndata = \"{}\"\n[report]\ndaily_at = \"{h:02}:{m:02}\"\ntz = \"UTC\"\n",
            tmp.path().join("lake").display()
        ),
    )
    .unwrap();
    let c = Command::new(bin())
        .args([
            "run",
            "--emit",
            "none",
            "--checkpoint-interval",
            "200ms",
            "--config",
        ])
        .arg(&cfg)
        .arg("--tail")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lake = tmp.path().join("lake");
    let limit = Instant::now() + Duration::from_secs(100);
    let mut found = 0;
    while Instant::now() < limit {
        std::thread::sleep(Duration::from_secs(2));
        if lake.join("reports").exists() {
            found = count(
                &lake,
                &format!(
                    "SELECT count(*) FROM reports WHERE report_date = '{day}' AND requests = 1"
                ),
            );
            if found > 0 {
                break;
            }
        }
    }
    let err = stop_after(c, Duration::ZERO);
    assert_eq!(found, 1, "no scheduled report for {day}: {err}");
    assert!(
        err.contains(&format!("daily report for {day}: 1 requests")),
        "{err}"
    );
}

/// Runs a Python snippet (the object-store tests create their bucket or container so).
fn python(py: &str, code: &str) {
    let made = Command::new(py).args(["-c", code]).output().unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// The binary with an object store's environment.
fn with_env(env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin());
    c.envs(env.iter().copied());
    c
}

/// The first value of a query's CSV result.
fn first_value(mut hs: Command, lake: &str, q: &str) -> String {
    let out = ok(hs
        .args(["sql", "-o", "csv", "--data", lake, q])
        .output()
        .unwrap());
    out.lines().nth(1).unwrap().to_string()
}

#[test]
fn a_lake_in_an_s3_bucket() {
    let Some((endpoint, py)) = emulator("HITSTREAM_S3_ENDPOINT", "s3") else {
        return;
    };
    let bucket = format!("hitstream-{}", std::process::id());
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    common::create_s3_bucket(&py, &endpoint, &bucket);

    let tmp = tempfile::tempdir().unwrap();
    let (log, head) = nasa_head(tmp.path(), 20_000);
    let url = format!("s3://{bucket}/lake");
    let hs = || with_env(&env);

    // The local checkpoint directory is required with an object store.
    let o = hs()
        .args(["run", "--emit", "none", "--file"])
        .arg(&log)
        .args(["--data", &url])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--checkpoint-dir"));

    ok(hs()
        .args(["run", "--emit", "none", "--window", "60s", "--file"])
        .arg(&log)
        .args(["--data", &url, "--checkpoint-dir"])
        .arg(tmp.path().join("ck"))
        .output()
        .unwrap());
    let q = |q: &str| first_value(hs(), &url, q);
    assert_eq!(q("SELECT count(*) FROM requests"), "20000");
    assert_eq!(
        q("SELECT sum(value) FROM windows WHERE metric = 'requests'"),
        "20000"
    );
    // `report daily` takes UTC days.
    let want = lines_per_utc_day(&head);
    let (day, n) = want.iter().next().unwrap();
    let rep: Value = serde_json::from_str(&ok(hs()
        .args([
            "report", "daily", "-o", "json", "--date", day, "--data", &url,
        ])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(rep["report"]["totals"]["requests"].as_u64(), Some(*n));
    assert_eq!(q("SELECT count(*) FROM reports"), "1");
}

#[test]
fn a_lake_in_an_azure_container() {
    let Some((endpoint, py)) = emulator("HITSTREAM_AZURITE_URL", "azure") else {
        return;
    };
    // The storage emulator's well-known development account.
    let account = "devstoreaccount1";
    let key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let container = format!("hitstream-{}", std::process::id());
    python(
        &py,
        &format!(
            "from azure.storage.blob import BlobServiceClient; \
             BlobServiceClient.from_connection_string('DefaultEndpointsProtocol=http;\
             AccountName={account};AccountKey={key};BlobEndpoint={endpoint}/{account};')\
             .create_container('{container}')"
        ),
    );

    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = nasa_head(tmp.path(), 10_000);
    let url = format!("az://{container}/lake");
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", endpoint.as_str()),
        ("AZURE_STORAGE_ACCOUNT_NAME", account),
        ("AZURE_STORAGE_ACCOUNT_KEY", key),
    ];
    let hs = || with_env(&env);
    ok(hs()
        .args(["run", "--emit", "none", "--window", "60s", "--file"])
        .arg(&log)
        .args(["--data", &url, "--checkpoint-dir"])
        .arg(tmp.path().join("ck"))
        .output()
        .unwrap());
    // Loading the same file into another path of the container, twice: stored once.
    for _ in 0..2 {
        ok(hs()
            .args(["analyze", "-q", "-o", "json", "--store", "--data"])
            .arg(format!("{url}2"))
            .arg(&log)
            .output()
            .unwrap());
    }
    for (lake, q, want) in [
        (&url, "SELECT count(*) FROM requests", "10000"),
        (
            &url,
            "SELECT sum(value) FROM windows WHERE metric = 'requests'",
            "10000",
        ),
        (&format!("{url}2"), "SELECT count(*) FROM requests", "10000"),
    ] {
        assert_eq!(first_value(hs(), lake, q), want, "{q} on {lake}");
    }
}
