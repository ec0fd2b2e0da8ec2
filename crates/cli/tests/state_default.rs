//! State that survives a restart without being asked for: `run` and `ship` keep it in the
//! per-user state directory (or systemd's `$STATE_DIRECTORY`), keyed by their sources; the
//! lake defaults to the per-user data directory, where `sql`, `report` and `serve` find it.
//!
//! Every command here runs with HOME, XDG_STATE_HOME and XDG_DATA_HOME pointed into the test's
//! own temporary directory (the platform's interface for where state goes), never the real
//! home, and from an empty working directory that must stay empty.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, data, free_port, in_home, stderr_of as stderr, terminate, Broker};

/// A temporary home: HOME, the XDG state and data directories, an empty working directory
/// and a log of the first `n` lines of the Elastic Apache log (one busy minute an hour).
struct Home {
    tmp: tempfile::TempDir,
}

const LOG: &str = "elastic-apache-logs-2015/apache_logs";

impl Home {
    fn new() -> Home {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["home", "state", "share", "cwd", "logs"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        Home { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// `hitstream ARGS` in this home.
    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path("cwd"));
        in_home(
            &mut c,
            &self.path("home"),
            &self.path("state"),
            &self.path("share"),
        );
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Nothing was written in the working directory.
    fn cwd_is_empty(&self) {
        let left: Vec<_> = std::fs::read_dir(self.path("cwd"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "written in the working directory: {left:?}"
        );
    }
}

/// Lines `from..to` of the log, as text.
fn lines(from: usize, to: usize) -> String {
    let text = std::fs::read_to_string(data(LOG)).unwrap();
    text.lines()
        .skip(from)
        .take(to - from)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Distinct minutes (`17/May/2015:10:05`) of the lines: the 60 s windows they fill, counted
/// from the text, not by hitstream.
fn minutes(text: &str) -> usize {
    let mut m: Vec<&str> = text
        .lines()
        .map(|l| {
            let t = &l[l.find('[').unwrap() + 1..];
            &t[..17]
        })
        .collect();
    m.sort_unstable();
    m.dedup();
    m.len()
}

/// Distinct window starts in JSON lines.
fn window_starts(jsonl: &str) -> usize {
    let mut s: Vec<i64> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["window_start"].as_i64().unwrap()
        })
        .collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// The path of the `state: PATH (...)` line.
fn state_line(err: &str) -> PathBuf {
    let l = err
        .lines()
        .find_map(|l| l.strip_prefix("state: "))
        .unwrap_or_else(|| panic!("no `state:` line: {err}"));
    PathBuf::from(l.split(" (").next().unwrap())
}

#[test]
fn file_runs_in_a_row_read_each_line_once() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    let first = lines(0, 2000);
    std::fs::write(&log, &first).unwrap();
    let log_s = log.to_str().unwrap();
    let args = [
        "run",
        "--file",
        log_s,
        "--format",
        "combined",
        "--no-alerts",
        "--emit",
        "jsonl",
    ];

    let o = h.run(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let dir = state_line(&err);
    assert!(
        dir.starts_with(h.path("state/hitstream/run")),
        "{}: {err}",
        dir.display()
    );
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("access.log-"),
        "{err}"
    );
    assert!(dir.join("sources.txt").is_file());
    assert!(err.contains("hitstream run: 2000 lines ("), "{err}");
    assert_eq!(
        window_starts(&String::from_utf8_lossy(&o.stdout)),
        minutes(&first)
    );

    // Again: nothing new, no window, and the way to read it all again.
    let o = h.run(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(state_line(&err), dir);
    assert_eq!(
        window_starts(&String::from_utf8_lossy(&o.stdout)),
        0,
        "{err}"
    );
    assert!(err.contains("hitstream run: 0 lines ("), "{err}");
    let all = format!(
        "in this run; 2000 lines, {} windows, 0 alerts in all",
        minutes(&first)
    );
    assert!(err.contains(&all), "{err}");
    assert!(err.contains("nothing new since "), "{err}");
    assert!(err.contains("use --no-state to read again"), "{err}");

    // Lines appended since: only they are read.
    let more = lines(2000, 2300);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(more.as_bytes())
        .unwrap();
    let o = h.run(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("hitstream run: 300 lines ("), "{err}");
    assert!(!err.contains("nothing new"), "{err}");

    // --no-state reads everything again and keeps nothing.
    let mut throwaway = args.to_vec();
    throwaway.push("--no-state");
    let o = h.run(&throwaway);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("state: none (--no-state"), "{err}");
    assert!(err.contains("hitstream run: 2300 lines ("), "{err}");
    assert_eq!(
        window_starts(&String::from_utf8_lossy(&o.stdout)),
        minutes(&format!("{first}{more}"))
    );
    assert_eq!(
        std::fs::read_dir(h.path("state/hitstream/run"))
            .unwrap()
            .count(),
        1,
        "--no-state made a state directory"
    );
    h.cwd_is_empty();
}

/// `run --tail`, stopped with SIGTERM and started again, goes on where it stopped: the
/// second run emits no window and says it read nothing new.
#[test]
fn tail_runs_in_a_row_read_each_line_once() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    let text = lines(0, 1000);
    std::fs::write(&log, &text).unwrap();
    let expected = minutes(&text);
    let tail = |out: &Path| {
        h.cmd()
            .args([
                "run",
                "--tail",
                log.to_str().unwrap(),
                "--format",
                "combined",
            ])
            .args(["--no-alerts", "--emit", "none", "--idle-timeout", "500ms"])
            .args(["--checkpoint-interval", "200ms", "--jsonl"])
            .arg(out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let stop = |mut c: std::process::Child| {
        terminate(&mut c, "run", Duration::from_secs(30));
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };

    let out1 = h.path("one.jsonl");
    let c = tail(&out1);
    // Every window closes once the source is idle (the watermark follows the clock).
    let t = Instant::now();
    while window_starts(&std::fs::read_to_string(&out1).unwrap_or_default()) < expected {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "windows never closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = stop(c);
    let dir = state_line(&err);
    assert!(dir.starts_with(h.path("state/hitstream/run")), "{err}");
    assert!(err.contains("hitstream run: 1000 lines ("), "{err}");

    let out2 = h.path("two.jsonl");
    let c = tail(&out2);
    std::thread::sleep(Duration::from_millis(1500));
    let err = stop(c);
    assert_eq!(state_line(&err), dir);
    assert_eq!(
        window_starts(&std::fs::read_to_string(&out2).unwrap_or_default()),
        0,
        "windows came out twice: {err}"
    );
    assert!(err.contains("hitstream run: 0 lines ("), "{err}");
    assert!(err.contains("nothing new since "), "{err}");
    h.cwd_is_empty();
}

/// Two files of the same name in two directories have two states; the same file named from
/// another directory, relatively, has the same one.
#[test]
fn state_is_keyed_by_the_sources() {
    let h = Home::new();
    for d in ["logs/a", "logs/b"] {
        std::fs::create_dir_all(h.path(d)).unwrap();
        std::fs::write(h.path(d).join("access.log"), lines(0, 10)).unwrap();
    }
    let run = |cwd: &Path, path: &str| {
        let o = h
            .cmd()
            .current_dir(cwd)
            .args([
                "run", "--format", "combined", "--emit", "none", "--file", path,
            ])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        (state_line(&err), err)
    };
    let (a, _) = run(
        &h.path("cwd"),
        h.path("logs/a/access.log").to_str().unwrap(),
    );
    let (b, err_b) = run(
        &h.path("cwd"),
        h.path("logs/b/access.log").to_str().unwrap(),
    );
    assert_ne!(a, b);
    assert!(err_b.contains("hitstream run: 10 lines ("), "{err_b}");
    let (a2, err) = run(&h.path("logs"), "a/../a/access.log");
    assert_eq!(a, a2);
    assert!(err.contains("nothing new since "), "{err}");
    // --tail of the same file is another source than --file.
    let mut c = h
        .cmd()
        .args(["run", "--format", "combined", "--emit", "none", "--tail"])
        .arg(h.path("logs/a/access.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut r = BufReader::new(c.stderr.take().unwrap());
    while !said.contains("state: ") {
        if r.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    let _ = c.kill();
    let _ = c.wait();
    assert_ne!(state_line(&said), a);
    h.cwd_is_empty();
}

/// With systemd's `StateDirectory=`, `$STATE_DIRECTORY` holds the state and the lake.
#[test]
fn state_directory_of_a_service_comes_first() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 50)).unwrap();
    let svc = h.path("var-lib-hitstream");
    std::fs::create_dir_all(&svc).unwrap();
    let o = h
        .cmd()
        .env("STATE_DIRECTORY", &svc)
        .args(["run", "--format", "combined", "--emit", "none", "--file"])
        .arg(&log)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(state_line(&err).starts_with(svc.join("run")), "{err}");
    let o = h
        .cmd()
        .env("STATE_DIRECTORY", &svc)
        .args([
            "run", "--format", "combined", "--emit", "none", "--store", "--file",
        ])
        .arg(&log)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let lake = svc.join("lake");
    assert!(err.contains(&format!("lake: {}", lake.display())), "{err}");
    assert!(lake.is_dir(), "{err}");
    // A lake keeps its state beside its tables.
    assert_eq!(state_line(&err), lake.join("_checkpoint"), "{err}");
    assert!(!h.path("state/hitstream").exists());
    h.cwd_is_empty();
}

/// `run --store` writes the default lake; `analyze --store`, `sql`, `report` and `serve`
/// find the same one without --data.
#[test]
fn every_command_finds_the_default_lake() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 500)).unwrap();
    let lake = h.path("share/hitstream/lake");
    let o = h.run(&[
        "run",
        "--format",
        "combined",
        "--emit",
        "none",
        "--store",
        "--file",
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("lake: {}", lake.display())), "{err}");

    let other = h.path("logs/other.log");
    std::fs::write(&other, lines(500, 600)).unwrap();
    let o = h.run(&[
        "analyze",
        "--format",
        "combined",
        "--store",
        other.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("lake: {}", lake.display())), "{err}");

    let o = h.run(&["sql", "-o", "csv", "SELECT count(*) AS n FROM requests"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("lake: {}", lake.display())), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n600");

    let o = h.run(&["report", "daily", "--date", "2015-05-17", "--no-save"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("from the lake at {}", lake.display())),
        "{out}"
    );

    let port = free_port();
    let mut c = h
        .cmd()
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut r = BufReader::new(c.stderr.take().unwrap());
    while !said.contains("dashboard:") {
        if r.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    let _ = c.kill();
    let _ = c.wait();
    assert!(
        said.contains(&format!("lake: {}", lake.display())),
        "{said}"
    );
    assert!(
        said.contains(&format!("the lake at {}", lake.display())),
        "{said}"
    );
    h.cwd_is_empty();
}

/// A reader with no lake anywhere says where it looked.
#[test]
fn sql_without_a_lake_names_the_default() {
    let h = Home::new();
    let o = h.run(&["sql", "SELECT 1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "no lake at `{}`",
            h.path("share/hitstream/lake").display()
        )),
        "{err}"
    );
}

/// `ship` keeps its positions in the state directory, keyed by source and topic.
#[test]
fn ship_state_is_not_in_the_working_directory() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 10)).unwrap();
    // No broker answers there: ship says where its state lives, then waits for one.
    let mut c = h
        .cmd()
        .args(["ship", "--kafka", &format!("127.0.0.1:{}", free_port())])
        .args(["--topic", "weblogs", "--tail"])
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut r = BufReader::new(c.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("state: ") {
        if r.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    let _ = c.kill();
    let _ = c.wait();
    let dir = state_line(&said);
    assert!(dir.starts_with(h.path("state/hitstream/ship")), "{said}");
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("access.log+weblogs-"), "{name}");
    assert!(dir.is_dir());
    h.cwd_is_empty();
}

