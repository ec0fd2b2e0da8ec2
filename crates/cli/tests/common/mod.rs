//! Helpers shared by the end-to-end tests: the binary under test and the real logs in
//! ../shared/data. (Each test file uses only some of them.)
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The `hitstream` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hitstream"))
}

/// A file of the shared test data.
pub fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing {}: the tests read the real logs in ../shared/data beside the repository",
        p.display()
    );
    p
}

/// The first 200,000 lines of the NASA log of July 1995 (gzip).
pub const NASA: &str = "nasa-http-1995/NASA_access_log_Jul95.first200000.gz";

/// The text of [`NASA`].
pub fn nasa_text() -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(data(NASA)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The stdout of a successful run; fails the test with stderr otherwise.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "hitstream failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Creates `bucket` on the S3 emulator at `endpoint` (scripts/test starts one), with the
/// boto3 of the Python at `py`.
pub fn create_s3_bucket(py: &str, endpoint: &str, bucket: &str) {
    let made = std::process::Command::new(py)
        .args([
            "-c",
            &format!(
                "import boto3; boto3.client('s3', endpoint_url='{endpoint}', \
                 region_name='us-east-1', aws_access_key_id='test', \
                 aws_secret_access_key='test').create_bucket(Bucket='{bucket}')"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}
