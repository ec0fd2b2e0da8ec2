//! Re-reading recorded extents after rotation: each test reads files as the live source
//! does, records every batch's extent, rotates or damages the files, and reads the extents
//! again, expecting the same lines from wherever the content is now (or a clear error).

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use hitstream_source::spool::{reader_config, SpoolConfig, SpoolWriter, SEGMENT_HEADER_PREFIX};
use hitstream_source::{
    Batch, Checkpoint, FileExtent, FileSource, FileSourceConfig, Fingerprint, Origin, Poll,
    Rereader, SourceError,
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

/// Reads everything there is now (non-follow), applying positions to `cp`; returns the
/// batches that have lines.
fn read_batches(cfg: &FileSourceConfig, cp: &mut Checkpoint) -> Vec<Batch> {
    let mut src = FileSource::new(cfg.clone().follow(false), cp).unwrap();
    let mut out = Vec::new();
    loop {
        match src.poll(Duration::from_secs(10)) {
            Poll::Batch(b) => {
                cp.apply(&b);
                if !b.is_empty() {
                    out.push(b);
                }
            }
            Poll::Idle => panic!("idle in non-follow mode"),
            Poll::End => return out,
        }
    }
}

fn cfg_for(pattern: &Path, max_batch_lines: usize) -> FileSourceConfig {
    FileSourceConfig {
        max_batch_lines,
        ..FileSourceConfig::new([pattern.to_string_lossy()])
    }
}

fn found_at(b: &Batch) -> PathBuf {
    match b.origin() {
        Origin::File { path, .. } => path.clone(),
        o => panic!("not a file origin: {o:?}"),
    }
}

/// Re-reads every batch's extent and checks it gives the same batch, found at `at`.
fn assert_rereads(r: &mut Rereader, batches: &[Batch], at: &Path) {
    assert!(!batches.is_empty());
    for b in batches {
        let ext = b.file_extent().unwrap();
        let again = r.reread(&ext).unwrap_or_else(|e| panic!("{ext:?}: {e}"));
        assert_same(b, &again);
        assert_eq!(found_at(&again), at, "{ext:?}");
    }
}

fn assert_same(live: &Batch, again: &Batch) {
    assert_eq!(
        again.lines().collect::<Vec<_>>(),
        live.lines().collect::<Vec<_>>()
    );
    assert_eq!(again.truncated(), live.truncated());
    assert_eq!(
        (again.start_offset(), again.end_offset()),
        (live.start_offset(), live.end_offset())
    );
    let fp = |b: &Batch| match b.origin() {
        Origin::File { fingerprint, .. } => *fingerprint,
        _ => unreachable!(),
    };
    assert_eq!(fp(again), fp(live));
    assert!(again.positions().is_empty(), "positions are the caller's");
}

#[test]
fn rename_rotation_reads_from_the_rotated_file_not_the_new_one_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, block(0, 100)).unwrap();
    let cfg = cfg_for(&d.join("access.log*"), 7);
    let mut cp = Checkpoint::new();
    let before = read_batches(&cfg, &mut cp);
    assert!(before.iter().all(|b| found_at(b) == log));
    fs::rename(&log, d.join("access.log.1")).unwrap();
    fs::write(&log, block(1000, 1040)).unwrap();
    let after = read_batches(&cfg, &mut cp);
    // Through the source's own re-reader, in reverse order for good measure.
    let mut src = FileSource::new(cfg.clone(), &cp).unwrap();
    for b in before.iter().rev() {
        let again = src.reread(&b.file_extent().unwrap()).unwrap();
        assert_same(b, &again);
        assert_eq!(found_at(&again), d.join("access.log.1"));
    }
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &after, &log);
    assert_rereads(&mut r, &before, &d.join("access.log.1"));
}