/// Without HOME or an XDG directory there is no default place: a clear error, not a write
/// into the working directory.
#[test]
fn no_home_is_a_clear_error() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 10)).unwrap();
    let o = h
        .cmd()
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .args(["run", "--format", "combined", "--emit", "none", "--file"])
        .arg(&log)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no place for state"), "{err}");
    assert!(err.contains("--no-state"), "{err}");
    h.cwd_is_empty();
}

/// State made with other window settings is refused with the way out named.
#[test]
fn other_window_settings_name_the_state_and_the_way_out() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 10)).unwrap();
    let run = |window: &str| {
        h.cmd()
            .args([
                "run", "--format", "combined", "--emit", "none", "--window", window,
            ])
            .arg("--file")
            .arg(&log)
            .output()
            .unwrap()
    };
    assert!(run("60s").status.success());
    let o = run("5m");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot go on from the state in "), "{err}");
    assert!(err.contains("--no-state"), "{err}");
}

/// --no-state cannot apply to a lake: a usage error.
#[test]
fn no_state_with_a_lake_is_a_usage_error() {
    let h = Home::new();
    let o = h.run(&["run", "--file", "x.log", "--store", "--no-state"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `ship --file` twice in a row ships each line once; `--no-state` ships them all again.
#[test]
fn ship_runs_in_a_row_ship_each_line_once() {
    let h = Home::new();
    let broker = Broker::start(h.tmp.path());
    let addr = format!("127.0.0.1:{}", broker.port);
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 200)).unwrap();
    let ship = |extra: &[&str]| {
        let o = h
            .cmd()
            .args(["ship", "--kafka", &addr, "--topic", "weblogs"])
            .args(["--create-topic", "--partitions", "1", "--file"])
            .arg(&log)
            .args(extra)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        err
    };
    let err = ship(&[]);
    let dir = state_line(&err);
    assert!(dir.starts_with(h.path("state/hitstream/ship")), "{err}");
    assert!(dir.join("positions.json").is_file(), "{err}");
    assert!(err.contains("ship: 200 lines read, 200 delivered"), "{err}");
    let err = ship(&[]);
    assert_eq!(state_line(&err), dir);
    assert!(err.contains("ship: 0 lines read, 0 delivered"), "{err}");
    let err = ship(&["--no-state"]);
    assert!(err.contains("state: none (--no-state"), "{err}");
    assert!(err.contains("ship: 200 lines read, 200 delivered"), "{err}");
    h.cwd_is_empty();
}

/// Two runs of the same sources at once: the second is refused, told why, and not told to
/// remove the state the first one uses.
#[test]
fn a_second_run_of_the_same_sources_at_once_is_refused() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    std::fs::write(&log, lines(0, 10)).unwrap();
    let mut first = h
        .cmd()
        .args(["run", "--format", "combined", "--emit", "none", "--tail"])
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut r = BufReader::new(first.stderr.take().unwrap());
    let mut said = String::new();
    // Its lock is taken once the pipeline starts, before it names its sources.
    while !said.contains("hitstream run: tail") {
        if r.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    let o = h
        .cmd()
        .args(["run", "--format", "combined", "--emit", "none", "--tail"])
        .arg(&log)
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another run follows the same sources: stop it, or give --no-state"),
        "{err}"
    );
    assert!(!err.contains("remove that directory"), "{err}");
}

/// A first run that fails on its input (the wrong format, under --strict) keeps no state:
/// the run with the right format reads the same lines.
#[test]
fn a_failed_first_run_keeps_no_state() {
    let h = Home::new();
    let log = h.path("logs/access.log");
    // Common-format lines (NASA), read as combined: every line lacks the last two fields.
    let text = String::from_utf8(common::nasa_text()[..200_000].to_vec()).unwrap();
    let text = &text[..=text.rfind('\n').unwrap()];
    let n = text.lines().count();
    std::fs::write(&log, text).unwrap();
    let run = |format: &str| {
        h.cmd()
            .args([
                "run",
                "--emit",
                "none",
                "--no-alerts",
                "--strict",
                "--format",
                format,
            ])
            .arg("--file")
            .arg(&log)
            .output()
            .unwrap()
    };
    let o = run("combined");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let dir = state_line(&err);
    assert!(err.contains("removed (this first run failed"), "{err}");
    assert!(!dir.exists(), "{err}");
    let o = run("common");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(state_line(&err), dir);
    assert!(
        err.contains(&format!("hitstream run: {n} lines (")),
        "{err}"
    );
}
