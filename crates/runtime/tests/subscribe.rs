//! Several readers of one pipeline: the console and the live view (and the HTTP server next)
//! each subscribe and see the same events in the same order; a reader that goes away does
//! not stop the pipeline; the status counts what the events show.

use std::io::Write;
use std::time::Duration;

use hitstream_runtime::{Event, Phase, Pipeline, PipelineSpec, SourceSpec};
use hitstream_window::EngineConfig;

fn summary(ev: &Event) -> Option<String> {
    match ev {
        Event::Window(w) => Some(format!(
            "w {} {} {}",
            w.window_start, w.revision, w.requests
        )),
        Event::Alert(a) => Some(format!("a {} {}", a.rule, a.key)),
        Event::Note(n) => Some(format!("n {n}")),
        Event::Checkpoint { epoch } => Some(format!("c {epoch}")),
        Event::End => None,
    }
}

#[test]
fn two_readers_side_by_side_see_the_same_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let mut f = std::fs::File::create(&log).unwrap();
    for n in 0..5000u32 {
        writeln!(
            f,
            "10.0.0.{} - - [25/Jul/2024:10:{:02}:{:02} +0000] \"GET /p{} HTTP/1.1\" {} 100",
            n % 9,
            (n / 600) % 60,
            (n / 10) % 60,
            n % 13,
            if n % 17 == 0 { 404 } else { 200 }
        )
        .unwrap();
    }
    drop(f);
    let mut spec = PipelineSpec::new(
        "common",
        EngineConfig {
            size: 60,
            ..EngineConfig::default()
        },
    );
    spec.checkpoint_dir = Some(tmp.path().join("state"));
    spec.checkpoint_interval = Duration::from_millis(1);
    let mut p = Pipeline::new(spec).source(SourceSpec::Files {
        paths: vec![log.display().to_string()],
        follow: false,
        poll_interval: None,
    });
    let console = p.subscribe();
    let view = p.subscribe();
    let gone = p.subscribe();
    drop(gone);
    let h = p.start().unwrap();
    let readers: Vec<_> = [console, view]
        .into_iter()
        .map(|rx| {
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for ev in rx.iter() {
                    match summary(&ev) {
                        Some(s) => seen.push(s),
                        None => return (seen, true),
                    }
                }
                (seen, false)
            })
        })
        .collect();
    let st = h.wait().unwrap();
    let got: Vec<(Vec<String>, bool)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(got.iter().all(|(_, ended)| *ended), "both saw the end");
    assert_eq!(got[0].0, got[1].0);
    let windows = got[0].0.iter().filter(|s| s.starts_with("w ")).count() as u64;
    assert_eq!(windows, st.counters.windows);
    let requests: u64 = got[0]
        .0
        .iter()
        .filter(|s| s.starts_with("w "))
        .map(|s| s.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, 5000);
    assert!(
        got[0].0.iter().any(|s| s.starts_with("c ")),
        "checkpoints are announced"
    );
    assert_eq!(st.phase, Phase::Ended);
    assert_eq!(st.counters.lines, 5000);
}
