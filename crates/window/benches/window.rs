//! File → parse → all windows and alerts, on one core, over the 200,000 real NASA lines.
//!
//! `cargo bench -p hitstream-window`. Each iteration builds a fresh engine, parses every line,
//! feeds it to a batch (16,384 lines a batch), applies the batches in order and finishes, so
//! the time covers the whole per-line path plus window firing, top-N, sketches and alerts.

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
    for (name, cfg) in [
        ("tumbling_60s_all_alerts", EngineConfig::tumbling(60, 60)),
        ("sliding_60s_10s_all_alerts", EngineConfig::sliding(60, 10, 60)),
        ("tumbling_5m_top10", EngineConfig::tumbling(300, 60)),
    ] {
        g.bench_function(name, |b| b.iter(|| run(&parser, &lines, &cfg)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
