//! The lake's hot path when loading: parsed lines into `requests` column builders, and
//! rows read back into records for reports.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_rows::{RequestReader, RequestRows};

const COMBINED: &[u8] = br#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#;

fn bench(c: &mut Criterion) {
    let parser = Parser::new(FormatSpec::from_str_any("combined").unwrap());
    let mut rec = Record::new();
    assert!(parser.parse(COMBINED, &mut rec).is_usable());
    let mut g = c.benchmark_group("rows");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("parse+push combined", |b| {
        let mut rows = RequestRows::new();
        b.iter(|| {
            let mut rec = Record::new();
            for i in 0..10_000u64 {
                parser.parse(COMBINED, &mut rec);
                rows.push(&rec, &[], "bench.log", Some(i * 300));
            }
            rows.finish().num_rows()
        })
    });
    let mut rows = RequestRows::new();
    for i in 0..10_000u64 {
        rows.push(&rec, &[], "bench.log", Some(i * 300));
    }
    let batch = rows.finish();
    g.bench_function("read back", |b| {
        b.iter(|| {
            let r = RequestReader::new(&batch).unwrap();
            let mut back = Record::new();
            let mut n = 0u64;
            for row in 0..batch.num_rows() {
                r.read(row, &mut back);
                n += u64::from(back.status.unwrap_or(0));
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
