//! A user's report as a test: `run --tail 'DIR/app.log*'` over 5,000 rotated files died
//! with `Too many open files` under the usual open-file limit of 1,024, since every matched
//! file stayed open. Here 5,000 small files and a live file that is written and rotated by
//! rename are followed under `ulimit -n 1024`, the run is killed with SIGKILL at random
//! moments and started again, and every line must be in the lake exactly once.
//!
//! Expected numbers come from what the test wrote, never from hitstream's output.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    append_log, bin, bin_under_nofile, check_item_requests, rotate_by_rename, sql_rows, KillOnDrop,
    XorShift,
};

/// Rotated files present before the first start.
const FILES: u64 = 5_000;
/// Lines in each of them.
const PER_FILE: u64 = 2;
/// Lines the live file gets while the runs are killed, in chunks, rotated every
/// [`ROTATE_EVERY`] lines.
const LIVE: u64 = 3_000;
const CHUNK: u64 = 50;
const ROTATE_EVERY: u64 = 1_000;
/// Kills with SIGKILL, each 1-3 s after a start.
const KILLS: usize = 4;

/// Line `n`: its request is `GET /item/<n> HTTP/1.1`. All in one minute, so that the
/// order files are read in does not matter to the windows.
fn log_line(n: u64) -> String {
    format!(
        "10.{}.{}.{} - - [01/Jan/2025:10:00:{:02} +0000] \"GET /item/{n} HTTP/1.1\" 200 {} \
         \"-\" \"many-files/1.0\"\n",
        n % 200,
        n / 200 % 200,
        n % 7 + 1,
        n % 60,
        100 + n % 900
    )
}

fn lines(from: u64, to: u64) -> String {
    (from..to).map(log_line).collect()
}

