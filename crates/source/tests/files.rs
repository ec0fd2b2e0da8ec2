//! File source behaviour, one property per test: non-follow reading, rotation by rename and
//! copytruncate, `.gz`, short files, partial lines, limits, real rotated log sets.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use hitstream_source::{
    Checkpoint, FileSource, FileSourceConfig, Fingerprint, Poll, SourceError, StartAt,
};

fn append(p: &Path, s: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

fn block(from: u64, to: u64) -> String {
    (from..to).map(|n| numbered(n) + "\n").collect()
}

fn numbers(v: &[Got]) -> Vec<u64> {
    v.iter().map(|g| number_of(&g.text)).collect()
}

#[test]
fn non_follow_reads_plain_and_gz_once_oldest_first_with_last_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("access.log.2.gz"), gzip(block(0, 50).as_bytes())).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(d.join("access.log.1"), block(50, 100)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut last = block(100, 150);
    last.push_str(&numbered(150)); // no newline at the end
    fs::write(d.join("access.log"), last).unwrap();
    let mut cp = Checkpoint::new();
    let cfg = FileSourceConfig {
        max_batch_lines: 7,
        ..FileSourceConfig::new([d.join("access.log*").to_string_lossy()])
    };
    let got = read_all(cfg.clone(), &mut cp);
    assert_eq!(numbers(&got), (0..=150).collect::<Vec<_>>());
    // The .gz position is complete, so a second run neither decompresses it fully nor reads
    // anything again.
    assert_eq!(cp.len(), 3);
    assert!(cp.files.values().any(|p| p.compressed && p.complete));
    let again = read_all(cfg, &mut cp);
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn missing_literal_path_is_reported_in_non_follow_mode() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.log");
    let mut src = FileSource::new(
        FileSourceConfig::new([p.to_string_lossy()]).follow(false),
        &Checkpoint::new(),
    )
    .unwrap();
    assert!(matches!(src.poll(Duration::from_secs(1)), Poll::End));
    let problems = src.take_problems();
    assert!(
        matches!(&problems[..], [SourceError::NotFound { path }] if path == &p),
        "{problems:?}"
    );
}

#[test]
fn bad_glob_is_an_error_naming_the_pattern() {
    let e = FileSource::new(FileSourceConfig::new(["/tmp/[x"]), &Checkpoint::new()).unwrap_err();
    assert!(e.to_string().contains("/tmp/[x"), "{e}");
}

#[test]
fn follow_rename_rotation_reads_old_file_to_its_end_then_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    append(&log, &block(0, 20));
    let mut src = FileSource::new(fast(&d.join("access.log*")), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 20
    });
    // The writer still holds the old file after the rename (as nginx does until USR1).
    let mut old = OpenOptions::new().append(true).open(&log).unwrap();
    fs::rename(&log, d.join("access.log.1")).unwrap();
    old.write_all(block(20, 30).as_bytes()).unwrap();
    append(&log, &block(30, 40));
    old.write_all(block(40, 45).as_bytes()).unwrap();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 45
    });
    let mut n = numbers(&got);
    let old_fp = got[0].fp;
    let old_file: Vec<u64> = got
        .iter()
        .filter(|g| g.fp == old_fp)
        .map(|g| number_of(&g.text))
        .collect();
    assert_eq!(old_file, (0..30).chain(40..45).collect::<Vec<_>>());
    n.sort();
    assert_eq!(n, (0..45).collect::<Vec<_>>());
    // logrotate compresses the old file later: recognised, not read again.
    fs::write(
        d.join("access.log.2.gz"),
        gzip(&fs::read(d.join("access.log.1")).unwrap()),
    )
    .unwrap();
    fs::remove_file(d.join("access.log.1")).unwrap();
    append(&log, &block(45, 50));
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(3), |_| {
        false
    });
    let mut n = numbers(&got);
    n.sort();
    assert_eq!(n, (0..50).collect::<Vec<_>>());
    assert!(
        cp.files.values().any(|p| p.compressed && p.complete),
        "{cp:?}"
    );
}

#[test]
fn follow_copytruncate_continues_in_the_copy_and_restarts_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    append(&log, &block(0, 30));
    let mut src = FileSource::new(fast(&d.join("access.log*")), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 30
    });
    // Lines the source has not read yet when the copy is made...
    let mut w = OpenOptions::new().append(true).open(&log).unwrap();
    w.write_all(block(30, 40).as_bytes()).unwrap();
    fs::copy(&log, d.join("access.log.1")).unwrap();
    w.set_len(0).unwrap();
    // ... and lines written after the truncation, more than were there before.
    w.write_all(block(40, 100).as_bytes()).unwrap();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 100
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(300),
        |_| false,
    );
    let mut n = numbers(&got);
    n.sort();
    assert_eq!(n, (0..100).collect::<Vec<_>>());
    assert!(src.stats().truncations >= 1);
    assert!(src
        .take_problems()
        .iter()
        .any(|p| matches!(p, SourceError::Truncated { .. })));
}

