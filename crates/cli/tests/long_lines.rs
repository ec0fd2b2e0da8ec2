//! Lines over the 1 MiB line limit (issue 23), through the binary: `run --file` (plain, gz,
//! stdin) and `analyze` (files, stdin, a gzip bomb under a memory limit) each count every
//! such line once, as rejected `line_too_long`, with its first 1 MiB kept in the rejects.
//! Before the fix, `run --file` of one unterminated line of 2,162,689 bytes said "0 lines",
//! and `analyze` of a gzip bomb held the whole line in memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{bin, nasa_lines, ok, output_with_stdin, stderr_of as stderr};

const MIB: usize = 1 << 20;

/// Lines of the NASA log around each long line: they parse (`common`), so format detection
/// works and the long line is the only reject.
const GOOD: usize = 20;

/// One test file: a long line of `len` bytes after [`GOOD`] good lines.
struct Case {
    id: usize,
    len: usize,
    newline: bool,
    gz: bool,
}

impl Case {
    /// The long line: a tag naming the case, then a pattern, so a head from the wrong case or
    /// the wrong place shows.
    fn line(&self) -> Vec<u8> {
        let mut l = format!("L{:02}-", self.id).into_bytes();
        l.extend((l.len()..self.len).map(|i| b'a' + (i % 23) as u8));
        l
    }

    fn content(&self, good: &[u8]) -> Vec<u8> {
        let mut c = good.to_vec();
        c.extend_from_slice(&self.line());
        if self.newline {
            c.push(b'\n');
        }
        c
    }
}

/// The sizes of the issue: just over the limit, two batches, the two sizes that were counted
/// and lost, and 10 MiB; each with and without a final newline, plain and gzip.
fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for len in [MIB + 1, 2 * MIB, 2_162_688, 2_162_689, 10 * MIB] {
        for newline in [false, true] {
            for gz in [false, true] {
                let id = v.len();
                v.push(Case {
                    id,
                    len,
                    newline,
                    gz,
                });
            }
        }
    }
    v
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Writes every case into `dir`; returns the paths by case id.
fn write_cases(dir: &Path, cases: &[Case]) -> Vec<PathBuf> {
    let good = nasa_lines(GOOD);
    cases
        .iter()
        .map(|c| {
            let p = dir.join(format!(
                "case{:02}-{}-{}.log{}",
                c.id,
                c.len,
                if c.newline { "nl" } else { "nonl" },
                if c.gz { ".gz" } else { "" }
            ));
            let content = c.content(&good);
            std::fs::write(&p, if c.gz { gzip(&content) } else { content }).unwrap();
            p
        })
        .collect()
}

/// The counts of `run`'s summary line: lines, ok, degraded, rejected, late.
fn run_counts(stderr: &str) -> [u64; 5] {
    let l = stderr
        .lines()
        .find(|l| l.starts_with("hitstream run: ") && l.contains(" lines ("))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let nums: Vec<u64> = l
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    [nums[0], nums[1], nums[2], nums[3], nums[4]]
}

/// The `line_too_long` rejects of a rejects file (text after the last tab is the line), by
/// their case tag, with the length kept; other rejects fail the test.
fn too_long(rejects: &Path, cases: &[Case]) -> BTreeMap<usize, usize> {
    let bytes = std::fs::read(rejects).unwrap();
    let mut out = BTreeMap::new();
    for r in bytes.split(|b| *b == b'\n').filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(&r[..r.len().min(200)]).into_owned();
        assert!(text.contains("line_too_long\t"), "another reject: {text}");
        let tab = r.iter().rposition(|b| *b == b'\t').unwrap();
        let line = &r[tab + 1..];
        let id: usize = std::str::from_utf8(&line[1..3]).unwrap().parse().unwrap();
        let want = cases[id].line();
        assert!(
            line == &want[..MIB],
            "case {id}: the kept head is not the line's first MiB"
        );
        assert!(
            out.insert(id, line.len()).is_none(),
            "case {id} rejected twice"
        );
    }
    out
}

/// `hitstream` with stdin from `input`.
fn with_stdin(args: &[&str], input: Vec<u8>) -> Output {
    output_with_stdin(Command::new(bin()).args(args), input)
}

#[test]
fn run_file_counts_every_long_line_plain_gz_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let paths = write_cases(tmp.path(), &cases);
    let rejects = tmp.path().join("rejects");
    let mut cmd = Command::new(bin());
    cmd.args([
        "run",
        "--no-state",
        "--format",
        "common",
        "--emit",
        "none",
        "--no-alerts",
    ])
    .arg("--rejects")
    .arg(&rejects);
    for p in &paths {
        cmd.arg("--file").arg(p);
    }
    let o = cmd.output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let n = cases.len() as u64;
    let [lines, ok_, _, rejected, _] = run_counts(&err);
    assert_eq!(
        (lines, ok_, rejected),
        (n * (GOOD as u64 + 1), n * GOOD as u64, n),
        "{err}"
    );
    let got = too_long(&rejects, &cases);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (0..cases.len()).collect::<Vec<_>>()
    );

    // stdin (`--file -`), plain and gzip, with the line that used to vanish.
    let good = nasa_lines(GOOD);
    for gz in [false, true] {
        let c = Case {
            id: 0,
            len: 2_162_689,
            newline: false,
            gz,
        };
        let content = c.content(&good);
        let input = if gz { gzip(&content) } else { content };
        let rejects = tmp.path().join(format!("stdin-rejects-{gz}"));
        let r = rejects.to_string_lossy().into_owned();
        let o = with_stdin(
            &[
                "run",
                "--format",
                "common",
                "--emit",
                "none",
                "--no-alerts",
                "--file",
                "-",
                "--rejects",
                &r,
            ],
            input,
        );
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        let [lines, ok_, _, rejected, _] = run_counts(&err);
        assert_eq!(
            (lines, ok_, rejected),
            (GOOD as u64 + 1, GOOD as u64, 1),
            "gz {gz}: {err}"
        );
        assert_eq!(too_long(&rejects, &[c]).len(), 1);
    }
}

