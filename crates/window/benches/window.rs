//! File → parse → all windows and alerts, on one core, over the 200,000 real NASA lines.
//!
//! `cargo bench -p hitstream-window`. Each iteration builds a fresh engine, parses every line,
//! feeds it to a batch (16,384 lines a batch), applies the batches in order and finishes, so
//! the time covers the whole per-line path plus window firing, top-N, sketches and alerts.
//!
//! Two time bases: the log as written (July 1995: about one line a second, so a 10 s pane
//! holds ~10 lines and the cost per emitted window dominates), and the same lines with their
//! timestamps rewritten to 10,000 lines a second (the rate of the 24-hour memory target),
//! where the per-line path dominates.

use std::io::Read;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_window::{Engine, EngineConfig};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/nasa-http-1995/NASA_access_log_Jul95.first200000.gz"
);
const BATCH: usize = 16_384;

fn nasa() -> Vec<u8> {
    let raw = std::fs::read(Path::new(DATA)).expect("shared/data beside the repository clone");
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The lines with their timestamps rewritten so that line `i` happens at `i / rate` seconds.
fn at_rate(lines: &[&[u8]], rate: usize) -> Vec<Vec<u8>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let open = l.iter().position(|b| *b == b'[').unwrap();
            let t = i / rate;
            let stamp = format!(
                "[01/Jul/1995:{:02}:{:02}:{:02} -0400]",
                t / 3600,
                t / 60 % 60,
                t % 60
            );
            let mut out = l[..open].to_vec();
            out.extend_from_slice(stamp.as_bytes());
            out.extend_from_slice(&l[open + stamp.len()..]);
            out
        })
        .collect()
}

fn run(parser: &Parser, lines: &[&[u8]], cfg: &EngineConfig) -> u64 {
    let mut e = Engine::new(cfg.clone()).unwrap();
    let mut rec = Record::new();
    let mut emitted = 0;
    for chunk in lines.chunks(BATCH) {
        let mut b = e.new_batch();
        for l in chunk {
            if parser.parse(l, &mut rec).is_usable() {
                b.add(&rec);
            }
        }
        let out = e.apply(b).unwrap();
        emitted += out.windows.len() + out.alerts.len();
    }
    emitted += e.finish().windows.len();
    emitted as u64
}

fn bench(c: &mut Criterion) {
    let text = nasa();
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let parser = Parser::new(FormatSpec::from_str_any("common").unwrap());
    let mut g = c.benchmark_group("nasa_200k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let mut rec = Record::new();
            let mut n = 0u64;
            for l in &lines {
                if parser.parse(l, &mut rec).is_usable() {
                    n += u64::from(rec.status.unwrap_or(0));
                }
            }
            n
        })
    });
    let dense = at_rate(&lines, 10_000);
    let dense: Vec<&[u8]> = dense.iter().map(|l| &l[..]).collect();
    for (name, cfg) in [
        ("tumbling_60s", EngineConfig::tumbling(60, 60)),
        ("sliding_60s_10s", EngineConfig::sliding(60, 10, 60)),
        ("tumbling_5m", EngineConfig::tumbling(300, 60)),
    ] {
        g.bench_function(format!("as_logged/{name}"), |b| {
            b.iter(|| run(&parser, &lines, &cfg))
        });
        g.bench_function(format!("10k_per_s/{name}"), |b| {
            b.iter(|| run(&parser, &dense, &cfg))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