#[test]
fn copytruncate_old_content_from_the_copy_new_content_from_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, block(0, 100)).unwrap();
    let cfg = cfg_for(&d.join("access.log*"), 9);
    let mut cp = Checkpoint::new();
    let old = read_batches(&cfg, &mut cp);
    // Lines not read yet when the copy is made are read from the copy.
    append(&log, &block(100, 120));
    fs::copy(&log, d.join("access.log.1")).unwrap();
    let f = OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&log, &block(500, 560));
    let later = read_batches(&cfg, &mut cp);
    let (from_copy, from_new): (Vec<Batch>, Vec<Batch>) = later
        .into_iter()
        .partition(|b| found_at(b) == d.join("access.log.1"));
    assert!(!from_copy.is_empty() && !from_new.is_empty());
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &old, &d.join("access.log.1"));
    assert_rereads(&mut r, &from_copy, &d.join("access.log.1"));
    assert_rereads(&mut r, &from_new, &log);
}

#[test]
fn rotated_then_gzipped_is_read_from_the_gz_by_its_decompressed_content() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, block(0, 300)).unwrap();
    let cfg = cfg_for(&d.join("access.log*"), 11);
    let mut cp = Checkpoint::new();
    let first = read_batches(&cfg, &mut cp);
    // Rotate; more lines reach the rotated file; a new file.
    fs::rename(&log, d.join("access.log.1")).unwrap();
    append(&d.join("access.log.1"), &block(300, 320));
    fs::write(&log, block(1000, 1010)).unwrap();
    let second = read_batches(&cfg, &mut cp);
    let rotated: Vec<Batch> = second
        .iter()
        .filter(|b| found_at(b) == d.join("access.log.1"))
        .cloned()
        .collect();
    assert!(!rotated.is_empty());
    // Next rotation with delaycompress: access.log.1 becomes access.log.2.gz.
    let gz = d.join("access.log.2.gz");
    fs::write(&gz, gzip(&fs::read(d.join("access.log.1")).unwrap())).unwrap();
    fs::remove_file(d.join("access.log.1")).unwrap();
    fs::rename(&log, d.join("access.log.1")).unwrap();
    fs::write(&log, block(2000, 2010)).unwrap();
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &first, &gz);
    assert_rereads(&mut r, &rotated, &gz);
    let mut backwards = first.clone();
    backwards.reverse();
    assert_rereads(&mut r, &backwards, &gz);
    // The file rotated by the second rename is found too.
    let newer: Vec<Batch> = second.into_iter().filter(|b| found_at(b) == log).collect();
    assert_rereads(&mut r, &newer, &d.join("access.log.1"));
}

#[test]
fn first_line_fingerprint_matches_a_file_grown_past_the_head_renamed_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, "first line\nsecond line\n").unwrap();
    let cfg = cfg_for(&d.join("access.log*"), 100);
    let mut cp = Checkpoint::new();
    let short = read_batches(&cfg, &mut cp);
    assert_eq!(short.len(), 1);
    let ext = short[0].file_extent().unwrap();
    assert!(
        matches!(ext.fingerprint, Fingerprint::FirstLine(_)),
        "{ext:?}"
    );
    append(&log, &block(0, 50));
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &short, &log);
    // Its later batches are known by the upgraded fingerprint.
    let grown = read_batches(&cfg, &mut cp);
    let head_fp = grown[0].file_extent().unwrap().fingerprint;
    assert!(head_fp.is_head());
    fs::rename(&log, d.join("access.log.1")).unwrap();
    fs::write(&log, block(100, 110)).unwrap();
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &short, &d.join("access.log.1"));
    assert_rereads(&mut r, &grown, &d.join("access.log.1"));
    fs::write(
        d.join("access.log.1.gz"),
        gzip(&fs::read(d.join("access.log.1")).unwrap()),
    )
    .unwrap();
    fs::remove_file(d.join("access.log.1")).unwrap();
    assert_rereads(&mut r, &short, &d.join("access.log.1.gz"));
    assert_rereads(&mut r, &grown, &d.join("access.log.1.gz"));
}

