//! Crash tests in process: an epoch sink fails at a chosen stage of a chosen epoch (the
//! pipeline stops there without a checkpoint, as after a kill -9), a new pipeline recovers
//! from the same checkpoint directory, and what the sink holds is compared with an
//! uninterrupted run. Rotation between the crash and the restart must not matter: the
//! repeated epoch reads its lines by fingerprint, wherever the file is now.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hitstream_runtime::testing::{path_counts, FailAt, MemorySink, MemoryStore, Stage, INJECTED};
use hitstream_runtime::{Pipeline, PipelineSpec, RuntimeError, SourceSpec};
use hitstream_window::EngineConfig;

/// A combined line for request `/item/<n>`, 10 ms of event time apart.
fn line(n: u64) -> String {
    let ms = n * 10;
    let (s, m) = ((ms / 1000) % 60, (ms / 60_000) % 60);
    format!(
        "10.0.{}.{} - - [25/Jul/2024:10:{m:02}:{s:02} +0000] \"GET /item/{n} HTTP/1.1\" 200 {} \"-\" \"t\"\n",
        n % 7,
        n % 250,
        100 + n % 50
    )
}

fn append(path: &Path, from: u64, to: u64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let text: String = (from..to).map(line).collect();
    f.write_all(text.as_bytes()).unwrap();
}

fn spec(state: &Path, lateness: u64) -> PipelineSpec {
    let mut s = PipelineSpec::new(
        "combined",
        EngineConfig {
            size: 60,
            lateness,
            alerts: Vec::new(),
            ..EngineConfig::default()
        },
    );
    s.checkpoint_dir = Some(state.to_path_buf());
    s.checkpoint_interval = Duration::from_secs(3600);
    // Small epochs: one closes whenever 1,500 rows wait.
    s.max_buffered_rows = 1500;
    s.threads = 2;
    s
}

fn files(pattern: &Path) -> SourceSpec {
    SourceSpec::Files {
        paths: vec![pattern.display().to_string()],
        follow: false,
        poll_interval: Some(Duration::from_millis(10)),
    }
}

/// One run over `pattern`. After a rotation the source reads the copy and the new file
/// side by side, so the rotation tests allow an hour of lateness (windows then close at the
/// end of input); the others none, so windows close and are stored in every epoch.
fn run(
    state: &Path,
    pattern: &Path,
    store: &Arc<Mutex<MemoryStore>>,
    fail: Option<(Stage, u64)>,
) -> Result<hitstream_runtime::Status, RuntimeError> {
    let lateness = if pattern.ends_with("access.log*") {
        3600
    } else {
        0
    };
    let sink = MemorySink::new(store.clone());
    let p = Pipeline::new(spec(state, lateness)).source(files(pattern));
    let p = match fail {
        Some((stage, epoch)) => p.epoch_sink(Box::new(FailAt::new(sink, stage, epoch))),
        None => p.epoch_sink(Box::new(sink)),
    };
    p.start()?.wait()
}

/// The latest revision of each window's request count.
fn window_counts(store: &MemoryStore) -> BTreeMap<i64, u64> {
    let mut m: BTreeMap<i64, (u32, u64)> = BTreeMap::new();
    for w in &store.windows {
        let e = m.entry(w.window_start).or_insert((0, 0));
        if w.revision >= e.0 {
            *e = (w.revision, w.requests);
        }
    }
    m.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

fn expected_windows(lines: u64) -> BTreeMap<i64, u64> {
    let start = 1_721_901_600i64; // 2024-07-25T10:00:00Z
    let mut m = BTreeMap::new();
    for n in 0..lines {
        let t = start + (n * 10 / 1000) as i64;
        *m.entry(t - t.rem_euclid(60)).or_insert(0) += 1;
    }
    m
}

fn assert_each_once(store: &MemoryStore, lines: u64, what: &str) {
    let counts = path_counts(&store.lines);
    let missing: Vec<u64> = (0..lines)
        .filter(|n| !counts.contains_key(&format!("/item/{n}")))
        .collect();
    let doubled: Vec<&String> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty() && doubled.is_empty() && counts.len() as u64 == lines,
        "{what}: {} missing (first {:?}), {} doubled (first {:?}), {} distinct of {lines}",
        missing.len(),
        missing.first(),
        doubled.len(),
        doubled.first(),
        counts.len()
    );
    assert_eq!(
        window_counts(store),
        expected_windows(lines),
        "{what}: windows"
    );
}