/// `hitstream run` under an open-file limit of 1,024, as a service usually gets.
fn start_run(logs: &Path, lake: &Path, err: &Path) -> KillOnDrop {
    let pattern = logs.join("app.log*").to_str().unwrap().to_string();
    let child = bin_under_nofile(1024)
        .args(["run", "--tail", &pattern])
        .arg("--data")
        .arg(lake)
        .args(["--checkpoint-interval", "1s", "--format", "combined"])
        .args(["--lateness", "0s", "--idle-timeout", "1s"])
        .args(["--emit", "none", "--no-alerts"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(err).unwrap())
        .spawn()
        .unwrap();
    KillOnDrop(child)
}

fn stored(lake: &Path) -> Option<u64> {
    sql_rows(lake, "SELECT count(*) FROM requests")
        .ok()?
        .first()?
        .parse()
        .ok()
}

/// Lines of the runs' stderr that report a problem.
fn stderr_problems(errs: &[PathBuf]) -> Vec<String> {
    errs.iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .filter(|l| {
                    let l = l.to_ascii_lowercase();
                    l.contains("error") || l.contains("open files") || l.contains("panic")
                })
                .map(|l| format!("{}: {l}", p.display()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn five_thousand_files_under_a_limit_of_1024_with_rotation_and_kills() {
    let t0 = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("hitstream-many-files-")
        .tempdir()
        .unwrap();
    let logs = tmp.path().join("logs");
    let lake = tmp.path().join("lake");
    std::fs::create_dir(&logs).unwrap();
    for f in 0..FILES {
        let from = f * PER_FILE;
        std::fs::write(
            logs.join(format!("app.log.{f:05}")),
            lines(from, from + PER_FILE),
        )
        .unwrap();
    }
    let live = logs.join("app.log");
    File::create(&live).unwrap();
    let first_live = FILES * PER_FILE;
    let total = first_live + LIVE;

    // The live file: written in chunks while the runs are killed, rotated by rename.
    let writer = {
        let logs = logs.clone();
        std::thread::spawn(move || {
            let live = logs.join("app.log");
            let mut n = first_live;
            let mut k = 0;
            while n < total {
                let end = (n + CHUNK).min(total);
                append_log(&live, &lines(n, end));
                n = end;
                if (n - first_live).is_multiple_of(ROTATE_EVERY) && n < total {
                    k += 1;
                    rotate_by_rename(&live, &logs.join(format!("app.log.r{k}")));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut errs = Vec::new();
    let err_of = |i: usize| tmp.path().join(format!("run-{i:02}.stderr"));
    for i in 0..KILLS {
        errs.push(err_of(i));
        let mut run = start_run(&logs, &lake, &errs[i]);
        std::thread::sleep(Duration::from_millis(1000 + rng.next() % 2001));
        let ended = run.0.try_wait().unwrap();
        run.kill_9();
        assert!(
            ended.is_none(),
            "run {i} ended by itself ({ended:?}):\n{}",
            stderr_problems(&errs).join("\n")
        );
    }
    writer.join().unwrap();

    // The last run: until every line is stored (or nothing changes for 15 s).
    errs.push(err_of(KILLS));
    let mut run = start_run(&logs, &lake, &errs[KILLS]);
    let mut last = None;
    let mut last_change = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = stored(&lake);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if last.is_some_and(|n| n >= total)
            || last_change.elapsed() > Duration::from_secs(15)
            || !matches!(run.0.try_wait(), Ok(None))
        {
            break;
        }
    }
    let still_running = matches!(run.0.try_wait(), Ok(None));
    run.kill_9();
    let problems = stderr_problems(&errs);
    let mut failures = Vec::new();
    if !still_running {
        failures.push("the last run ended".to_string());
    }
    if let Err(e) = check_item_requests(&lake, total) {
        failures.push(e);
    }
    if problems.iter().any(|l| l.contains("open files")) {
        failures.push("a run ran out of open files".to_string());
    }
    if !failures.is_empty() {
        let dir = tmp.keep();
        panic!(
            "{}\n{}\n(kept in {})",
            failures.join("\n"),
            problems.join("\n"),
            dir.display()
        );
    }
    let repeated: usize = errs
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .matches("repeating epoch")
                .count()
        })
        .sum();
    eprintln!(
        "{FILES} files and a rotated live file, {total} lines, {KILLS} kills, {repeated} epochs \
         repeated: every line once in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
}

/// A symbolic link in a log directory (to a file like /etc/passwd) is not read by default,
/// and is said so once; `--follow-symlinks` reads it (its line is then a reject).
#[test]
fn a_symlink_in_the_log_directory_is_read_only_with_follow_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let outside = tmp.path().join("etc");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("passwd");
    std::fs::write(&secret, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(logs.join("access.log"), lines(0, 3)).unwrap();
    std::os::unix::fs::symlink(&secret, logs.join("zz.log")).unwrap();
    let pattern = logs.join("*.log").to_str().unwrap().to_string();
    let run = |extra: &[&str], rejects: &Path| {
        Command::new(bin())
            .args([
                "run",
                "--no-state",
                "--file",
                &pattern,
                "--format",
                "combined",
            ])
            .args(["--emit", "none", "--no-alerts", "--rejects"])
            .arg(rejects)
            .args(extra)
            .output()
            .unwrap()
    };
    let rejects = tmp.path().join("rejects-default.txt");
    let o = run(&[], &rejects);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("is a symbolic link").count(),
        1,
        "reported once: {err}"
    );
    assert!(err.contains("--follow-symlinks"), "{err}");
    assert!(err.contains("3 lines (3 ok"), "{err}");
    let kept = std::fs::read_to_string(&rejects).unwrap_or_default();
    assert!(!kept.contains("root:"), "the link's file was read: {kept}");

    let rejects = tmp.path().join("rejects-followed.txt");
    let o = run(&["--follow-symlinks"], &rejects);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("is a symbolic link"), "{err}");
    assert!(err.contains("4 lines (3 ok"), "{err}");
    let kept = std::fs::read_to_string(&rejects).unwrap();
    assert!(kept.contains("root:x:0:0"), "{kept}");
}
