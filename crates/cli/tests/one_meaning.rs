//! One word, one number: "errors", "bots", "clients" and the clock of days and hours mean the
//! same thing in every output (terminal tables, JSON, CSV, the HTML page, `run`'s console, the
//! dashboard and its SQL over the lake). Expected numbers come from awk over the real logs in
//! ../shared/data, or are worked out by hand, never from hitstream.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{bin, data, http_get_as, ok, Dashboard, NASA};

const APACHE: &str = "elastic-apache-logs-2015/apache_logs";
const IMOOC: &str = "imooc-nginx-2016/10000_access.log";
const IMOOC_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `hitstream analyze ARGS -o json -q`, parsed.
fn analyze_json(args: &[&str]) -> Value {
    let out = Command::new(bin())
        .arg("analyze")
        .args(args)
        .args(["-o", "json", "-q"])
        .output()
        .unwrap();
    serde_json::from_str(&ok(out)).unwrap()
}

/// `hitstream analyze ARGS` as terminal tables.
fn analyze_text(args: &[&str]) -> String {
    ok(Command::new(bin())
        .arg("analyze")
        .args(args)
        .output()
        .unwrap())
}

/// Lines of `awk PROGRAM FILE`, each split on spaces into (count, key).
fn awk_counts(program: &str, file: &Path) -> Vec<(u64, String)> {
    let out = Command::new("awk").arg(program).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "awk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, k) = l.split_once(' ').unwrap_or((l, ""));
            (n.parse().unwrap(), k.to_string())
        })
        .collect()
}

/// The `n` largest, most first, ties by key in byte order (as the reports rank).
fn top(mut v: Vec<(u64, String)>, n: usize) -> Vec<(String, u64)> {
    v.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    v.into_iter().take(n).map(|(c, k)| (k, c)).collect()
}

/// `(key, count)` pairs of a JSON array of objects.
fn pairs(v: &Value, key: &str, count: &str) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|r| {
            (
                r[key].as_str().unwrap().to_string(),
                r[count].as_u64().unwrap(),
            )
        })
        .collect()
}

// Combined format: $7 is the path (the query cut off at `?`), $9 the status. A status that is
// not a number (`-`) is neither an error nor a non-200 response.
const AWK_ERRORS: &str = r#"$9 ~ /^[0-9][0-9][0-9]$/ && $9 >= 400 && $9 <= 599 { split($7, p, "?"); n[p[1]]++ }
END { for (k in n) print n[k], k }"#;
const AWK_NON_200: &str = r#"$9 ~ /^[0-9][0-9][0-9]$/ && $9 != 200 { split($7, p, "?"); n[p[1]]++ }
END { for (k in n) print n[k], k }"#;

/// The lines of the table that follows `title` in terminal output, up to the blank line.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(title));
    assert!(lines.next().is_some(), "no section {title:?} in\n{text}");
    lines.take_while(|l| !l.trim().is_empty()).collect()
}

/// The first number in the second cell of the row whose first cell is `name`.
fn row_number(rows: &[&str], name: &str) -> u64 {
    let row = rows
        .iter()
        .find(|r| r.trim_start_matches('│').trim().starts_with(name))
        .unwrap_or_else(|| panic!("no row {name:?} in {rows:#?}"));
    row.split('┆')
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('│')
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap()
}