/// The JSON report's line counts and reject reasons.
fn analyze_counts(report: &Value) -> (u64, u64, u64, Vec<(String, u64)>) {
    let t = &report["totals"];
    let reasons = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    (
        t["lines"].as_u64().unwrap(),
        t["ok"].as_u64().unwrap(),
        t["rejected"].as_u64().unwrap(),
        reasons,
    )
}

#[test]
fn analyze_counts_every_long_line_in_files_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let paths = write_cases(tmp.path(), &cases);
    let rejects = tmp.path().join("rejects");
    let o = Command::new(bin())
        .args([
            "analyze",
            "-q",
            "-o",
            "json",
            "--format",
            "auto",
            "--rejects",
        ])
        .arg(&rejects)
        .args(&paths)
        .output()
        .unwrap();
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    let n = cases.len() as u64;
    assert_eq!(
        analyze_counts(&report),
        (
            n * (GOOD as u64 + 1),
            n * GOOD as u64,
            n,
            vec![("line_too_long".to_string(), n)]
        ),
        "{err}"
    );
    assert!(err.contains("line_too_long"), "{err}");
    let got = too_long(&rejects, &cases);
    assert_eq!(got.len(), cases.len());
    let sample = &report["reject_samples"][0];
    assert_eq!(sample["reason"], "line_too_long");
    assert_eq!(sample["line"], GOOD as u64 + 1);

    // stdin, plain and gzip.
    let good = nasa_lines(GOOD);
    for gz in [false, true] {
        let c = Case {
            id: 0,
            len: 2_162_689,
            newline: false,
            gz,
        };
        let content = c.content(&good);
        let o = with_stdin(
            &["analyze", "-q", "-o", "json", "-"],
            if gz { gzip(&content) } else { content },
        );
        let report: Value = serde_json::from_str(&ok(o)).unwrap();
        assert_eq!(
            analyze_counts(&report),
            (
                GOOD as u64 + 1,
                GOOD as u64,
                1,
                vec![("line_too_long".to_string(), 1)]
            ),
            "gz {gz}"
        );
    }
}

/// `analyze` of a gzip bomb: 256 MiB without a newline in a file of about a megabyte, between
/// good lines, under a 512 MiB address-space limit (the debug binary alone needs about 280 MiB
/// of address space; 384 MiB was enough for this test). Before the fix the whole line was held
/// in one growing buffer (the 1 GiB bomb: 1,039 MiB, then an abort allocating 2 GiB);
/// now it is cut at 1 MiB and the rest is read and dropped.
#[test]
fn analyze_a_gzip_bomb_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let good = nasa_lines(GOOD);
    // Gzip members back to back are one stream (RFC 1952): the bomb is one compressed MiB
    // repeated, so building it costs one compression.
    let mut bomb = gzip(&good);
    let block = gzip(&vec![b'a'; MIB]);
    let blocks = 256;
    for _ in 0..blocks {
        bomb.extend_from_slice(&block);
    }
    let mut tail = b"\n".to_vec();
    tail.extend_from_slice(&good);
    bomb.extend_from_slice(&gzip(&tail));
    let path = tmp.path().join("bomb.log.gz");
    std::fs::write(&path, &bomb).unwrap();
    assert!(bomb.len() < 4 * MIB, "{}", bomb.len());

    let rejects = tmp.path().join("rejects");
    let limit = 512 * MIB;
    let o = Command::new("prlimit")
        .arg(format!("--as={limit}"))
        .arg(bin())
        .args(["analyze", "-q", "-o", "json", "--threads", "2", "--rejects"])
        .arg(&rejects)
        .arg(&path)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        o.status.success(),
        "under a {limit} byte address space: {err}"
    );
    let report: Value = serde_json::from_str(&String::from_utf8(o.stdout).unwrap()).unwrap();
    assert_eq!(
        analyze_counts(&report),
        (
            2 * GOOD as u64 + 1,
            2 * GOOD as u64,
            1,
            vec![("line_too_long".to_string(), 1)]
        ),
        "{err}"
    );
    let r = std::fs::read(&rejects).unwrap();
    assert_eq!(r.iter().filter(|b| **b == b'\n').count(), 1);
    assert!(r.ends_with(&[&[b'\t'][..], &vec![b'a'; MIB], b"\n"].concat()));
    let sample = &report["reject_samples"][0];
    assert_eq!(sample["reason"], "line_too_long");
    assert_eq!(sample["line"], GOOD as u64 + 1);
}