#[test]
fn a_crash_at_any_stage_of_an_epoch_stores_every_line_once() {
    for stage in [Stage::BeforeCommit, Stage::AfterCommit] {
        // 30,000 lines: epochs close after 1,500 rows wait, which is after the source batches
        // already taken (4,096 lines each) are parsed: at least three epochs.
        for epoch in [1, 2, 3] {
            let tmp = tempfile::tempdir().unwrap();
            let log = tmp.path().join("access.log");
            append(&log, 0, 30_000);
            let state = tmp.path().join("state");
            let store = Arc::new(Mutex::new(MemoryStore::default()));
            let e = run(&state, &log, &store, Some((stage, epoch))).unwrap_err();
            assert!(e.to_string().contains(INJECTED), "{e}");
            let st = run(&state, &log, &store, None).unwrap();
            assert_eq!(st.counters.lost, 0);
            assert_each_once(
                &store.lock().unwrap(),
                30_000,
                &format!("{stage:?} of epoch {epoch}"),
            );
        }
    }
}

/// Writes 40,000 lines to `access.log`, crashes the first run at `fail`, lets `rotate` act
/// on the log directory while the pipeline is down, then appends 3,000 lines to
/// `access.log`. Returns the temp dir, the state dir, the pattern and the store.
fn crash_and_rotate(
    fail: (Stage, u64),
    rotate: impl FnOnce(&Path),
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Arc<Mutex<MemoryStore>>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log = dir.join("access.log");
    append(&log, 0, 40_000);
    let state = dir.join("state");
    let store = Arc::new(Mutex::new(MemoryStore::default()));
    let pattern = dir.join("access.log*");
    run(&state, &pattern, &store, Some(fail)).unwrap_err();
    rotate(dir);
    append(&log, 40_000, 43_000);
    (tmp, state, pattern, store)
}

#[test]
fn a_repeated_epoch_reads_a_file_renamed_by_rotation_since() {
    // Rotation while the pipeline is down: the recorded path is now another file.
    let (_tmp, state, pattern, store) = crash_and_rotate((Stage::BeforeCommit, 1), |dir| {
        std::fs::rename(dir.join("access.log"), dir.join("access.log.1")).unwrap();
    });
    let st = run(&state, &pattern, &store, None).unwrap();
    assert_eq!(st.counters.lost, 0);
    let s = store.lock().unwrap();
    assert_each_once(&s, 43_000, "rename");
    // Rows keep the name their file had when first read.
    let first = s.lines.iter().find(|l| l.path == "/item/0").unwrap();
    assert!(first.source.ends_with("/access.log"), "{}", first.source);
}

#[test]
fn a_repeated_epoch_reads_the_copy_that_copytruncate_left() {
    let (_tmp, state, pattern, store) = crash_and_rotate((Stage::AfterCommit, 1), |dir| {
        let log = dir.join("access.log");
        std::fs::copy(&log, dir.join("access.log.1")).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap();
    });
    let st = run(&state, &pattern, &store, None).unwrap();
    assert_eq!(st.counters.lost, 0);
    assert_each_once(&store.lock().unwrap(), 43_000, "copytruncate");
}

