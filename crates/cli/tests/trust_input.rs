//! Numbers a user can trust: a wrong format or a useless input ends in one clear message on
//! stderr and a non-zero exit, never in a report of guessed fields with exit 0.
//!
//! Expected counts come from the logs themselves (lines counted here, PROVENANCE.md), never
//! from hitstream.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{bin, data, nasa_text, ok, output_with_stdin, stderr_of as stderr};

const IMOOC: &str = "imooc-nginx-2016/10000_access.log";
const APACHE: &str = "elastic-apache-logs-2015/apache_logs";

/// The imooc log's format as PROVENANCE.md gives it (its nginx `log_format`).
const IMOOC_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#;

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

/// Newlines in a file: the line count, independent of hitstream.
fn lines_in(p: &Path) -> u64 {
    std::fs::read(p)
        .unwrap()
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
}

fn analyze(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("analyze")
        .args(args)
        .output()
        .unwrap()
}

fn analyze_stdin(args: &[&str], input: &[u8]) -> Output {
    output_with_stdin(
        Command::new(bin()).arg("analyze").args(args),
        input.to_vec(),
    )
}

/// `run` over files read once, with no state kept and no windows printed.
fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(["run", "--no-state", "--emit", "none", "--no-alerts"])
        .args(args)
        .output()
        .unwrap()
}