#[test]
fn errors_are_4xx_and_5xx_and_non_200_is_named_so_in_every_analyze_output() {
    let log = data(APACHE);
    let errors = awk_counts(AWK_ERRORS, &log);
    let non_200 = awk_counts(AWK_NON_200, &log);
    let total_errors: u64 = errors.iter().map(|e| e.0).sum();
    assert_eq!(total_errors, 220, "awk over {APACHE}: 217 4xx and 3 5xx");

    let r = analyze_json(&[s(&log)]);
    assert_eq!(r["totals"]["errors"], total_errors);
    assert_eq!(
        pairs(&r["top_error_endpoints"], "endpoint", "errors"),
        top(errors.clone(), 10)
    );
    assert_eq!(
        pairs(&r["top_non_200_endpoints"], "endpoint", "non_200"),
        top(non_200.clone(), 10)
    );
    // The classic lab's table lists the 304s of style sheets; the error table does not.
    let errs = pairs(&r["top_error_endpoints"], "endpoint", "errors");
    assert!(!errs.iter().any(|(e, _)| e.ends_with(".css")), "{errs:?}");
    let non = pairs(&r["top_non_200_endpoints"], "endpoint", "non_200");
    assert!(non.iter().any(|(e, _)| e == "/style2.css"), "{non:?}");

    // Terminal: the summary's errors line, and each table under a title that says what it is.
    let text = analyze_text(&[s(&log)]);
    let summary = section(&text, "Summary");
    assert_eq!(row_number(&summary, "errors (4xx and 5xx)"), total_errors);
    let t = section(&text, "Top 10 error endpoints (4xx and 5xx)");
    for (e, n) in top(errors.clone(), 10) {
        assert!(
            t.iter().any(
                |l| l.contains(&format!(" {e} ")) && l.trim_end().ends_with(&format!(" {n} │"))
            ),
            "{e} {n} not in {t:#?}"
        );
    }
    assert!(!t.iter().any(|l| l.contains("/style2.css")), "{t:#?}");
    let t = section(&text, "Top 10 non-200 endpoints");
    assert!(t.iter().any(|l| l.contains("/style2.css")), "{t:#?}");
    assert!(!text.contains("Top 10 error endpoints\n"), "{text}");

    // CSV: the same rows, the non-200 table under its own name and column.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("csv");
    ok(Command::new(bin())
        .args(["analyze", s(&log), "-q", "-o", "csv", "--out"])
        .arg(&dir)
        .output()
        .unwrap());
    let csv = |name: &str| -> Vec<(String, u64)> {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let mut lines = text.lines();
        let head = lines.next().unwrap().to_string();
        assert!(head.starts_with("endpoint,"), "{name}: {head}");
        lines
            .map(|l| {
                let (k, n) = l.rsplit_once(',').unwrap();
                (k.to_string(), n.parse().unwrap())
            })
            .collect()
    };
    assert_eq!(csv("top_error_endpoints.csv"), top(errors.clone(), 10));
    assert_eq!(csv("top_non_200_endpoints.csv"), top(non_200, 10));
    let head = std::fs::read_to_string(dir.join("top_non_200_endpoints.csv")).unwrap();
    assert!(head.starts_with("endpoint,non_200\n"), "{head}");
    let totals = std::fs::read_to_string(dir.join("totals.csv")).unwrap();
    assert!(
        totals.contains(&format!("\nerrors,{total_errors}\n")),
        "{totals}"
    );

    // HTML: the Errors card counts the same 4xx and 5xx, and the tables are titled apart.
    let page = tmp.path().join("r.html");
    ok(Command::new(bin())
        .args(["analyze", s(&log), "-q", "-o", "html", "--out"])
        .arg(&page)
        .output()
        .unwrap());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(&format!(
            "<div class=\"l\">Errors</div><div class=\"v\">{total_errors}</div>"
        )),
        "the Errors card"
    );
    assert!(html.contains("Top error endpoints (4xx and 5xx)"));
    assert!(html.contains("Top non-200 endpoints"));
}

/// A `serve` process on a lake, and the address of its dashboard.
struct Serve(Dashboard);

impl Serve {
    fn start(lake: &Path) -> Serve {
        Serve(Dashboard::start(&[
            "serve",
            "--data",
            s(lake),
            "--http",
            "127.0.0.1:0",
        ]))
    }