/// The live file is open but has no identity yet (it was empty) when copytruncate runs: its
/// first bytes are then the new content, and the copy with the older lines is not known until
/// the patterns are expanded again. The older lines must still come first (with zero allowed
/// lateness they would otherwise all be late), however long the expansion interval is.
#[test]
fn copytruncate_before_the_live_file_is_identified_reads_the_copy_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, "").unwrap();
    let cfg = FileSourceConfig {
        // No periodic expansion during the test.
        glob_interval_ms: 3_600_000,
        ..fast(&d.join("access.log*"))
    };
    let mut src = FileSource::new(cfg, &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(100),
        |_| false,
    );
    assert!(got.is_empty());
    let mut w = OpenOptions::new().append(true).open(&log).unwrap();
    w.write_all(block(0, 40).as_bytes()).unwrap();
    fs::copy(&log, d.join("access.log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    w.set_len(0).unwrap();
    w.write_all(block(40, 100).as_bytes()).unwrap();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 100
    });
    assert_eq!(
        numbers(&got),
        (0..100).collect::<Vec<_>>(),
        "in the order written"
    );
}

#[test]
fn file_renamed_out_of_the_patterns_delivers_its_partial_last_line_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("archive")).unwrap();
    let log = d.join("access.log");
    append(&log, &(block(0, 5) + &numbered(5)));
    let mut src = FileSource::new(fast(&d.join("access.log*")), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(400),
        |_| false,
    );
    assert_eq!(
        numbers(&got),
        (0..5).collect::<Vec<_>>(),
        "no partial line while followed"
    );
    fs::rename(&log, d.join("archive/old.log")).unwrap();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 6
    });
    assert_eq!(numbers(&got), (0..6).collect::<Vec<_>>());
    assert!(src.watched_files().is_empty());
}

#[test]
fn short_file_is_identified_by_its_first_line_then_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    append(&log, "short one\n");
    let mut src = FileSource::new(fast(&log), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        !g.is_empty()
    });
    assert_eq!(texts(&got), ["short one"]);
    let key = *cp.files.keys().next().unwrap();
    assert!(matches!(key, Fingerprint::FirstLine(_)));
    append(&log, &block(0, 10));
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 11
    });
    assert_eq!(got.len(), 11);
    assert_eq!(cp.len(), 1, "the first-line key was replaced: {cp:?}");
    assert!(cp.files.keys().next().unwrap().is_head());
    assert_eq!(
        cp.files.values().next().unwrap().offset,
        fs::metadata(&log).unwrap().len()
    );
}

#[test]
fn start_at_end_skips_existing_lines_of_files_found_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    append(&log, &(block(0, 10) + "partial"));
    let cfg = FileSourceConfig {
        start_at: StartAt::End,
        ..fast(&d.join("*.log"))
    };
    let mut src = FileSource::new(cfg, &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(200),
        |_| false,
    );
    append(&log, " end\n");
    append(&d.join("new.log"), &block(10, 12));
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 3
    });
    let mut t = texts(&got);
    t.sort();
    let mut want = vec!["partial end".to_string(), numbered(10), numbered(11)];
    want.sort();
    assert_eq!(t, want);
}

#[test]
fn header_lines_and_long_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let long = "x".repeat(5000);
    fs::write(d.join("a.log"), format!("#hdr 1\n#hdr 2\n{long}\nok\n")).unwrap();
    let cfg = FileSourceConfig {
        header_prefix: Some("#hdr ".into()),
        max_line_bytes: 100,
        ..FileSourceConfig::new([d.join("a.log").to_string_lossy()])
    };
    let mut src = FileSource::new(cfg.follow(false), &Checkpoint::new()).unwrap();
    let mut lines = Vec::new();
    let mut truncated = 0;
    let mut end = 0;
    while let Poll::Batch(b) = src.poll(Duration::from_secs(5)) {
        truncated += b.truncated().len();
        end = b.end_offset();
        lines.extend(texts(&lines_of(&b)));
    }
    assert_eq!(
        lines,
        vec!["#hdr 2".to_string(), "x".repeat(100), "ok".to_string()]
    );
    assert_eq!(truncated, 1);
    assert_eq!(end, fs::metadata(d.join("a.log")).unwrap().len());
    assert_eq!(src.stats().headers_skipped, 1);
}