#[test]
fn a_file_gone_before_the_repeat_is_reported_and_counted_not_read_from_elsewhere() {
    let (_tmp, state, pattern, store) = crash_and_rotate((Stage::BeforeCommit, 1), |dir| {
        std::fs::remove_file(dir.join("access.log")).unwrap();
    });
    let mut p = Pipeline::new(spec(&state, 3600))
        .source(files(&pattern))
        .epoch_sink(Box::new(MemorySink::new(store.clone())));
    let events = p.subscribe();
    let st = p.start().unwrap().wait().unwrap();
    assert!(st.counters.lost > 0);
    let notes: Vec<String> = events
        .try_iter()
        .filter_map(|e| match e {
            hitstream_runtime::Event::Note(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("cannot be read again") && n.contains("is gone")),
        "{notes:?}"
    );
    // Nothing of the new file was taken for the old one's lines.
    let counts = path_counts(&store.lock().unwrap().lines);
    assert!(counts.values().all(|c| *c == 1), "a line stored twice");
    for n in 40_000..43_000 {
        assert_eq!(counts.get(&format!("/item/{n}")), Some(&1), "/item/{n}");
    }
}

#[test]
fn a_sink_holding_epochs_the_checkpoint_does_not_know_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    append(&log, 0, 3000);
    let store = Arc::new(Mutex::new(MemoryStore::default()));
    run(&tmp.path().join("a"), &log, &store, None).unwrap();
    let e = run(&tmp.path().join("b"), &log, &store, None).unwrap_err();
    assert!(matches!(e, RuntimeError::Recovery(_)), "{e}");
    assert!(e.to_string().contains("holds epoch"), "{e}");
}

#[test]
fn an_unfinished_epoch_from_a_stream_is_reported_and_counted_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let store = Arc::new(Mutex::new(MemoryStore::default()));
    let stream = || {
        let text: String = (0..3).map(line).collect();
        SourceSpec::Custom {
            name: "stdin".into(),
            factory: Box::new(move |_: &hitstream_source::Checkpoint| {
                let src = hitstream_source::StreamSource::new(
                    "stdin",
                    std::io::Cursor::new(text.into_bytes()),
                    hitstream_source::LineLimits::default(),
                );
                Ok(
                    Box::new(hitstream_runtime::Stream::new("stdin", Box::new(src)))
                        as Box<dyn hitstream_runtime::RunSource>,
                )
            }),
        }
    };
    let sink = FailAt::new(MemorySink::new(store.clone()), Stage::AfterCommit, 1);
    let e = Pipeline::new(spec(&state, 0))
        .source(stream())
        .epoch_sink(Box::new(sink))
        .start()
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(e.to_string().contains(INJECTED), "{e}");
    let mut p = Pipeline::new(spec(&state, 0))
        .source(stream())
        .epoch_sink(Box::new(MemorySink::new(store.clone())));
    let events = p.subscribe();
    let st = p.start().unwrap().wait().unwrap();
    assert_eq!(st.counters.lost, 3);
    let notes: Vec<String> = events
        .try_iter()
        .filter_map(|e| match e {
            hitstream_runtime::Event::Note(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("epoch 1: 3 lines of stdin cannot be read again")),
        "{notes:?}"
    );
    // The first run's lines (committed before the crash) and the second run's.
    assert_eq!(store.lock().unwrap().lines.len(), 6);
}

