//! Generator throughput in lines per second, per format, into a reused buffer (no I/O).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hitstream_gen::{parse_weighted_paths, GenConfig, Generator, PathSource};

const LINES: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("gen");
    g.throughput(Throughput::Elements(LINES));
    let weighted = PathSource::Weighted(
        parse_weighted_paths("/product1=50,/product2=25,/product3=15,/product4=8,/product5=2")
            .unwrap(),
    );
    let cases = [
        ("combined", GenConfig::default()),
        (
            "vcombined",
            GenConfig {
                format: "vcombined".into(),
                ..GenConfig::default()
            },
        ),
        (
            "main",
            GenConfig {
                format: "main".into(),
                ..GenConfig::default()
            },
        ),
        (
            "common",
            GenConfig {
                format: "common".into(),
                ..GenConfig::default()
            },
        ),
        (
            "combined_weighted_paths",
            GenConfig {
                paths: weighted,
                ..GenConfig::default()
            },
        ),
    ];
    for (name, config) in cases {
        let mut generator = Generator::new(config).unwrap();
        let mut buf = Vec::with_capacity(4 << 20);
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                generator.fill(&mut buf, LINES);
                buf.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