/// The imooc log has a custom format. Every line "parses" as `main` only with guessed fields
/// (the Host header as the referer, the body as the user agent): detection refuses to choose,
/// shows the closest presets with their shares and asks for the log_format line. Given that
/// line, every line parses cleanly.
#[test]
fn auto_refuses_a_format_that_reads_every_line_with_oddities() {
    let log = data(IMOOC);
    let o = analyze(&["-o", "json", log.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(o.stdout.is_empty(), "no report");
    assert!(
        err.contains("no preset fits the first 200 lines of"),
        "{err}"
    );
    // The closest candidates with their shares: no line of the sample is clean.
    let main = err
        .lines()
        .find(|l| l.trim_start().starts_with("main"))
        .unwrap_or_else(|| panic!("`main` is among the closest: {err}"));
    assert!(
        main.contains("0.0 % clean, 100.0 % with oddities,   0.0 % rejected"),
        "{main}"
    );
    assert!(main.contains("trailing_data 200"), "{main}");
    assert!(err.contains("copy the `log_format` line"), "{err}");
    assert!(err.contains("`LogFormat` line"), "{err}");
    assert!(err.contains("--format '$remote_addr"), "{err}");
    assert!(!err.contains("auto-detected"), "{err}");

    let o = analyze(&[
        "-o",
        "json",
        "--format",
        IMOOC_FORMAT,
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    let lines = lines_in(&log);
    assert_eq!(lines, 10_000, "PROVENANCE.md");
    assert_eq!(report["totals"]["lines"], lines);
    assert_eq!(report["totals"]["ok"], lines, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

/// `run` with `--format auto` refuses the same log, with the same shares.
#[test]
fn run_auto_refuses_a_format_that_reads_every_line_with_oddities() {
    let o = run(&["--file", data(IMOOC).to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("no preset fits the first 200 lines cleanly"),
        "{err}"
    );
    assert!(err.contains("0.0 % clean, 100.0 % with oddities"), "{err}");
    assert!(err.contains("log_format"), "{err}");
}

/// A combined log read as `common`: every line has text after the last field. A loud
/// warning names `combined`; `--strict` makes it an error with no report.
#[test]
fn common_on_a_combined_log_warns_names_combined_and_fails_under_strict() {
    let log = data(APACHE);
    let lines = lines_in(&log);
    assert_eq!(lines, 10_000, "PROVENANCE.md");
    let o = analyze(&["-o", "json", "--format", "common", log.to_str().unwrap()]);
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    assert_eq!(report["totals"]["lines"], lines);
    let want = format!(
        "warning: MOST LINES HAVE THE SAME ODDITY: {lines} of {lines} lines (100.0 %) read as \
         `common` have `trailing_data`"
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("try --format combined"), "{err}");
    assert!(err.contains("--strict makes this an error"), "{err}");

    let o = analyze(&[
        "-o",
        "json",
        "--strict",
        "--format",
        "common",
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(o.stdout.is_empty(), "no report under --strict");
    assert!(
        err.contains("error: --strict: MOST LINES HAVE THE SAME ODDITY"),
        "{err}"
    );
    assert!(err.contains("try --format combined"), "{err}");

    // The right format: no warning, and --strict passes.
    let o = analyze(&[
        "-o",
        "json",
        "--strict",
        "--format",
        "combined",
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    ok(o);
    assert!(!err.contains("ODDITY"), "{err}");
}

/// The README's own form, `zcat NASA... | analyze - --format combined`, on a common log:
/// every line misses the referer and user agent. The warning names `common`.
#[test]
fn combined_on_the_nasa_common_log_from_stdin_names_common() {
    let text = nasa_text();
    let lines = text.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, 200_000, "PROVENANCE.md");
    let o = analyze_stdin(&["-o", "json", "--format", "combined", "-"], &text);
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    assert_eq!(report["totals"]["lines"], lines as u64);
    assert!(
        err.contains(&format!(
            "MOST LINES HAVE THE SAME ODDITY: {lines} of {lines} lines (100.0 %) read as \
             `combined` have `missing_fields`"
        )),
        "{err}"
    );
    assert!(err.contains("try --format common"), "{err}");

    let o = analyze_stdin(
        &["-o", "json", "--strict", "--format", "combined", "-"],
        &text,
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("--strict: MOST LINES HAVE THE SAME ODDITY"),
        "{err}"
    );
    assert!(err.contains("try --format common"), "{err}");
}

/// Empty input is called empty, not "no preset parses".
#[test]
fn empty_stdin_is_called_empty() {
    for input in [&b""[..], b"\n\n  \n"] {
        let o = analyze_stdin(&["-"], input);
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{err}");
        assert!(
            err.contains("error: `(stdin)` is empty: there are no lines to analyze"),
            "{err}"
        );
        assert!(!err.contains("preset"), "{err}");
    }
}

/// `--format combind` gets a "did you mean" wherever a format is read, and exits 2 as a
/// usage error where the flag is the whole story.
#[test]
fn a_mistyped_preset_gets_did_you_mean() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5 \"-\" \"ua\"\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let want = "unknown format `combind` (did you mean `combined`?)";
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("analyze", vec!["analyze", "--format", "combind", log]),
        (
            "run",
            vec!["run", "--no-state", "--format", "combind", "--file", log],
        ),
        ("replay", vec!["replay", "--format", "combind", log]),
        ("gen", vec!["gen", "--format", "combind", "--count", "1"]),
    ];
    for (what, args) in cases {
        let o = Command::new(bin()).args(&args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{what}: {err}");
        assert!(err.contains(want), "{what}: {err}");
    }
    // A config file: the field is named, exit 1 (the file, not the command line, is wrong).
    let cfg = tmp.path().join("hitstream.toml");
    std::fs::write(
        &cfg,
        format!("format = \"combind\"\n[[source]]\ntype = \"file\"\npaths = [\"{log}\"]\nfollow = false\n"),
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--no-state", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("field `format`"), "{err}");
    assert!(err.contains(want), "{err}");
    // A name too far from any preset gets no guess.
    let o = analyze(&["--format", "apache2", log]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("unknown format `apache2`"), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
}

/// `run --file` of a path that is not there, a directory, or a pattern that matches
/// nothing fails before the run, as `analyze` does: one message, exit 1, no summary.
#[test]
fn run_fails_on_a_file_input_that_is_missing_or_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.log");
    let pattern = tmp.path().join("*.log");
    let cases = [
        (
            missing.to_str().unwrap().to_string(),
            format!(
                "error: cannot read input `{}`: no such file",
                missing.display()
            ),
        ),
        (
            tmp.path().to_str().unwrap().to_string(),
            format!("error: input `{}` is a directory", tmp.path().display()),
        ),
        (
            pattern.to_str().unwrap().to_string(),
            format!("error: input `{}`: no file matches", pattern.display()),
        ),
    ];
    for (arg, want) in cases {
        let o = run(&["--format", "combined", "--file", &arg]);
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{arg}: {err}");
        assert!(err.contains(&want), "{arg}: {err}");
        assert!(!err.contains("0 lines"), "no 0-line summary: {err}");
        assert_eq!(err.matches("error").count(), 1, "one message: {err}");
    }
}

/// A run where every line was rejected exits 1 and names the reason.
#[test]
fn run_with_every_line_rejected_fails_naming_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("garbage.log");
    std::fs::write(&log, "hello world\nnot a log line\n").unwrap();
    let o = run(&["--format", "combined", "--file", log.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("error: hitstream run: none of the 2 lines parsed as `combined` (rejected: format_mismatch 2)"),
        "{err}"
    );
}

/// `run` reads a combined log as `common`: the same warning as `analyze`, exit 0; with
/// `--strict`, exit 1.
#[test]
fn run_warns_on_a_format_that_reads_every_line_oddly_and_fails_under_strict() {
    let log = data(APACHE);
    let lines = lines_in(&log);
    let o = run(&["--format", "common", "--file", log.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains(&format!(
            "warning: MOST LINES HAVE THE SAME ODDITY: {lines} of {lines} lines (100.0 %) read \
             as `common` have `trailing_data`"
        )),
        "{err}"
    );
    assert!(err.contains("try --format combined"), "{err}");

    let o = run(&[
        "--strict",
        "--format",
        "common",
        "--file",
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("error: hitstream run: --strict: MOST LINES HAVE THE SAME ODDITY"),
        "{err}"
    );

    let o = run(&[
        "--strict",
        "--format",
        "combined",
        "--file",
        log.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(!err.contains("ODDITY"), "{err}");
}

/// Most lines rejected: a warning and the report (exit 0); `--strict`, or `strict = true` in
/// a run's config file, makes it exit 1.
#[test]
fn most_lines_rejected_warns_and_fails_under_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("mixed.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5\n\
         garbage one\ngarbage two\ngarbage three\n",
    )
    .unwrap();
    let p = log.to_str().unwrap();
    let o = analyze(&["-o", "json", "--format", "common", p]);
    let err = stderr(&o);
    ok(o);
    assert!(
        err.contains(
            "warning: MOST LINES WERE REJECTED: 3 of 4 (75.0 %) did not parse as `common` \
             (format_mismatch 3)"
        ),
        "{err}"
    );
    let o = analyze(&["-o", "json", "--strict", "--format", "common", p]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("error: --strict: MOST LINES WERE REJECTED"),
        "{err}"
    );

    let cfg = tmp.path().join("run.toml");
    std::fs::write(
        &cfg,
        format!(
            "format = \"common\"\nstrict = true\n[[source]]\ntype = \"file\"\npaths = \
             [\"{p}\"]\nfollow = false\n[output]\nconsole = false\n"
        ),
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--no-state", "--no-alerts", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("error: hitstream run: --strict: MOST LINES WERE REJECTED: 3 of 4"),
        "{err}"
    );
}

/// Detection looks past an empty first file to the next one.
#[test]
fn auto_looks_past_an_empty_first_file() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let log = data(APACHE);
    let o = analyze(&["-o", "json", empty.to_str().unwrap(), log.to_str().unwrap()]);
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    assert_eq!(report["meta"]["format"], "combined", "{err}");
    assert_eq!(report["totals"]["lines"], lines_in(&log));
}
