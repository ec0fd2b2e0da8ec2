//! Helpers shared by the integration tests: the real NASA log, synthetic lines, and a driver
//! that runs an engine over lines in batches.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_window::{Alert, Engine, EngineConfig, EngineStats, LateLine, Output, WindowResult};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// 1995-07-01T00:00:00Z.
pub const JUL1_1995: i64 = 804_556_800;

/// The 200,000 lines of the NASA July 1995 slice, without line endings.
pub fn nasa() -> &'static [Vec<u8>] {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let path = Path::new(DATA).join("nasa-http-1995/NASA_access_log_Jul95.first200000.gz");
        let raw = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "shared test data not found at {} ({e}); these tests need `shared/data/` \
                 beside the repository clone",
                path.display()
            )
        });
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut text)
            .expect("gunzip");
        let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(|l| l.to_vec()).collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        assert_eq!(lines.len(), 200_000);
        lines
    })
}

pub fn parser() -> Parser {
    Parser::new(FormatSpec::from_str_any("common").unwrap())
}

/// A common-log line at `t` seconds after 1995-07-01T00:00:00Z (offset +0000).
pub fn line(client: &str, t: i64, method: &str, path: &str, status: u16, bytes: u64) -> Vec<u8> {
    assert!((0..28 * 86_400).contains(&t));
    let (d, r) = (t / 86_400, t % 86_400);
    format!(
        "{client} - - [{:02}/Jul/1995:{:02}:{:02}:{:02} +0000] \"{method} {path} HTTP/1.0\" {status} {bytes}",
        d + 1,
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
    .into_bytes()
}

/// Everything a run produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Run {
    pub windows: Vec<WindowResult>,
    pub alerts: Vec<Alert>,
    pub late: Vec<LateLine>,
    pub stats: EngineStats,
    /// Index in `windows` of the first window closed by `Engine::finish`.
    pub closed_at_end: usize,
}

impl Run {
    pub fn absorb(&mut self, o: Output) {
        self.windows.extend(o.windows);
        self.alerts.extend(o.alerts);
        self.late.extend(o.late);
    }

    /// The last emission of every window, by start.
    pub fn finals(&self) -> BTreeMap<i64, &WindowResult> {
        let mut m = BTreeMap::new();
        for w in &self.windows {
            let prev = m.insert(w.window_start, w);
            if let Some(p) = prev {
                assert_eq!(p.revision + 1, w.revision, "revisions in order");
            }
        }
        m
    }
}

/// Feeds `lines` to `engine` in batches of `batch` lines (single-threaded), then finishes.
pub fn run_engine(engine: &mut Engine, lines: &[&[u8]], batch: usize) -> Run {
    let mut run = feed(engine, lines, batch);
    run.absorb(engine.finish());
    run.stats = engine.stats();
    run
}

/// Feeds `lines` in batches without finishing.
pub fn feed(engine: &mut Engine, lines: &[&[u8]], batch: usize) -> Run {
    let parser = parser();
    let mut run = Run::default();
    let mut rec = Record::new();
    for chunk in lines.chunks(batch.max(1)) {
        let mut b = engine.new_batch();
        for l in chunk {
            if parser.parse(l, &mut rec).is_usable() {
                b.add(&rec);
            }
        }
        run.absorb(engine.apply(b).unwrap());
    }
    run.stats = engine.stats();
    run
}

pub fn run(cfg: EngineConfig, lines: &[&[u8]], batch: usize) -> Run {
    let mut e = Engine::new(cfg).unwrap();
    run_engine(&mut e, lines, batch)
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// UTC seconds of a NASA line, read from its text (`[dd/Jul/1995:HH:MM:SS -0400]`), without
/// the parser.
pub fn nasa_time(line: &[u8]) -> i64 {
    let s = std::str::from_utf8(&line[..line.iter().position(|b| *b == b']').unwrap()])
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(line)));
    let open = s.find('[').unwrap();
    let t = &s[open + 1..];
    assert_eq!(&t[2..12], "/Jul/1995:", "{s}");
    assert!(t.ends_with(" -0400"), "{s}");
    let num = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap();
    let (d, h, m, sec) = (num(0, 2), num(12, 14), num(15, 17), num(18, 20));
    JUL1_1995 + (d - 1) * 86_400 + h * 3600 + m * 60 + sec + 4 * 3600
}