#[test]
fn a_last_line_without_newline_is_a_line_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A short file with no newline at all is known by its whole content.
    fs::write(d.join("tiny.log"), "only a partial line").unwrap();
    fs::write(d.join("big.log"), block(0, 20) + &numbered(20)).unwrap();
    let cfg = cfg_for(&d.join("*.log"), 6);
    let batches = read_batches(&cfg, &mut Checkpoint::new());
    let mut r = Rereader::new(&cfg).unwrap();
    for name in ["tiny.log", "big.log"] {
        let of: Vec<Batch> = batches
            .iter()
            .filter(|b| found_at(b) == d.join(name))
            .cloned()
            .collect();
        let last = of.last().unwrap();
        let text = String::from_utf8_lossy(last.line(last.len() - 1).unwrap()).into_owned();
        assert!(
            text == "only a partial line" || text == numbered(20),
            "{text}"
        );
        assert_rereads(&mut r, &of, &d.join(name));
    }
}

#[test]
fn a_file_no_longer_anywhere_is_gone_even_if_its_path_holds_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    fs::write(&log, block(0, 30)).unwrap();
    let cfg = FileSourceConfig {
        exclude: vec![d.join("*.bak").to_string_lossy().into_owned()],
        ..cfg_for(&d.join("access.log*"), 10)
    };
    let batches = read_batches(&cfg, &mut Checkpoint::new());
    let ext = batches[1].file_extent().unwrap();
    // A copy outside the patterns (excluded) and another file at the path do not count.
    fs::rename(&log, d.join("access.log.bak")).unwrap();
    fs::write(&log, block(100, 130)).unwrap();
    let mut r = Rereader::new(&cfg).unwrap();
    let e = r.reread(&ext).unwrap_err();
    assert!(
        matches!(&e, SourceError::Gone { path, fingerprint } if path == &log && *fingerprint == ext.fingerprint),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&log.display().to_string())
            && msg.contains(&ext.fingerprint.to_string())
            && msg.contains("is gone"),
        "{msg}"
    );
    fs::remove_file(&log).unwrap();
    assert!(matches!(r.reread(&ext), Err(SourceError::Gone { .. })));
    // Empty extents (batches of positions only) need no file.
    let empty = FileExtent {
        start: ext.end,
        lines: 0,
        ..ext.clone()
    };
    assert!(r.reread(&empty).unwrap().is_empty());
}

#[test]
fn a_shrunk_or_rewritten_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    let content = block(0, 60);
    fs::write(&log, &content).unwrap();
    let cfg = cfg_for(&d.join("access.log*"), 10);
    let batches = read_batches(&cfg, &mut Checkpoint::new());
    let last = batches.last().unwrap().file_extent().unwrap();
    let mut r = Rereader::new(&cfg).unwrap();
    // Truncated in place, keeping its first bytes (and so its identity).
    let f = OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(last.start + 10).unwrap();
    drop(f);
    let e = r.reread(&last).unwrap_err();
    assert!(
        matches!(&e, SourceError::Shrunk { path, expected, found, .. }
            if path == &log && *expected == last.end && *found == last.start + 10),
        "{e:?}"
    );
    assert!(e.to_string().contains(&last.fingerprint.to_string()), "{e}");
    // A gz that ends early: the decompressed size is what it holds.
    fs::write(
        d.join("access.log.1.gz"),
        gzip(&content.as_bytes()[..last.start as usize + 5]),
    )
    .unwrap();
    fs::remove_file(&log).unwrap();
    let e = r.reread(&last).unwrap_err();
    assert!(
        matches!(&e, SourceError::Shrunk { found, .. } if *found == last.start + 5),
        "{e:?}"
    );
    // Rewritten in place with the same head but other line breaks.
    let mut changed = content.into_bytes();
    for b in &mut changed[last.start as usize..last.end as usize - 1] {
        if *b == b'\n' {
            *b = b' ';
        }
    }
    fs::remove_file(d.join("access.log.1.gz")).unwrap();
    fs::write(&log, &changed).unwrap();
    let e = r.reread(&last).unwrap_err();
    assert!(
        matches!(&e, SourceError::Changed { path, expected, found: 1, .. }
            if path == &log && *expected == last.lines),
        "{e:?}"
    );
    // An extent that makes no sense.
    let bad = FileExtent {
        start: 10,
        end: 5,
        ..last
    };
    assert!(matches!(r.reread(&bad), Err(SourceError::Config(_))));
}

