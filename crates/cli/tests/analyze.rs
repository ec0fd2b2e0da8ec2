//! End-to-end tests of `hitstream analyze`: the real binary on real logs from ../shared/data
//! (expected numbers from each folder's PROVENANCE.md, not from hitstream) and on small
//! hand-written inputs whose expected numbers are worked out by hand.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

mod common;
use common::{data, days_from_civil};

fn hs() -> Command {
    Command::cargo_bin("hitstream").unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = hs()
        .arg("analyze")
        .args(args)
        .args(["--output", "json", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hitstream analyze {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status(r: &Value, code: u64) -> u64 {
    r["status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == code)
        .map_or(0, |s| s["count"].as_u64().unwrap())
}

fn named(list: &Value, name: &str) -> u64 {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map_or(0, |s| s["count"].as_u64().unwrap())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn nasa_matches_provenance() {
    let f = data("nasa-http-1995/NASA_access_log_Jul95.first200000.gz");
    let r = json(&[s(&f)]);
    assert_eq!(r["schema"], "hitstream.analyze/1");
    assert_eq!(r["meta"]["format"], "common");
    let t = &r["totals"];
    assert_eq!(t["lines"], 200_000);
    assert_eq!(t["rejected"], 0);
    assert_eq!(t["requests"], 200_000);
    // Days and hours in UTC by default: the log's -0400 plus four hours.
    assert_eq!(r["meta"]["time_basis"], "UTC");
    assert_eq!(t["first_local"], "1995-07-01 04:00:01");
    assert_eq!(t["last_local"], "1995-07-03 23:59:13");
    assert_eq!(t["first"], "1995-07-01T04:00:01Z");
    assert_eq!(r["unique_hosts"], 14_867);
    // PROVENANCE counts lines matching a strict regex; the 4 lines with an unescaped quote
    // (all `404 -` GETs) fail it and are recovered here, so they add to 404, GET and `-`.
    assert_eq!(status(&r, 200), 180_766);
    assert_eq!(status(&r, 304), 10_704);
    assert_eq!(status(&r, 302), 7_480);
    assert_eq!(status(&r, 404), 986 + 4);
    assert_eq!(status(&r, 500), 53);
    assert_eq!(status(&r, 403), 7);
    assert_eq!(named(&r["methods"], "GET"), 199_746 + 4);
    assert_eq!(named(&r["methods"], "HEAD"), 230);
    assert_eq!(named(&r["methods"], "POST"), 20);
    assert_eq!(r["content_size"]["absent"], 1_981 + 4);
    assert_eq!(named(&r["degraded"], "unescaped_quote"), 4);
    assert_eq!(named(&r["degraded"], "non_utf8"), 2);
    assert_eq!(r["not_found"]["count"], 990);
    assert_eq!(r["daily"].as_array().unwrap().len(), 3);
    assert_eq!(r["hourly"].as_array().unwrap().len(), 24);
    assert!(r["top_referers"].is_null(), "common format has no referers");
}

#[test]
fn elastic_apache_matches_provenance() {
    let r = json(&[s(&data("elastic-apache-logs-2015/apache_logs"))]);
    assert_eq!(r["meta"]["format"], "combined");
    assert_eq!(r["totals"]["lines"], 10_000);
    assert_eq!(r["totals"]["rejected"], 0);
    assert_eq!(r["unique_hosts"], 1_753);
    // PROVENANCE counts lines a strict regex matches; line 8899 (a 200 with an unterminated
    // user agent) fails it and is recovered here.
    for (code, n) in [
        (200, 9_125 + 1),
        (304, 445),
        (404, 213),
        (301, 164),
        (206, 45),
        (500, 3),
        (403, 2),
        (416, 2),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    for (m, n) in [
        ("GET", 9_951 + 1),
        ("HEAD", 42),
        ("POST", 5),
        ("OPTIONS", 1),
    ] {
        assert_eq!(named(&r["methods"], m), n, "method {m}");
    }
    assert_eq!(r["content_size"]["absent"], 669);
    // Line 8899 has an unterminated user agent: kept, flagged.
    assert_eq!(named(&r["degraded"], "unterminated_quote"), 1);
    assert_eq!(r["totals"]["first_local"], "2015-05-17 10:05:00");
    assert_eq!(r["totals"]["last_local"], "2015-05-20 21:05:59");
    assert!(r["agents"]["bots"].as_u64().unwrap() > 0);
}

#[test]
fn elastic_nginx_gz_with_ipv6() {
    let r = json(&[s(&data("elastic-nginx-logs-2015/nginx_logs.txt.gz"))]);
    assert_eq!(r["totals"]["lines"], 51_462);
    assert_eq!(r["totals"]["rejected"], 0);
    assert_eq!(r["unique_hosts"], 2_660);
    for (code, n) in [
        (404, 33_876),
        (304, 13_330),
        (200, 4_028),
        (206, 186),
        (403, 38),
        (416, 4),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    assert_eq!(named(&r["methods"], "GET"), 51_379);
    assert_eq!(named(&r["methods"], "HEAD"), 83);
    assert_eq!(r["totals"]["first_local"], "2015-05-17 08:05:00");
    assert_eq!(r["totals"]["last_local"], "2015-06-04 07:06:52");
}

#[test]
fn kitware_statuses_and_junk() {
    let r = json(&[s(&data("kitware-nginx-2020/access.log.10.gz"))]);
    assert_eq!(r["totals"]["lines"], 66_772);
    assert_eq!(r["totals"]["rejected"], 0);
    for (code, n) in [
        (200, 28_210),
        (206, 22_731),
        (404, 11_415),
        (400, 2_325),
        (303, 1_814),
        (301, 100),
        (304, 94),
        (401, 25),
        (405, 22),
        (499, 21),
        (503, 12),
        (403, 3),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    // Every client is the redaction `X.X.X.X`.
    assert_eq!(r["unique_hosts"], 1);
    assert_eq!(r["top_hosts"][0]["host"], "X.X.X.X");
    // Written at -0400; the buckets are UTC.
    assert_eq!(r["totals"]["first_local"], "2020-05-30 10:25:26");
    assert_eq!(r["totals"]["last_local"], "2020-05-31 10:20:55");
}

#[test]
fn debian_rotation_set_in_time_order() {
    let dir = data("apache-debian-rotated-2024");
    // Give the files newest first, as `ls` would: they must be read oldest first.
    let mut files: Vec<String> = vec![s(&dir.join("access.log")).to_string()];
    files.push(s(&dir.join("access.log.1")).to_string());
    for i in 2..=14 {
        files.push(s(&dir.join(format!("access.log.{i}.gz"))).to_string());
    }
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let r = json(&args);
    let inputs = r["meta"]["inputs"].as_array().unwrap();
    assert!(inputs[0].as_str().unwrap().ends_with("access.log.14.gz"));
    assert!(inputs[14].as_str().unwrap().ends_with("access.log"));
    assert_eq!(r["totals"]["lines"], 3_738);
    assert_eq!(r["totals"]["rejected"], 0);
    assert_eq!(r["unique_hosts"], 883);
    for (code, n) in [
        (200, 1_889),
        (404, 1_234),
        (400, 567),
        (405, 26),
        (304, 9),
        (403, 8),
        (408, 5),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    assert_eq!(r["daily"].as_array().unwrap().len(), 15);
    assert!(r["totals"]["first_local"]
        .as_str()
        .unwrap()
        .starts_with("2024-07-23"));
    assert!(r["totals"]["last_local"]
        .as_str()
        .unwrap()
        .starts_with("2024-08-06 18:58:06"));
}

#[test]
fn vhost_combined_and_vhost_filter() {
    let dir = data("apache-debian-rotated-2024");
    let mut files: Vec<String> = vec![
        s(&dir.join("other_vhosts_access.log")).to_string(),
        s(&dir.join("other_vhosts_access.log.1")).to_string(),
    ];
    for i in 2..=14 {
        files.push(s(&dir.join(format!("other_vhosts_access.log.{i}.gz"))).to_string());
    }
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let r = json(&args);
    assert_eq!(r["meta"]["format"], "vcombined");
    assert_eq!(r["totals"]["lines"], 25_070);
    assert_eq!(r["totals"]["rejected"], 0);
    assert_eq!(r["unique_hosts"], 611);
    for (code, n) in [
        (200, 24_600),
        (400, 398),
        (404, 34),
        (201, 12),
        (403, 10),
        (408, 9),
        (401, 3),
        (301, 2),
        (304, 2),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    assert_eq!(named(&r["vhosts"], "neutralbank.app"), 25_070);
    let mut a = args.clone();
    a.extend(["--vhost", "NEUTRALBANK.app"]);
    assert_eq!(json(&a)["totals"]["requests"], 25_070);
    let mut a = args.clone();
    a.extend(["--vhost", "other.example"]);
    let f = json(&a);
    assert_eq!(f["totals"]["requests"], 0);
    assert_eq!(f["totals"]["filtered"], 25_070);
}

#[test]
fn imooc_custom_nginx_format() {
    let fmt = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#;
    let r = json(&[
        s(&data("imooc-nginx-2016/10000_access.log")),
        "--format",
        fmt,
    ]);
    assert_eq!(r["meta"]["format"], "custom");
    assert_eq!(r["totals"]["lines"], 10_000);
    assert_eq!(r["totals"]["rejected"], 0);
    assert_eq!(r["unique_hosts"], 1_976);
    for (code, n) in [
        (301, 4_704),
        (200, 4_546),
        (101, 298),
        (304, 260),
        (404, 77),
        (206, 48),
    ] {
        assert_eq!(status(&r, code), n, "status {code}");
    }
    for (m, n) in [("HEAD", 4_790), ("POST", 2_670), ("GET", 2_540)] {
        assert_eq!(named(&r["methods"], m), n, "method {m}");
    }
    assert_eq!(r["request_time"]["count"], 10_000);
    // Written at +0800; the buckets are UTC.
    assert_eq!(r["totals"]["first_local"], "2016-11-09 16:01:02");
    assert_eq!(r["totals"]["last_local"], "2016-11-09 16:01:53");
}

const SMALL: &str = "\
1.1.1.1 - - [01/Jan/2024:23:30:00 -0400] \"GET /a?x=1 HTTP/1.1\" 200 100 \"-\" \"Mozilla/5.0\"
1.1.1.1 - - [01/Jan/2024:23:40:00 -0400] \"GET /a?x=2 HTTP/1.1\" 404 - \"-\" \"Googlebot/2.1\"
2.2.2.2 - - [02/Jan/2024:00:10:00 -0400] \"POST /b/c HTTP/1.1\" 500 50 \"http://r.example/\" \"curl/8.0\"
this line is garbage
3.3.3.3 - - [02/Jan/2024:10:00:00 -0400] \"GET /b HTTP/1.1\" 304 - \"-\" \"Mozilla/5.0\"

";

fn small_file(dir: &Path) -> PathBuf {
    let p = dir.join("small.log");
    std::fs::write(&p, SMALL).unwrap();
    p
}

#[test]
fn small_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    let r = json(&[s(&f), "--format", "combined"]);
    let t = &r["totals"];
    assert_eq!(t["lines"], 6); // 4 good, 1 garbage, 1 empty
    assert_eq!(t["ok"], 4);
    assert_eq!(t["rejected"], 2);
    assert_eq!(t["requests"], 4);
    assert_eq!(t["bytes"], 150);
    assert_eq!(named(&r["rejected"], "format_mismatch"), 1);
    assert_eq!(named(&r["rejected"], "empty_line"), 1);
    assert_eq!(r["unique_hosts"], 3);
    assert_eq!(r["top_endpoints"][0]["endpoint"], "/a");
    assert_eq!(r["top_endpoints"][0]["requests"], 2);
    // Errors are 4xx and 5xx: /a (404), /b/c (500). Non-200 adds /b (304).
    assert_eq!(r["top_error_endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(r["totals"]["errors"], 2);
    assert_eq!(r["top_non_200_endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(r["not_found"]["count"], 1);
    assert_eq!(r["not_found"]["top_hosts"][0]["name"], "1.1.1.1");
    assert_eq!(r["content_size"]["count"], 2);
    assert_eq!(r["content_size"]["absent"], 2);
    assert_eq!(r["content_size"]["p50"], 50);
    assert_eq!(r["content_size"]["max"], 100);
    assert_eq!(r["content_size"]["mean"], 75.0);
    // In UTC (the default) every request is on Jan 2: 03:30, 03:40, 04:10 and 14:00.
    let daily = r["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0]["day"], "2024-01-02");
    assert_eq!(daily[0]["requests"], 4);
    assert_eq!(daily[0]["unique_hosts"], 3);
    assert_eq!(r["hourly"][3]["requests"], 2);
    assert_eq!(r["hourly"][3]["not_found"], 1);
    assert_eq!(r["hourly"][4]["requests"], 1);
    assert_eq!(r["hourly"][14]["requests"], 1);
    // Days as written: Jan 1 has 2 requests from 1 host, Jan 2 has 2 from 2 hosts.
    let r = json(&[s(&f), "--format", "combined", "--tz", "as-written"]);
    assert_eq!(r["meta"]["time_basis"], "as-written");
    let daily = r["daily"].as_array().unwrap();
    assert_eq!(daily[0]["day"], "2024-01-01");
    assert_eq!(daily[0]["requests"], 2);
    assert_eq!(daily[0]["unique_hosts"], 1);
    assert_eq!(daily[0]["avg_requests_per_host"], 2.0);
    assert_eq!(daily[1]["unique_hosts"], 2);
    assert_eq!(r["hourly"][23]["requests"], 2);
    assert_eq!(r["hourly"][23]["not_found"], 1);
    assert_eq!(r["agents"]["bots"], 1);
    assert_eq!(r["agents"]["tools"], 1);
    assert_eq!(named(&r["top_referers"], "http://r.example/"), 1);
    assert_eq!(r["reject_samples"][0]["line"], 4);
}

#[test]
fn filters_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    let f = s(&f);
    let q = |extra: &[&str]| {
        let mut a = vec![f, "--format", "combined"];
        a.extend_from_slice(extra);
        json(&a)
    };
    assert_eq!(q(&["--status", "404"])["totals"]["requests"], 1);
    assert_eq!(q(&["--status", "4xx,5xx"])["totals"]["requests"], 2);
    assert_eq!(q(&["--status", "300-399"])["totals"]["requests"], 1);
    assert_eq!(q(&["--path-prefix", "/b"])["totals"]["requests"], 2);
    // Local dates as written.
    let w = |extra: &[&str]| {
        let mut a = vec!["--tz", "as-written"];
        a.extend_from_slice(extra);
        q(&a)["totals"]["requests"].clone()
    };
    assert_eq!(w(&["--from", "2024-01-02"]), 2);
    assert_eq!(w(&["--to", "2024-01-01"]), 2);
    assert_eq!(
        w(&["--from", "2024-01-01T23:35", "--to", "2024-01-02T00:10"]),
        1
    );
    // Dates in UTC, the default: every request is on Jan 2 (03:30Z to 14:00Z).
    assert_eq!(q(&["--from", "2024-01-02"])["totals"]["requests"], 4);
    assert_eq!(q(&["--to", "2024-01-01"])["totals"]["requests"], 0);
    assert_eq!(
        q(&["--from", "2024-01-02T03:35", "--to", "2024-01-02T04:10"])["totals"]["requests"],
        1
    );
    // An instant: 2024-01-02T04:00Z is 00:00 at -04:00.
    assert_eq!(
        q(&["--from", "2024-01-02T04:00:00Z"])["totals"]["requests"],
        2
    );
    // In UTC all four requests fall on Jan 2 (23:30-04:00 is 03:30Z, 23:40 is 03:40Z).
    let r = q(&["--tz", "UTC"]);
    assert_eq!(r["meta"]["time_basis"], "UTC");
    let daily = r["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0]["day"], "2024-01-02");
    assert_eq!(r["hourly"][3]["requests"], 2);
    assert_eq!(
        q(&["--tz", "UTC", "--to", "2024-01-01"])["totals"]["requests"],
        0
    );
    // Query strings kept on request.
    let r = q(&["--keep-query"]);
    assert_eq!(r["top_endpoints"].as_array().unwrap().len(), 4);
    let r = q(&["--top", "1"]);
    assert_eq!(r["top_hosts"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_flags_name_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    for (flag, val, needle) in [
        ("--format", "nosuch", "nosuch"),
        ("--status", "abc", "--status"),
        ("--from", "yesterday", "--from"),
        ("--tz", "Mars/Olympus", "--tz"),
    ] {
        let out = hs().args(["analyze", s(&f), flag, val]).output().unwrap();
        assert!(!out.status.success(), "{flag} {val} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{flag}: {err}");
    }
    let out = hs()
        .args(["analyze", "/nonexistent/x.log"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.log"));
}

#[test]
fn rejects_file_has_positions_and_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    let rej = tmp.path().join("rejects.tsv");
    let out = hs()
        .args([
            "analyze",
            s(&f),
            "--format",
            "combined",
            "--rejects",
            s(&rej),
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 of 6 lines rejected"), "{stderr}");
    let text = std::fs::read_to_string(&rej).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(&format!("{}:4\tformat_mismatch\t", s(&f))));
    assert!(lines[0].ends_with("this line is garbage"));
    assert!(lines[1].starts_with(&format!("{}:6\tempty_line\t", s(&f))));
}

#[test]
fn stdin_gzip_and_plain_agree() {
    let f = data("elastic-nginx-logs-2015/nginx_logs.txt.gz");
    let gz = std::fs::read(&f).unwrap();
    let from_file = json(&[s(&f)]);
    let out = hs()
        .args(["analyze", "-", "--output", "json", "-q"])
        .write_stdin(gz.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut plain = Vec::new();
    use std::io::Read;
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut plain)
        .unwrap();
    let out = hs()
        .args(["analyze", "-", "--output", "json", "-q", "--threads", "1"])
        .write_stdin(plain)
        .output()
        .unwrap();
    let plain_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    for v in [&from_stdin, &plain_stdin] {
        assert_eq!(v["totals"], from_file["totals"]);
        assert_eq!(v["status"], from_file["status"]);
        assert_eq!(v["top_hosts"], from_file["top_hosts"]);
        assert_eq!(v["daily"], from_file["daily"]);
    }
}

#[test]
fn empty_input_is_a_clear_error_or_empty_report() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("empty.log");
    std::fs::write(&p, "").unwrap();
    let out = hs().args(["analyze", s(&p)]).output().unwrap();
    // Nothing to detect a format from: the input is called empty.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "`{}` is empty: there are no lines to analyze",
            s(&p)
        )),
        "{err}"
    );
    let r = json(&[s(&p), "--format", "combined"]);
    assert_eq!(r["totals"]["lines"], 0);
}

#[test]
fn table_and_csv_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    let out = hs()
        .args(["analyze", s(&f), "--format", "combined"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Summary",
        "Status codes",
        "Top 10 clients",
        "Top 10 endpoints",
        "Top 10 error endpoints (4xx and 5xx)",
        "Top 10 non-200 endpoints",
        "Per day (UTC)",
        "Per hour of day (UTC)",
        "404 Not Found: 1",
        "Clients by user agent",
        "format_mismatch",
    ] {
        assert!(text.contains(needle), "table lacks {needle:?}\n{text}");
    }
    let dir = tmp.path().join("csv");
    let out = hs()
        .args([
            "analyze",
            s(&f),
            "--format",
            "combined",
            "--tz",
            "as-written",
            "--output",
            "csv",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let status = std::fs::read_to_string(dir.join("status.csv")).unwrap();
    assert_eq!(status.lines().next(), Some("status,count"));
    assert!(status.contains("404,1"));
    let daily = std::fs::read_to_string(dir.join("daily.csv")).unwrap();
    assert!(daily.starts_with("day,requests,bytes,unique_hosts,avg_requests_per_host,not_found"));
    assert!(daily.contains("2024-01-01,2,100,1,2.0,1"));
    let totals = std::fs::read_to_string(dir.join("totals.csv")).unwrap();
    assert!(totals.contains("rejected,2"));
    let nf_daily = std::fs::read_to_string(dir.join("not_found_daily.csv")).unwrap();
    assert!(
        nf_daily.starts_with("day,count\n2024-01-01,1"),
        "{nf_daily}"
    );
    // A table without rows still has its header.
    let clean = tmp.path().join("clean.log");
    std::fs::write(&clean, SMALL.lines().next().unwrap()).unwrap();
    let dir2 = tmp.path().join("csv2");
    let out = hs()
        .args([
            "analyze",
            s(&clean),
            "--format",
            "combined",
            "--output",
            "csv",
            "--out",
        ])
        .arg(&dir2)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir2.join("outcomes.csv")).unwrap(),
        "outcome,kind,count\n"
    );
    for name in [
        "top_hosts.csv",
        "top_endpoints.csv",
        "top_error_endpoints.csv",
        "top_non_200_endpoints.csv",
        "hourly.csv",
        "methods.csv",
        "content_size.csv",
        "not_found_endpoints.csv",
        "user_agents.csv",
    ] {
        assert!(dir.join(name).exists(), "{name}");
    }
}

#[test]
fn html_is_one_self_contained_page() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("x.log");
    let mut text = SMALL.to_string();
    text.push_str(
        "4.4.4.4 - - [02/Jan/2024:11:00:00 -0400] \"GET /<script>alert(1)</script> HTTP/1.1\" 404 1 \"-\" \"x\"\n",
    );
    text.push_str(
        "5.5.5.5 - - [02/Jan/2024:11:00:00 -0400] \"GET /<script>.png HTTP/1.1\" 200 1 \"http://<script>x.example/\" \"<script>alert(2)</script> Chrome/1\"\n",
    );
    std::fs::write(&f, text).unwrap();
    let page = tmp.path().join("r.html");
    let out = hs()
        .args([
            "analyze",
            s(&f),
            "--format",
            "combined",
            "--output",
            "html",
            "--out",
        ])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg"));
    assert!(
        !html.contains("<script"),
        "data must be escaped, and no scripts are needed"
    );
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt; Chrome/1"));
    assert!(html.contains("http://&lt;script&gt;x.example/"));
    assert!(!html.contains("<link"));
    assert!(!html.contains("NaN"));
    for section in [
        "id=\"platforms\"",
        "Browsers and operating systems",
        "Referring sites",
        "Static files and dynamic requests",
        "Requests by weekday and hour",
        "<table class=\"heat\">",
        "Top static files",
    ] {
        assert!(html.contains(section), "html lacks {section:?}");
    }
    assert!(!html.contains("id=\"geo\""), "no --geoip, no countries");
}

/// Static extensions as the README lists them, written out again here so that the test does
/// not read the list from the code under test.
const STATIC_EXTS: &str = "css js mjs map png jpg jpeg gif ico svg webp avif bmp tif tiff xbm \
    woff woff2 ttf otf eot mp3 mp4 m4a m4v webm ogg ogv oga wav flac mov avi mpg mpeg flv swf \
    pdf txt csv doc docx xls xlsx ppt pptx zip gz tgz bz2 xz zst 7z rar tar iso deb rpm dmg exe msi";

fn test_is_static(path: &str) -> bool {
    let path = path.split(['?', '#', ';']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    match name.rfind('.') {
        Some(dot) if dot > 0 => {
            let ext = name[dot + 1..].to_ascii_lowercase();
            !ext.is_empty() && ext.len() <= 5 && STATIC_EXTS.split_whitespace().any(|e| e == ext)
        }
        _ => false,
    }
}

/// A combined-format line cut at its quotes: (time, request, status and size, referer, agent).
fn fields(line: &str) -> (&str, &str, &str, &str, &str) {
    let parts: Vec<&str> = line.splitn(7, '"').collect();
    let time = line
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map_or("", |(t, _)| t);
    (
        time,
        parts.get(1).copied().unwrap_or(""),
        parts.get(2).copied().unwrap_or("").trim(),
        parts.get(3).copied().unwrap_or(""),
        parts.get(5).copied().unwrap_or(""),
    )
}

#[test]
fn elastic_apache_new_panels_match_simple_counts() {
    let f = data("elastic-apache-logs-2015/apache_logs");
    let text = std::fs::read_to_string(&f).unwrap();
    let (mut st_n, mut st_b, mut dyn_n, mut dyn_b) = (0u64, 0u64, 0u64, 0u64);
    let mut direct = 0u64;
    let mut sites: std::collections::HashMap<String, u64> = Default::default();
    let mut grid = [[0u64; 24]; 7];
    let mut dash_agents = 0u64;
    let months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for line in text.lines() {
        let (time, request, status_size, referer, agent) = fields(line);
        let path = request.split(' ').nth(1).unwrap_or("");
        let bytes: u64 = status_size
            .split(' ')
            .nth(1)
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        if test_is_static(path) {
            st_n += 1;
            st_b += bytes;
        } else {
            dyn_n += 1;
            dyn_b += bytes;
        }
        if referer == "-" || referer.is_empty() {
            direct += 1;
        } else if let Some((_, rest)) = referer.split_once("://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
            if !host.is_empty() && !host.contains('\\') {
                *sites.entry(host).or_default() += 1;
            }
        }
        if agent == "-" {
            dash_agents += 1;
        }
        // 17/May/2015:10:05:03 +0000, in the clock written in the log.
        let d: i64 = time[0..2].parse().unwrap();
        let m = months.find(&time[3..6]).unwrap() as i64 / 3 + 1;
        let y: i64 = time[7..11].parse().unwrap();
        let h: usize = time[12..14].parse().unwrap();
        let wd = (days_from_civil(y, m, d) + 3).rem_euclid(7) as usize;
        grid[wd][h] += 1;
    }
    assert_eq!(st_n + dyn_n, 10_000);

    let r = json(&[s(&f), "--top", "1000"]);
    let sd = &r["static_dynamic"];
    assert_eq!(sd["static_requests"], st_n);
    assert_eq!(sd["static_bytes"], st_b);
    assert_eq!(sd["dynamic_requests"], dyn_n);
    assert_eq!(sd["dynamic_bytes"], dyn_b);
    assert!(
        st_n > 1000 && dyn_n > 1000,
        "both kinds occur: {st_n} {dyn_n}"
    );

    let rs = &r["referring_sites"];
    assert_eq!(rs["requests"], 10_000);
    assert_eq!(rs["direct"], direct);
    let top = rs["top_sites"].as_array().unwrap();
    assert!(top.len() >= 5);
    for t in &top[..5] {
        let name = t["name"].as_str().unwrap();
        assert_eq!(t["count"], sites[name], "referring site {name}");
    }
    let mut by_count: Vec<(&String, &u64)> = sites.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    assert_eq!(top[0]["name"], by_count[0].0.as_str());

    let heat = r["weekday_hourly"].as_array().unwrap();
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    assert_eq!(heat.len(), 7);
    for (i, row) in heat.iter().enumerate() {
        assert_eq!(row["weekday"], names[i]);
        let hours: Vec<u64> = row["hours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(hours, grid[i].to_vec(), "{}", names[i]);
        assert_eq!(row["requests"], grid[i].iter().sum::<u64>());
    }

    // Browsers: every request with an agent is in exactly one row; `-` agents are unknown.
    let p = &r["platforms"];
    assert_eq!(p["requests"], 10_000);
    for key in ["browsers", "operating_systems", "categories"] {
        let sum: u64 = p[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 10_000, "{key}");
    }
    assert!(named(&p["browsers"], "unknown") >= dash_agents);
    assert!(named(&p["browsers"], "Chrome") > 1000);
    assert!(named(&p["operating_systems"], "Windows 7") > 1000);
    let chrome_share = p["browsers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "Chrome")
        .unwrap()["share"]
        .as_f64()
        .unwrap();
    assert!((chrome_share - named(&p["browsers"], "Chrome") as f64 / 10_000.0).abs() < 1e-9);
    assert!(r["geo"].is_null(), "no --geoip, no geo panel");

    // The same report in the terminal has the new tables.
    let out = hs().args(["analyze", s(&f), "-q"]).output().unwrap();
    let table = common::ok(out);
    for needle in [
        "Browsers",
        "Operating systems",
        "Top referring sites",
        "Static files and dynamic requests",
        "Requests by weekday and hour",
    ] {
        assert!(table.contains(needle), "table lacks {needle:?}");
    }
}

#[test]
fn nasa_static_share_and_no_referers() {
    // NCSA common: no referers or agents, so those panels are null; static files still count.
    let r = json(&[s(&data(common::NASA))]);
    assert!(r["referring_sites"].is_null());
    assert!(r["platforms"].is_null());
    let text = common::nasa_text();
    let text = String::from_utf8_lossy(&text);
    let mut gifs = 0u64;
    for line in text.lines() {
        // The path is what lies between the method and the protocol: a few requests have a
        // space in it (`GET /images/NASA-logosmall.gif align=left HTTP/1.0`), and those end
        // in `align=left`, not `.gif`.
        let request = line.split('"').nth(1).unwrap_or("").trim();
        let request = request
            .rsplit_once(' ')
            .filter(|(_, proto)| proto.starts_with("HTTP/"))
            .map_or(request, |(r, _)| r);
        let path = request.split_once(' ').map_or("", |(_, p)| p);
        let path = path.split('?').next().unwrap();
        if path.to_ascii_lowercase().ends_with(".gif") {
            gifs += 1;
        }
    }
    let exts = r["static_dynamic"]["extensions"].as_array().unwrap();
    let gif = exts.iter().find(|e| e["extension"] == "gif").unwrap();
    assert_eq!(gif["requests"], gifs);
    assert_eq!(exts[0]["extension"], "gif");
    let sd = &r["static_dynamic"];
    assert_eq!(
        sd["static_requests"].as_u64().unwrap() + sd["dynamic_requests"].as_u64().unwrap(),
        200_000
    );
}

/// The country database the test script installs, or `None` (and a note) when it is not set.
fn geoip_db() -> Option<PathBuf> {
    match std::env::var_os("HITSTREAM_GEOIP_MMDB") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "HITSTREAM_GEOIP_MMDB={} does not exist",
                p.display()
            );
            Some(p)
        }
        _ => {
            eprintln!("skipped: HITSTREAM_GEOIP_MMDB not set");
            None
        }
    }
}

#[test]
fn geoip_countries_from_a_real_database() {
    let Some(db) = geoip_db() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("geo.log");
    // Countries checked with the Python `maxminddb` reader on the same database.
    let clients = [
        ("8.8.8.8", 3),              // US
        ("2001:4860:4860::8888", 1), // US
        ("9.9.9.9", 1),              // US
        ("1.1.1.1", 2),              // AU
        ("193.0.6.139", 1),          // NL
        ("83.149.9.216", 1),         // RU
        ("piweba3y.prodigy.com", 4), // a host name: unknown
        ("X.X.X.X", 1),              // redacted: unknown
        ("10.0.0.1", 1),             // private, not in the database: unknown
    ];
    let mut text = String::new();
    for (c, n) in clients {
        for _ in 0..n {
            text.push_str(&format!(
                "{c} - - [01/Jul/1995:00:00:01 -0400] \"GET / HTTP/1.0\" 200 10\n"
            ));
        }
    }
    std::fs::write(&f, text).unwrap();
    let r = json(&[s(&f), "--format", "common", "--geoip", s(&db)]);
    let g = &r["geo"];
    assert_eq!(g["requests"], 15);
    assert_eq!(g["clients"], 9);
    let country = |code: &str| {
        g["countries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["country"] == code)
            .map(|c| {
                (
                    c["requests"].as_u64().unwrap(),
                    c["clients"].as_u64().unwrap(),
                )
            })
    };
    assert_eq!(country("US"), Some((5, 3)));
    assert_eq!(country("AU"), Some((2, 1)));
    assert_eq!(country("NL"), Some((1, 1)));
    assert_eq!(country("RU"), Some((1, 1)));
    assert_eq!(country("unknown"), Some((6, 3)));
    assert_eq!(g["unknown_country_requests"], 6);
    assert_eq!(g["countries"][0]["country"], "unknown");
    assert!(
        g["asns"].is_null(),
        "a country-only database has no AS numbers"
    );
    assert!(g["databases"][0]
        .as_str()
        .unwrap()
        .contains("geo-whois-asn-country"));

    // Text and HTML show the panel.
    let out = hs()
        .args([
            "analyze",
            s(&f),
            "--format",
            "common",
            "-q",
            "--geoip",
            s(&db),
        ])
        .output()
        .unwrap();
    let table = common::ok(out);
    assert!(table.contains("Countries ("), "{table}");
    let out = hs()
        .args([
            "analyze",
            s(&f),
            "--format",
            "common",
            "-q",
            "-o",
            "html",
            "--geoip",
            s(&db),
        ])
        .output()
        .unwrap();
    let html = common::ok(out);
    assert!(html.contains("id=\"geo\"") && html.contains("Countries and networks"));
}

#[test]
fn geoip_on_redacted_and_host_name_logs_is_all_unknown() {
    let Some(db) = geoip_db() else { return };
    let r = json(&[
        s(&data("kitware-nginx-2020/access.log.10.gz")),
        "--geoip",
        s(&db),
    ]);
    let g = &r["geo"];
    assert_eq!(g["requests"], 66_772);
    assert_eq!(g["unknown_country_requests"], 66_772);
    assert_eq!(g["countries"].as_array().unwrap().len(), 1);
    // NASA clients are host names, with a few bare addresses among them.
    let r = json(&[s(&data(common::NASA)), "--geoip", s(&db)]);
    let g = &r["geo"];
    let text = common::nasa_text();
    let text = String::from_utf8_lossy(&text);
    let names: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|c| c.parse::<std::net::IpAddr>().is_err())
        .collect();
    assert_eq!(g["clients"], 14_867);
    assert!(g["unknown_country_clients"].as_u64().unwrap() >= names.len() as u64);
    assert!(names.len() > 10_000);
}

#[test]
fn geoip_bad_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let f = small_file(tmp.path());
    let junk = tmp.path().join("junk.mmdb");
    std::fs::write(&junk, b"this is not a MaxMind database\n").unwrap();
    let missing = tmp.path().join("missing.mmdb");
    for db in [&junk, &missing] {
        let out = hs()
            .args(["analyze", s(&f), "--format", "combined", "--geoip", s(db)])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} should fail", db.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(s(db)) && err.contains("--geoip"), "{err}");
    }
}

/// Every field of the JSON document, at the top level and in each object section, has a row
/// in docs/analyze-json.md, so the reference cannot fall behind the code unseen. Combined with
/// a country database when the test script provides one, so that `geo` is filled in too.
#[test]
fn every_json_field_is_documented() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/analyze-json.md"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let log = small_file(tmp.path());
    let mmdb = std::env::var("HITSTREAM_GEOIP_MMDB").ok();
    let mut args = vec![s(&log)];
    if let Some(m) = &mmdb {
        args.extend(["--geoip", m.as_str()]);
    }
    let r = json(&args);
    let mut missing = Vec::new();
    let mut look = |key: &str, within: &str| {
        if !doc.contains(&format!("| `{key}` |")) {
            missing.push(format!("{within}{key}"));
        }
    };
    for (k, v) in r.as_object().unwrap() {
        look(k, "");
        if let Some(obj) = v.as_object() {
            for (k2, _) in obj {
                look(k2, &format!("{k}."));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/analyze-json.md: {missing:?}"
    );
    if mmdb.is_some() {
        assert!(r["geo"].is_object(), "{}", r["geo"]);
    }
}
