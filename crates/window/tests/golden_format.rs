//! Golden tests of what the engine persists. A checkpoint written by one build of hitstream
//! must be read by the next one of the same format version, so every persisted byte is
//! pinned here: a snapshot of a small engine built from fixed lines (panes, client maps,
//! HyperLogLog registers, quantile sketches, counters, the checksum) is compared byte for
//! byte with `tests/golden/snapshot.hex`.
//!
//! When this fails, a persisted byte changed. If that was intended, bump `SNAPSHOT_VERSION`,
//! teach `Engine::restore` to migrate the previous version (as `engine/v2.rs` does for
//! version 2, tested by `tests/upgrade_v2.rs` with a snapshot the old code wrote), and rewrite
//! the fixture with `HITSTREAM_BLESS=1 cargo test -p hitstream-window --test golden_format`.
//! A dependency update that changes a byte (a hash, an encoding) fails here before it ships.

mod common;

use common::{feed, line};
use hitstream_window::{Engine, EngineConfig, SNAPSHOT_VERSION};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot.hex");

/// The engine state of the fixture: three minutes of a small site, windows still open.
fn engine() -> Engine {
    let clients = [
        "piweba3y.prodigy.com",
        "199.72.81.55",
        "unicomp6.unicomp.net",
        "burger.letters.com",
        "d104.aa.net",
        "2001:db8::1",
    ];
    let paths = [
        "/",
        "/images/NASA-logosmall.gif",
        "/shuttle/countdown/",
        "/nope",
    ];
    let mut lines = Vec::new();
    for i in 0..48i64 {
        let c = clients[(i * 7 % 6) as usize];
        let p = paths[(i % 4) as usize];
        let status = if p == "/nope" { 404 } else { 200 };
        let method = if i % 11 == 0 { "HEAD" } else { "GET" };
        lines.push(line(
            c,
            3600 + i * 4,
            method,
            p,
            status,
            (i as u64 * 977) % 9000,
        ));
    }
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let mut e = Engine::new(EngineConfig::tumbling(60, 60)).unwrap();
    let run = feed(&mut e, &refs, 7);
    assert!(!run.windows.is_empty(), "some windows close");
    assert!(e.stats().panes > 0, "some state is still held");
    e
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.chunks(32) {
        for b in chunk {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\n');
    }
    s
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[test]
fn snapshot_bytes_match_the_committed_fixture() {
    let bytes = engine().snapshot();
    assert_eq!(bytes, engine().snapshot(), "equal states give equal bytes");
    assert_eq!(bytes[7], SNAPSHOT_VERSION);
    let again = Engine::restore(&bytes).unwrap().snapshot();
    assert_eq!(again, bytes, "restore then snapshot gives the same bytes");

    if std::env::var_os("HITSTREAM_BLESS").is_some() {
        std::fs::write(FIXTURE, hex(&bytes)).unwrap();
        return;
    }
    let fixture = unhex(&std::fs::read_to_string(FIXTURE).unwrap());
    if fixture == bytes {
        return;
    }
    let at = fixture
        .iter()
        .zip(&bytes)
        .position(|(a, b)| a != b)
        .unwrap_or(fixture.len().min(bytes.len()));
    if fixture.get(7) == Some(&SNAPSHOT_VERSION) {
        panic!(
            "the bytes of a window snapshot changed (first difference at byte {at} of {}; the \
             fixture has {}) while SNAPSHOT_VERSION stayed {SNAPSHOT_VERSION}: checkpoints \
             written before would be misread. If the change is intended, bump SNAPSHOT_VERSION \
             and rewrite {FIXTURE} with HITSTREAM_BLESS=1",
            bytes.len(),
            fixture.len()
        );
    }
    panic!(
        "{FIXTURE} holds a snapshot of version {:?}, this build writes version \
         {SNAPSHOT_VERSION}: rewrite it with HITSTREAM_BLESS=1",
        fixture.get(7)
    );
}

#[test]
fn the_fixture_restores_and_goes_on_like_the_engine_it_came_from() {
    if std::env::var_os("HITSTREAM_BLESS").is_some() {
        return;
    }
    let fixture = unhex(&std::fs::read_to_string(FIXTURE).unwrap());
    let mut restored = Engine::restore(&fixture).expect("the committed snapshot restores");
    let mut fresh = engine();
    assert_eq!(restored.finish(), fresh.finish());
    assert_eq!(restored.stats(), fresh.stats());
}

#[test]
fn a_damaged_snapshot_is_refused() {
    let mut bytes = engine().snapshot();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let e = Engine::restore(&bytes).expect_err("damage is found");
    assert!(e.to_string().contains("checksum"), "{e}");
}