#[test]
fn batches_respect_line_and_byte_limits() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    fs::write(&p, block(0, 1000)).unwrap();
    let cfg = FileSourceConfig {
        max_batch_lines: 33,
        max_batch_bytes: 2000,
        ..FileSourceConfig::new([p.to_string_lossy()])
    };
    let mut src = FileSource::new(cfg.follow(false), &Checkpoint::new()).unwrap();
    let mut n = 0;
    let mut prev_end = 0;
    while let Poll::Batch(b) = src.poll(Duration::from_secs(5)) {
        assert!(
            b.len() <= 33 && b.bytes() <= 2000,
            "{} lines {} bytes",
            b.len(),
            b.bytes()
        );
        assert_eq!(b.start_offset(), prev_end);
        prev_end = b.end_offset();
        for l in b.lines() {
            assert_eq!(number_of(std::str::from_utf8(l).unwrap()), n);
            n += 1;
        }
    }
    assert_eq!(n, 1000);
}

#[test]
fn incomplete_gz_is_read_as_far_as_it_goes_then_finished_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = block(0, 2000);
    let gz = gzip(text.as_bytes());
    let p = d.join("access.log.2.gz");
    fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let mut src = FileSource::new(fast(&d.join("access.log*")), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(500),
        |_| false,
    );
    assert!(got.len() < 2000);
    assert!(src
        .take_problems()
        .iter()
        .any(|p| matches!(p, SourceError::Gzip { .. })));
    fs::write(&p, &gz).unwrap();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 2000
    });
    assert_eq!(numbers(&got), (0..2000).collect::<Vec<_>>());
}

/// The real Debian logrotate set: every line of all 15 files, once (line counts from
/// PROVENANCE.md).
#[test]
fn real_debian_rotated_set_non_follow() {
    let base = Path::new(data_dir()).join("apache-debian-rotated-2024");
    for (pattern, lines) in [("access.log*", 3_738), ("other_vhosts_access.log*", 25_070)] {
        let mut cp = Checkpoint::new();
        let cfg = FileSourceConfig::new([base.join(pattern).to_string_lossy()]);
        let got = read_all(cfg.clone(), &mut cp);
        assert_eq!(got.len(), lines, "{pattern}");
        assert_eq!(cp.len(), 15, "{pattern}");
        assert!(read_all(cfg, &mut cp).is_empty());
    }
}

/// The same set followed in a copy, then rotated the way logrotate with delaycompress does
/// it: only the new day's lines come.
#[test]
fn real_debian_set_followed_through_a_logrotate() {
    let src_dir = Path::new(data_dir()).join("apache-debian-rotated-2024");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for e in fs::read_dir(&src_dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("access.log") {
            fs::copy(e.path(), d.join(&name)).unwrap();
        }
    }
    let mut src = FileSource::new(fast(&d.join("access.log*")), &Checkpoint::new()).unwrap();
    let mut cp = Checkpoint::new();
    let mut got = Vec::new();
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(10), |g| {
        g.len() >= 3_738
    });
    assert_eq!(got.len(), 3_738);
    // logrotate: drop .14.gz, shift .N.gz up, compress .1 to .2.gz, .log to .1, new .log.
    fs::remove_file(d.join("access.log.14.gz")).unwrap();
    for n in (2..14).rev() {
        fs::rename(
            d.join(format!("access.log.{n}.gz")),
            d.join(format!("access.log.{}.gz", n + 1)),
        )
        .unwrap();
    }
    let one = fs::read(d.join("access.log.1")).unwrap();
    fs::write(d.join("access.log.2.gz"), gzip(&one)).unwrap();
    fs::remove_file(d.join("access.log.1")).unwrap();
    fs::rename(d.join("access.log"), d.join("access.log.1")).unwrap();
    let new_day =
        "1.2.3.4 - - [07/Aug/2024:00:00:01 +0000] \"GET /new HTTP/1.1\" 200 1 \"-\" \"t\"\n";
    append(&d.join("access.log"), &new_day.repeat(3));
    collect_until(&mut src, &mut cp, &mut got, Duration::from_secs(5), |g| {
        g.len() >= 3_741
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut got,
        Duration::from_millis(500),
        |_| false,
    );
    assert_eq!(got.len(), 3_741);
    assert!(got[3_738..].iter().all(|g| g.text.contains("/new")));
}
