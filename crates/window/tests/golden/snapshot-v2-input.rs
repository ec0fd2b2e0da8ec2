//! The input of the version-2 snapshot fixture (`snapshot-v2.bin`), shared with the test that
//! wrote it: hitstream at commit 35cb7e1 ran an engine over `before()`, saved its snapshot,
//! then fed `after()`, finished, and saved what came out (`snapshot-v2-expected.json`).
//! Do not change a byte of it: the fixture was made from exactly these lines.

/// Sliding windows of two minutes every minute, 60 s of lateness, two batches in flight.
pub fn config() -> hitstream_window::EngineConfig {
    let mut c = hitstream_window::EngineConfig::sliding(120, 60, 60);
    c.in_flight = 2;
    c
}

/// Lines per batch.
pub const BATCH: usize = 97;

fn client(i: u64) -> String {
    format!("10.{}.{}.{}", i / 65_536 % 256, i / 256 % 256, i % 256)
}

/// `n` lines in the minute starting `minute` minutes after 01:00 on 1 Jul 1995, of clients
/// `first..first + clients` in turn.
fn minute(minute: i64, n: u64, first: u64, clients: u64) -> Vec<Vec<u8>> {
    let paths = [
        "/",
        "/images/NASA-logosmall.gif",
        "/shuttle/countdown/",
        "/nope",
    ];
    (0..n)
        .map(|i| {
            let p = paths[(i % 4) as usize];
            let status = if p == "/nope" { 404 } else { 200 };
            let method = if i % 13 == 0 { "HEAD" } else { "GET" };
            let t = 3600 + minute * 60 + (i * 59 / n.max(1)) as i64;
            let c = client(first + i % clients);
            crate::common::line(&c, t, method, p, status, (i * 977) % 9000)
        })
        .collect()
}

/// A scanner: `n` 404s of one client in the minute `minute`.
fn scanner(minute: i64, n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let t = 3600 + minute * 60 + (i * 59 / n) as i64;
            crate::common::line("203.0.113.9", t, "GET", &format!("/admin{i}.php"), 404, 0)
        })
        .collect()
}

/// Four minutes: small ones (with a scanner: an alert and its cooldown), then one of 2,600
/// distinct clients (a dense HyperLogLog) with a scanner. Its windows are still open at the
/// snapshot.
pub fn before() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    v.extend(minute(0, 400, 0, 150));
    let mut m1 = minute(1, 500, 100, 300);
    for (i, l) in scanner(1, 60).into_iter().enumerate() {
        m1.insert(i * 8, l);
    }
    v.extend(m1);
    v.extend(minute(2, 600, 200, 400));
    let mut m3 = minute(3, 2_600, 0, 2_600);
    for (i, l) in scanner(3, 60).into_iter().enumerate() {
        m3.insert(i * 40, l);
    }
    v.extend(m3);
    v
}

/// Clients seen before come back, in the open minute 3 and in the minutes after it, with
/// new ones among them.
pub fn after() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    v.extend(minute(3, 500, 1_000, 2_000));
    v.extend(minute(4, 1_500, 500, 1_500));
    v.extend(minute(5, 700, 250, 700));
    v
}