    /// The body of a `200 OK` to `GET path` (a history query may take a while in a debug
    /// build).
    fn get(&self, path: &str) -> String {
        let addr = self.0.addr;
        let (status, body) =
            http_get_as(addr, &addr.to_string(), path, &[], Duration::from_secs(60));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

#[test]
fn analyze_and_the_dashboards_sql_agree_on_errors_non_200_and_the_heat_map() {
    // The real log, and lines without a status (`-`): those are no error and no non-200
    // response, for the Rust aggregates and for the SQL alike.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let mut text = std::fs::read_to_string(data(APACHE)).unwrap();
    for i in 0..70 {
        text.push_str(&format!(
            "10.9.9.{} - - [20/May/2015:21:10:{:02} +0000] \"GET /no-status HTTP/1.1\" - - \"-\" \"curl/8.0\"\n",
            i % 3,
            i % 60
        ));
    }
    std::fs::write(&log, &text).unwrap();
    let errors = awk_counts(AWK_ERRORS, &log);
    let non_200 = awk_counts(AWK_NON_200, &log);
    assert!(!errors
        .iter()
        .chain(&non_200)
        .any(|(_, k)| k == "/no-status"));
    let total_errors: u64 = errors.iter().map(|e| e.0).sum();

    let lake = tmp.path().join("lake");
    let r: Value = serde_json::from_str(&ok(Command::new(bin())
        .args([
            "analyze",
            s(&log),
            "--format",
            "combined",
            "-q",
            "-o",
            "json",
            "--top",
            "100",
        ])
        .args(["--store", "--data", s(&lake)])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(
        r["no_status"], 70,
        "the lines without a status are requests"
    );
    assert_eq!(r["totals"]["errors"], total_errors);
    let want_errors = top(errors, 100);
    let want_non_200 = top(non_200, 100);
    assert_eq!(
        pairs(&r["top_error_endpoints"], "endpoint", "errors"),
        want_errors
    );
    assert_eq!(
        pairs(&r["top_non_200_endpoints"], "endpoint", "non_200"),
        want_non_200
    );

    let serve = Serve::start(&lake);
    let h: Value =
        serde_json::from_str(&serve.get("/api/history?from=0&to=253402300799&top=100")).unwrap();
    assert_eq!(
        h["totals"]["requests"], r["totals"]["requests"],
        "{}",
        h["totals"]
    );
    assert_eq!(h["totals"]["errors"], total_errors, "{}", h["totals"]);
    assert_eq!(pairs(&h["error_endpoints"], "key", "count"), want_errors);
    assert_eq!(pairs(&h["non_200_endpoints"], "key", "count"), want_non_200);
    // One clock: the dashboard's heat map is the report's weekday x hour grid.
    assert_eq!(h["time_zone"], "UTC");
    assert_eq!(h["heatmap"]["time_zone"], "UTC");
    let grid: Vec<Value> = r["weekday_hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["hours"].clone())
        .collect();
    assert_eq!(h["heatmap"]["hours"], Value::Array(grid));
    assert_eq!(r["meta"]["time_basis"], "UTC");

    // The page names what it shows.
    let page = serve.get("/");
    for label in [
        "Error endpoints (4xx, 5xx)",
        "Non-200 endpoints",
        "from (UTC)",
        "to (UTC)",
        "weekday and hour (UTC)",
    ] {
        assert!(page.contains(label), "the dashboard lacks {label:?}");
    }
}

#[test]
fn bots_in_the_agent_kinds_are_the_crawlers_of_the_device_categories() {
    let log = data(APACHE);
    let r = analyze_json(&[s(&log)]);
    let bots = r["agents"]["bots"].as_u64().unwrap();
    let crawler = r["platforms"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "crawler")
        .map_or(0, |c| c["count"].as_u64().unwrap());
    assert_eq!(bots, crawler);
    // Every line whose agent names itself a bot or a crawler is one (awk: the sixth
    // quote-separated field is the agent).
    let named = awk_counts(
        r#"BEGIN { FS = "\"" } tolower($6) ~ /bot|crawl|spider/ { n++ } END { print n, "" }"#,
        &log,
    )[0]
    .0;
    assert!(named > 1000 && bots >= named, "bots {bots}, named {named}");
    // And the terminal shows the one number in both panels.
    let text = analyze_text(&[s(&log)]);
    let kinds = section(&text, "Clients by user agent");
    let categories = section(&text, "Device categories");
    assert_eq!(row_number(&kinds, "bots / crawlers"), bots);
    assert_eq!(row_number(&categories, "crawler"), bots);
}

const SMALL: &str = "\
1.1.1.1 - - [01/Jan/2024:23:30:00 -0400] \"GET /a.css HTTP/1.1\" 304 - \"-\" \"Mozilla/5.0\"
1.1.1.1 - - [01/Jan/2024:23:30:10 -0400] \"GET /gone HTTP/1.1\" 404 10 \"-\" \"Mozilla/5.0\"
2.2.2.2 - - [01/Jan/2024:23:30:20 -0400] \"GET /gone HTTP/1.1\" 404 10 \"-\" \"Mozilla/5.0\"
2.2.2.2 - - [01/Jan/2024:23:30:30 -0400] \"GET / HTTP/1.1\" 200 100 \"-\" \"Mozilla/5.0\"
";

#[test]
fn clients_are_called_clients_and_run_counts_the_same_errors_in_utc() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("small.log");
    std::fs::write(&log, SMALL).unwrap();

    let text = analyze_text(&[s(&log), "--format", "combined"]);
    for needle in [
        "unique clients",
        "Top 10 clients",
        "req/client",
        "404 — top clients",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}\n{text}");
    }
    let hosts: Vec<&str> = text
        .lines()
        .filter(|l| l.to_lowercase().contains("host"))
        // A referer's host is the host of a URL, not a client.
        .filter(|l| !l.contains("no host ("))
        .collect();
    assert!(hosts.is_empty(), "clients called hosts: {hosts:#?}");

    // `run` on the same lines: one window, its errors the 404s only (not the 304 of the
    // style sheet), and its times named UTC (23:30 at -0400 is 03:30Z).
    let out = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--no-alerts",
            "--window",
            "60s",
            "--format",
            "combined",
        ])
        .arg("--file")
        .arg(&log)
        .output()
        .unwrap();
    let console = ok(out);
    let errors: Vec<&str> = console.lines().filter(|l| l.contains("errors")).collect();
    assert_eq!(errors.len(), 1, "{console}");
    assert!(errors[0].contains("errors 4xx/5xx"), "{console}");
    assert!(errors[0].contains("/gone"), "{console}");
    assert!(!errors[0].contains("/a.css"), "{console}");
    assert!(console.contains("unique clients"), "{console}");
    assert!(
        console.contains("2024-01-02T03:30:00Z → 2024-01-02T03:31:00Z (UTC)"),
        "{console}"
    );
    // analyze puts the same requests in the same UTC hour and day.
    let r = analyze_json(&[s(&log), "--format", "combined"]);
    assert_eq!(r["hourly"][3]["requests"], 4);
    assert_eq!(r["daily"][0]["day"], "2024-01-02");
    assert_eq!(r["totals"]["errors"], 2);
}

#[test]
fn days_and_hours_are_utc_by_default_and_every_screen_says_so() {
    // NASA's lines are all written at -0400: in UTC each is four hours later.
    let file: PathBuf = data(NASA);
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("nasa.log");
    std::fs::write(&plain, &text).unwrap();
    let offsets = awk_counts(r#"{ n[$5]++ } END { for (k in n) print n[k], k }"#, &plain);
    assert_eq!(offsets, vec![(200_000, "-0400]".to_string())]);
    // `[01/Jul/1995:HH:...`: day and hour as written, then moved to UTC.
    let utc_hours = awk_counts(
        r#"{ split($4, t, ":"); h = (t[2] + 4) % 24; n[h]++ } END { for (k in n) print n[k], k }"#,
        &plain,
    );
    let utc_days = awk_counts(
        r#"{ split($4, t, ":"); d = substr(t[1], 2, 2) + (t[2] >= 20 ? 1 : 0); n[sprintf("1995-07-%02d", d)]++ }
           END { for (k in n) print n[k], k }"#,
        &plain,
    );
    let written_hours = awk_counts(
        r#"{ split($4, t, ":"); n[t[2] + 0]++ } END { for (k in n) print n[k], k }"#,
        &plain,
    );
    let by_hour = |r: &Value| -> BTreeMap<String, u64> {
        r["hourly"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["requests"] != 0)
            .map(|h| (h["hour"].to_string(), h["requests"].as_u64().unwrap()))
            .collect()
    };
    let want = |v: Vec<(u64, String)>| -> BTreeMap<String, u64> {
        v.into_iter().map(|(n, k)| (k, n)).collect()
    };

    let r = analyze_json(&[s(&plain)]);
    assert_eq!(r["meta"]["time_basis"], "UTC");
    assert_eq!(by_hour(&r), want(utc_hours));
    let days: BTreeMap<String, u64> = r["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(days, want(utc_days));
    // The time as written stays one flag away.
    let r = analyze_json(&[s(&plain), "--tz", "as-written"]);
    assert_eq!(r["meta"]["time_basis"], "as-written");
    assert_eq!(by_hour(&r), want(written_hours));

    // Every screen names its clock (on the first 20,000 lines, which is quicker: they span
    // 1995-07-01 00:00 to 09:47 as written, 04:00 to 13:47 in UTC).
    let end = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(19_999)
        .unwrap()
        .0;
    let head = tmp.path().join("head.log");
    std::fs::write(&head, &text[..=end]).unwrap();
    let tables = analyze_text(&[s(&head)]);
    for label in [
        "1995-07-01 04:00:01 → 1995-07-01 13:47:",
        "(UTC, 1 day)",
        "Per day (UTC)",
        "Per hour of day (UTC)",
        "Requests by weekday and hour, UTC",
    ] {
        assert!(tables.contains(label), "tables lack {label:?}");
    }
    let tables = analyze_text(&[s(&head), "--tz", "as-written"]);
    assert!(tables.contains("Per day (time as written in the log)"));
    assert!(tables.contains("1995-07-01 00:00:01 → 1995-07-01 09:47:"));
    let page = tmp.path().join("r.html");
    ok(Command::new(bin())
        .args(["analyze", s(&head), "-q", "-o", "html", "--out"])
        .arg(&page)
        .output()
        .unwrap());
    let html = std::fs::read_to_string(&page).unwrap();
    for label in [
        "(days and hours in UTC)",
        "Requests per hour of day (all days, UTC)",
        "Requests by weekday and hour (UTC)",
    ] {
        assert!(html.contains(label), "the HTML page lacks {label:?}");
    }
}

#[test]
fn the_host_header_of_a_custom_format_fills_the_vhost_panel_that_vhost_filters() {
    let log = data(IMOOC);
    // `"$http_host"` is the fifth quote-separated field... after `"$request"` (2nd) comes
    // ` $status $body_bytes_sent ` (3rd), then the host (4th).
    let want = top(
        awk_counts(
            r#"BEGIN { FS = "\"" } { n[$4]++ } END { for (k in n) print n[k], k }"#,
            &log,
        ),
        20,
    );
    assert!(want.len() > 1, "{want:?}");
    let r = analyze_json(&[s(&log), "--format", IMOOC_FORMAT]);
    let panel = pairs(&r["vhosts"], "name", "count");
    assert_eq!(panel, want);
    // `--vhost` keeps exactly the requests its row counts.
    let (host, n) = &want[1];
    let r = analyze_json(&[s(&log), "--format", IMOOC_FORMAT, "--vhost", host]);
    assert_eq!(r["totals"]["requests"].as_u64(), Some(*n));
    assert_eq!(
        pairs(&r["vhosts"], "name", "count"),
        vec![(host.clone(), *n)]
    );
    // And the terminal shows the panel.
    let text = analyze_text(&[s(&log), "--format", IMOOC_FORMAT]);
    let rows = section(&text, "Virtual hosts");
    assert_eq!(row_number(&rows, &want[0].0), want[0].1);

    // The dashboard reads the same virtual hosts from the lake, and filters on them alike.
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    ok(Command::new(bin())
        .args([
            "analyze",
            s(&log),
            "--format",
            IMOOC_FORMAT,
            "-q",
            "-o",
            "json",
        ])
        .args(["--store", "--data", s(&lake)])
        .output()
        .unwrap());
    let serve = Serve::start(&lake);
    let all = "/api/history?from=0&to=253402300799";
    let h: Value = serde_json::from_str(&serve.get(all)).unwrap();
    let mut panel = pairs(&h["vhosts"], "key", "count");
    panel.truncate(want.len());
    assert_eq!(panel, want);
    let h: Value =
        serde_json::from_str(&serve.get(&format!("{all}&vhost={}", host.to_uppercase()))).unwrap();
    assert_eq!(
        h["totals"]["requests"].as_u64(),
        Some(*n),
        "{}",
        h["totals"]
    );
}