#[test]
fn a_repeated_epoch_repeats_its_idle_advances() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.log");
    let state = tmp.path().join("state");
    let l = "1.2.3.4 - - [01/Jul/1995:10:00:00 -0400] \"GET / HTTP/1.0\" 200 10\n";
    std::fs::write(&log, l.repeat(3)).unwrap();
    let store = Arc::new(Mutex::new(MemoryStore::default()));
    // 1 s windows, no lateness: only an idle advance of the watermark closes the window of
    // 10:00:00. Epoch 1 holds the lines, epoch 2 the idle advance.
    let pipeline = |fail: Option<u64>| {
        let mut s = PipelineSpec::new(
            "common",
            EngineConfig {
                size: 1,
                lateness: 0,
                alerts: Vec::new(),
                ..EngineConfig::default()
            },
        );
        s.checkpoint_dir = Some(state.clone());
        s.checkpoint_interval = Duration::from_millis(200);
        s.idle_timeout = Duration::from_secs(1);
        let sink = MemorySink::new(store.clone());
        let p = Pipeline::new(s).source(SourceSpec::Files {
            paths: vec![log.display().to_string()],
            follow: true,
            poll_interval: Some(Duration::from_millis(20)),
        });
        match fail {
            Some(e) => p.epoch_sink(Box::new(FailAt::new(sink, Stage::BeforeCommit, e))),
            None => p.epoch_sink(Box::new(sink)),
        }
    };
    let e = pipeline(Some(2)).start().unwrap().wait().unwrap_err();
    assert!(e.to_string().contains(INJECTED), "{e}");
    assert!(
        store.lock().unwrap().windows.is_empty(),
        "nothing of epoch 2 stored"
    );

    // The restart repeats epoch 2, idle advance included, before it reads anything new: the
    // window is emitted with its 3 requests, and the line appended now comes as an update.
    // Without the recorded idle advance the window would still be open and be emitted once,
    // with 4.
    let h = pipeline(None).start().unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(l.as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    h.stop();
    h.wait().unwrap();
    let got: Vec<(u32, u64)> = store
        .lock()
        .unwrap()
        .windows
        .iter()
        .map(|w| (w.revision, w.requests))
        .collect();
    assert_eq!(got, [(0, 3), (1, 4)]);
}

/// A followed file (a live source: the wall clock bounds event times, its readings are
/// recorded in the epoch record) with one line dated 2099 in the middle: a crash at any
/// stage, a restart that repeats the epoch with the recorded readings, and the line is
/// counted `future` once, stored once, and in no window.
#[test]
fn a_repeated_epoch_of_a_live_source_judges_a_line_from_2099_alike() {
    let total = 12_000u64;
    // The file is read in one source batch: its epoch is the first.
    for (stage, epoch) in [(Stage::BeforeCommit, 1), (Stage::AfterCommit, 1)] {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("access.log");
        append(&log, 0, total / 2);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(
                b"6.6.6.6 - - [01/Jan/2099:00:00:00 +0000] \"GET /x HTTP/1.1\" 200 1 \"-\" \"t\"\n",
            )
            .unwrap();
        append(&log, total / 2, total);
        let state = tmp.path().join("state");
        let store = Arc::new(Mutex::new(MemoryStore::default()));
        let tail = || SourceSpec::Files {
            paths: vec![log.display().to_string()],
            follow: true,
            poll_interval: Some(Duration::from_millis(10)),
        };
        let sink = MemorySink::new(store.clone());
        let e = Pipeline::new(spec(&state, 0))
            .source(tail())
            .epoch_sink(Box::new(FailAt::new(sink, stage, epoch)))
            .start()
            .unwrap()
            .wait()
            .unwrap_err();
        assert!(e.to_string().contains(INJECTED), "{e}");
        let h = Pipeline::new(spec(&state, 0))
            .source(tail())
            .epoch_sink(Box::new(MemorySink::new(store.clone())))
            .start()
            .unwrap();
        let t0 = std::time::Instant::now();
        while h.status().counters.lines < total + 1 {
            assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", h.status());
            std::thread::sleep(Duration::from_millis(20));
        }
        h.stop();
        let st = h.wait().unwrap();
        let what = format!("{stage:?} of epoch {epoch}");
        assert_eq!((st.counters.future, st.counters.late), (1, 0), "{what}");
        let s = store.lock().unwrap();
        let counts = path_counts(&s.lines);
        assert_eq!(
            counts.get("/x"),
            Some(&1),
            "{what}: the 2099 line stored once"
        );
        assert_eq!(counts.len() as u64, total + 1, "{what}");
        assert!(counts.values().all(|c| *c == 1), "{what}");
        // Windows: every ordinary line once; the last minute may still be open at the stop.
        let got = window_counts(&s);
        let want = expected_windows(total);
        let last = *want.keys().last().unwrap();
        for (k, v) in &want {
            if *k < last {
                assert_eq!(got.get(k), Some(v), "{what}: window {k}");
            }
        }
        assert!(got.keys().all(|k| *k <= last), "{what}: no window of 2099");
    }
}