#[test]
fn spool_header_is_skipped_at_start_zero_only() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut w = SpoolWriter::open(SpoolConfig::new(&spool)).unwrap();
    let mut b = Batch::new(Origin::Stream { name: "t".into() });
    for n in 0..40 {
        b.push_line(numbered(n).as_bytes(), false);
    }
    // A data line that looks like a header, after the first line: it is data.
    b.push_line(
        format!("{SEGMENT_HEADER_PREFIX}not a header").as_bytes(),
        false,
    );
    w.append(&b).unwrap();
    let segment = w.current_segment().to_path_buf();
    drop(w);
    let cfg = FileSourceConfig {
        max_batch_lines: 8,
        ..reader_config(&spool)
    };
    let batches = read_batches(&cfg, &mut Checkpoint::new());
    assert_eq!(batches[0].start_offset(), 0);
    assert_eq!(batches.iter().map(Batch::len).sum::<usize>(), 41);
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &batches, &segment);
    // Without the prefix configured the header would be a line, and the count differs.
    let plain = FileSourceConfig {
        header_prefix: None,
        ..cfg.clone()
    };
    let e = Rereader::new(&plain)
        .unwrap()
        .reread(&batches[0].file_extent().unwrap())
        .unwrap_err();
    assert!(matches!(e, SourceError::Changed { .. }), "{e:?}");
}

#[test]
fn long_lines_are_cut_and_marked_as_the_live_reading_did() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::new();
    for n in 0..200u64 {
        let len = (n * 53) % 700;
        text.push_str(&format!("{n:05} {}\n", "y".repeat(len as usize)));
    }
    // A last oversized line without newline.
    text.push_str(&"z".repeat(900));
    fs::write(d.join("access.log"), &text).unwrap();
    let cfg = FileSourceConfig {
        max_line_bytes: 300,
        max_batch_bytes: 2000,
        ..cfg_for(&d.join("access.log"), 5)
    };
    let batches = read_batches(&cfg, &mut Checkpoint::new());
    let truncated: usize = batches.iter().map(|b| b.truncated().len()).sum();
    assert!(truncated > 50, "{truncated}");
    assert!(batches
        .last()
        .unwrap()
        .truncated()
        .contains(&(batches.last().unwrap().len() - 1)));
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &batches, &d.join("access.log"));
    // The same from a gz.
    fs::write(d.join("access.log.gz"), gzip(text.as_bytes())).unwrap();
    fs::remove_file(d.join("access.log")).unwrap();
    let cfg = FileSourceConfig {
        include: vec![d.join("access.log*").to_string_lossy().into_owned()],
        ..cfg
    };
    let mut r = Rereader::new(&cfg).unwrap();
    assert_rereads(&mut r, &batches, &d.join("access.log.gz"));
}

#[test]
fn extent_serde_is_strict() {
    let e = FileExtent {
        fingerprint: Fingerprint::FirstLine(0xabc),
        path: PathBuf::from("/var/log/nginx/access.log"),
        start: 3,
        end: 99,
        lines: 4,
    };
    let j = serde_json::to_value(&e).unwrap();
    assert_eq!(j["fingerprint"], "l:0000000000000abc");
    assert_eq!(serde_json::from_value::<FileExtent>(j.clone()).unwrap(), e);
    let mut extra = j;
    extra["size"] = 5.into();
    assert!(serde_json::from_value::<FileExtent>(extra).is_err());
}
