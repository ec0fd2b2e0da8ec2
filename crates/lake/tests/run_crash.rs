//! The lake as the run pipeline's epoch sink, crashed in process: the sink fails right after
//! an epoch's record is written (nothing committed), and right after its tables are
//! committed (before the checkpoint); the restarts repeat those epochs, and every table ends
//! equal to an uninterrupted run's. Faults come from the runtime's test helpers.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::arrow::util::display::{ArrayFormatter, FormatOptions};
use hitstream_lake::{Lake, LakeSink, RunSinkOptions, TableKind};
use hitstream_runtime::testing::{FailAt, Stage, INJECTED};
use hitstream_runtime::{Event, Pipeline, PipelineSpec, RuntimeError, SourceSpec};
use hitstream_window::EngineConfig;

/// The first `n` lines of the NASA log of July 1995, from ../shared/data.
fn nasa_head(dir: &Path, n: usize) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/nasa-http-1995/NASA_access_log_Jul95.first200000.gz");
    assert!(
        src.exists(),
        "missing {}: the tests read ../shared/data",
        src.display()
    );
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(src).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let end = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map(|(i, _)| i + 1)
        .unwrap();
    let p = dir.join("access.log");
    std::fs::File::create(&p)
        .unwrap()
        .write_all(&text[..end])
        .unwrap();
    p
}

fn run(log: &Path, lake: &Path, fail: Option<(Stage, u64)>) -> Result<Vec<String>, RuntimeError> {
    let mut spec = PipelineSpec::new(
        "nasa",
        EngineConfig {
            size: 60,
            ..EngineConfig::default()
        },
    );
    spec.checkpoint_dir = Some(lake.join("_checkpoint"));
    spec.checkpoint_interval = Duration::from_secs(3600);
    spec.max_buffered_rows = 5000;
    spec.threads = 2;
    let sink = LakeSink::open(lake.to_str().unwrap(), RunSinkOptions::default()).unwrap();
    let mut p = Pipeline::new(spec).source(SourceSpec::Files {
        paths: vec![log.display().to_string()],
        follow: false,
        poll_interval: None,
    });
    p = match fail {
        Some((stage, epoch)) => p.epoch_sink(Box::new(FailAt::new(sink, stage, epoch))),
        None => p.epoch_sink(Box::new(sink)),
    };
    let events = p.subscribe();
    p.start()?.wait()?;
    Ok(events
        .try_iter()
        .filter_map(|e| match e {
            Event::Note(n) => Some(n.to_string()),
            _ => None,
        })
        .collect())
}

/// Every row of every run table as text, sorted.
fn dump(lake: &Path) -> Vec<(String, Vec<String>)> {
    let mut l = Lake::open(lake.to_str().unwrap()).unwrap();
    let opts = FormatOptions::default();
    ["requests", "windows", "alerts", "rejects"]
        .into_iter()
        .map(|t| {
            let batches: Vec<RecordBatch> = l.sql(&format!("SELECT * FROM {t}")).unwrap();
            let mut rows = Vec::new();
            for b in &batches {
                let f: Vec<_> = b
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
                    .collect();
                for r in 0..b.num_rows() {
                    rows.push(
                        f.iter()
                            .map(|f| f.value(r).to_string())
                            .collect::<Vec<_>>()
                            .join("|"),
                    );
                }
            }
            rows.sort();
            (t.to_string(), rows)
        })
        .collect()
}

#[test]
fn crashes_before_and_after_an_epochs_commit_leave_the_tables_of_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let log = nasa_head(tmp.path(), 30_000);
    let clean = tmp.path().join("clean");
    run(&log, &clean, None).unwrap();
    let want = dump(&clean);
    assert_eq!(want[0].1.len(), 30_000, "every line in requests");

    let lake = tmp.path().join("lake");
    for (stage, epoch) in [(Stage::BeforeCommit, 2), (Stage::AfterCommit, 3)] {
        let e = run(&log, &lake, Some((stage, epoch))).unwrap_err();
        assert!(e.to_string().contains(INJECTED), "{e}");
    }
    let notes = run(&log, &lake, None).unwrap();
    assert!(
        notes.iter().any(|n| n.contains("repeating epoch 3")),
        "{notes:?}"
    );
    let got = dump(&lake);
    for ((t, w), (_, g)) in want.iter().zip(&got) {
        assert!(
            w == g,
            "table {t} differs from the clean run: {} rows vs {}",
            g.len(),
            w.len()
        );
    }
    // The epochs stored: the highest held by any table (an epoch without request rows, such
    // as the one that only closes the windows, commits nothing to `requests`).
    let mut l = Lake::open(lake.to_str().unwrap()).unwrap();
    let held = [TableKind::Requests, TableKind::Windows]
        .into_iter()
        .filter_map(|k| l.committed(k, hitstream_lake::RUN_APP).unwrap())
        .max();
    assert!(held.is_some_and(|v| v >= 3), "{held:?}");
}
