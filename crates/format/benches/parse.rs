//! Parser throughput on real lines of each shape.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hitstream_format::{FormatSpec, Parser, Record};

const COMBINED: &[u8] = br#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#;
const COMMON: &[u8] =
    br#"piweba3y.prodigy.com - - [01/Jul/1995:00:00:09 -0400] "GET /shuttle/countdown/ HTTP/1.0" 200 3985"#;
const ESCAPED: &[u8] = br#"X.X.X.X - - [30/May/2020:07:24:56 -0400] "GET /api/v1/item?q=\x22a\x22 HTTP/1.1" 200 5 "-" "python-requests/2.22""#;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, fmt, line) in [
        ("combined", "combined", COMBINED),
        ("common", "common", COMMON),
        ("escaped", "nginx", ESCAPED),
    ] {
        let parser = Parser::new(FormatSpec::from_str_any(fmt).unwrap());
        let lines: Vec<u8> = std::iter::repeat_n(line, 1000)
            .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
            .collect();
        g.throughput(Throughput::Elements(1000));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut rec = Record::new();
                let mut n = 0u64;
                for l in lines.split(|&b| b == b'\n') {
                    if parser.parse(l, &mut rec).is_usable() {
                        n += u64::from(rec.status.unwrap_or(0));
                    }
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
