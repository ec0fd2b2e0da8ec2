//! The command line a user expects: `validate` checks a configuration without running it,
//! `-q`/`-v` on every command, defaults in `--help`, the tables in `sql --help`, exit code 2
//! for what the user typed wrong, and a configuration reference that cannot drift from the
//! configuration the binary reads.

use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::{free_port, hs_in as hs, stderr_of as stderr, stdout_of as stdout};

const LINE: &str =
    "127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n";

/// A config in `dir/hitstream.toml`.
fn config(dir: &Path, text: &str) {
    std::fs::write(dir.join("hitstream.toml"), text).unwrap();
}

fn docs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"))
        .unwrap()
}

#[test]
fn validate_accepts_a_good_config_without_touching_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("logs")).unwrap();
    std::fs::write(d.join("logs/access.log"), LINE).unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    let (tcp, http, broker) = (free_port(), free_port(), free_port());
    let dp = d.display();
    config(
        d,
        &format!(
            r#"format = "combined"

[[source]]
type = "file"
paths = ["{dp}/logs/*.log"]
follow = false

[[source]]
type = "tcp"
listen = "127.0.0.1:{tcp}"
spool = "{dp}/spool"

[[source]]
type = "kafka"
brokers = "127.0.0.1:{broker},localhost:{broker}"
topic = "weblogs"

[window]
size = "1m"
top = 10

[output]
jsonl = "{dp}/out/windows.jsonl"

[checkpoint]
dir = "{dp}/state/checkpoints"

[lake]
data = "{dp}/lake"

[http]
listen = "127.0.0.1:{http}"
"#
        ),
    );
    let before: BTreeSet<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let o = hs(d, &["validate", "--config", "hitstream.toml"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{err}{out}");
    assert!(
        out.starts_with("configuration OK: hitstream.toml\n"),
        "{out}"
    );
    for needle in [
        "source #1: file",
        "(1 file now, read once)",
        "source #2: tcp 127.0.0.1:",
        "kafka topic weblogs",
        "windows 1m tumbling",
        "top 10",
        "/lake",
        &format!("dashboard: http://127.0.0.1:{http}/"),
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    assert_eq!(err, "", "nothing to warn about");
    // Nothing was created or left behind: no lake, no state, no spool, no probe files.
    let after: BTreeSet<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
    assert_eq!(std::fs::read_dir(d.join("out")).unwrap().count(), 0);

    // -q: the exit code says it all.
    let o = hs(d, &["-q", "validate", "--config", "hitstream.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("", ""));
    // -v: what was checked.
    let o = hs(d, &["validate", "-v", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("access.log` is readable"), "{err}");
    assert!(
        err.contains(&format!("TCP 127.0.0.1:{tcp} can be bound")),
        "{err}"
    );
    assert!(err.contains("will be created"), "{err}");

    // --online reaches for the brokers; nothing listens on these.
    let o = hs(d, &["validate", "--online", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "source #3: field `brokers`: cannot reach broker 127.0.0.1:{broker}"
        )),
        "{err}"
    );
}

#[test]
fn validate_lists_every_problem_with_its_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("afile"), "not a directory").unwrap();
    // A port this test holds, so that the config's listener cannot have it.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let dp = d.display();
    config(
        d,
        &format!(
            r#"[[source]]
type = "file"
paths = ["{dp}/nope/*.log"]

[[source]]
type = "file"
paths = ["{dp}/missing.log"]
follow = false

[[source]]
type = "tcp"
listen = "127.0.0.1:{busy_port}"

[[source]]
type = "syslog"
listen = "nowhere"

[[source]]
type = "kafka"
brokers = "kafka1"
topic = "t"

[output]
jsonl = "{dp}/no/such/dir/w.jsonl"

[lake]
data = "{dp}/afile/lake"

[http]
listen = "localhost"
"#
        ),
    );
    let o = hs(d, &["validate", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(stdout(&o), "");
    let expected = [
        "source #2: field `paths`: `PATH/missing.log` matches no file (with follow = false",
        &format!("source #3: field `listen`: cannot listen on TCP 127.0.0.1:{busy_port}"),
        "source #4: field `listen`: `nowhere` is not an address to listen on",
        "source #5: field `brokers`: `kafka1` is not host:port",
        "[output] field `jsonl`: the directory of `PATH/no/such/dir/w.jsonl` (`PATH/no/such/dir`) does not exist",
        "[lake] field `data`: `PATH/afile` is not a directory",
        "[http]: http listen address `localhost`: expected HOST:PORT",
    ];
    let err = err.replace(&dp.to_string(), "PATH");
    let lines: Vec<&str> = err.lines().collect();
    // One line per problem, each once, then their number.
    for want in expected {
        let n = lines
            .iter()
            .filter(|l| l.starts_with("error: in config file `hitstream.toml`") && l.contains(want))
            .count();
        assert_eq!(n, 1, "{want}\n{err}");
    }
    // A followed pattern may match later (`run` waits for it): a warning.
    assert_eq!(
        lines[0],
        "warning: in config file `hitstream.toml`: source #1: `PATH/nope/*.log` matches no file \
         yet, and the directory `PATH/nope` does not exist; followed files are read when they \
         appear"
    );
    assert_eq!(lines.len(), expected.len() + 2, "{err}");
    assert_eq!(
        lines.last(),
        Some(&"error: config file `hitstream.toml`: 7 problems"),
        "{err}"
    );
    drop(busy);

    // The cross-field checks are all listed too, not only the first.
    config(
        d,
        "[[source]]\ntype = \"stdin\"\n[[source]]\ntype = \"stdin\"\n\n[window]\ntop = 0\n\n\
         [report]\ndaily_at = \"25:00\"\n",
    );
    let o = hs(d, &["validate", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for needle in [
        "[report] field `daily_at`: `25:00` is not a time of day",
        "[report] field `daily_at` needs the lake",
        "stdin can be a source only once",
        "field `window.top` must be at least 1",
        "config file `hitstream.toml`: 4 problems",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }

    // A directory where files are expected; a lake in an object store needs a local
    // checkpoint directory (no network is used to say so).
    config(
        d,
        "[[source]]\ntype = \"file\"\npaths = [\"/tmp\"]\nfollow = false\n\n\
         [lake]\ndata = \"s3://bucket/lake\"\n",
    );
    let o = hs(d, &["validate", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "error: in config file `hitstream.toml`: [lake] data `s3://bucket/lake` is in an object \
         store: set [checkpoint] dir (a local directory for checkpoints and the write-ahead record \
         of epochs) or give --checkpoint-dir DIR\n\
         error: in config file `hitstream.toml`: source #1: field `paths`: `/tmp` is a directory; \
         give its files or a pattern (`/tmp/*.log`)\n\
         error: config file `hitstream.toml`: 2 problems\n"
    );

    // What the window engine refuses, said once with the file.
    config(
        d,
        "[[source]]\ntype = \"stdin\"\n\n[window]\njump_confirm = 0\n",
    );
    let o = hs(d, &["validate", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "error: in config file `hitstream.toml`: window settings: `jump_confirm` is 0; allowed: \
         1..=100000\nerror: config file `hitstream.toml`: 1 problem\n"
    );

    // No file: a runtime failure (1); no --config: a usage error (2).
    let o = hs(d, &["validate", "--config", "nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read config file `nope.toml`"));
    let o = hs(d, &["validate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The sections of the file and the key of each, as the binary knows them: every section
/// refuses an unknown field and lists the fields it has, the list this test reads.
fn known_fields(dir: &Path, section: &str, extra: &str) -> Vec<String> {
    config(dir, &format!("{section}\n{extra}zz_not_a_field = 1\n"));
    let o = hs(dir, &["validate", "--config", "hitstream.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let list = err
        .split_once("unknown field `zz_not_a_field`, expected ")
        .unwrap_or_else(|| panic!("{section}: {err}"))
        .1
        .lines()
        .next()
        .unwrap();
    let fields: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(!fields.is_empty(), "{err}");
    fields
}

/// The text of the section of docs/config.md whose heading starts with `heading`.
fn doc_section(doc: &str, heading: &str) -> String {
    let start = doc
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("docs/config.md has no section {heading}"));
    let body = &doc[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |e| e + 3);
    body[..end].to_string()
}

#[test]
fn the_config_reference_lists_every_field_the_binary_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let doc = docs();
    let mut checked = 0;
    for (section, heading, extra) in [
        ("[[source]]", "`[[source]]`", "type = \"stdin\"\n"),
        ("[window]", "`[window]`", ""),
        ("[output]", "`[output]`", ""),
        ("[checkpoint]", "`[checkpoint]`", ""),
        ("[lake]", "`[lake]`", ""),
        ("[report]", "`[report]`", ""),
        ("[http]", "`[http]`", ""),
    ] {
        let text = doc_section(&doc, heading);
        for f in known_fields(d, section, extra) {
            assert!(
                text.contains(&format!("| `{f}` |")),
                "docs/config.md, section {section}: no row for field `{f}`"
            );
            checked += 1;
        }
    }
    // The top level: plain fields in its table, tables as sections of their own.
    let top = doc_section(&doc, "Top level");
    for f in known_fields(d, "", "") {
        let row = top.contains(&format!("| `{f}` |"));
        let heading =
            doc.contains(&format!("\n## `[{f}]`")) || doc.contains(&format!("\n## `[[{f}]]`"));
        assert!(
            row || heading,
            "docs/config.md: nothing for top-level field `{f}`"
        );
        checked += 1;
    }
    // Alert rules: each kind's row names every field of that kind.
    let alerts = doc_section(&doc, "`[[alert]]`");
    config(d, "[[alert]]\nkind = \"zz_not_a_kind\"\n");
    let err = stderr(&hs(d, &["validate", "--config", "hitstream.toml"]));
    let kinds: Vec<String> = err
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("{err}"))
        .1
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(kinds.len() >= 5, "{err}");
    for kind in kinds {
        let row = alerts
            .lines()
            .find(|l| l.starts_with(&format!("| `{kind}` |")))
            .unwrap_or_else(|| panic!("docs/config.md: no row for alert kind `{kind}`"));
        for f in known_fields(d, "[[alert]]", &format!("kind = \"{kind}\"\n")) {
            assert!(
                f == "kind" || row.contains(&format!("`{f}`")),
                "docs/config.md: alert kind `{kind}` does not list field `{f}`"
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
}

#[test]
fn the_documented_config_error_is_the_real_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let doc = docs();
    let intro = &doc[..doc.find("\n## ").unwrap()];
    let toml = intro
        .split("```toml\n")
        .nth(1)
        .expect("an example file")
        .split("```")
        .next()
        .unwrap();
    let want = intro
        .split("```\nerror: ")
        .nth(1)
        .expect("an example error")
        .split("\n```")
        .next()
        .unwrap();
    config(d, toml);
    for cmd in [["run", "--config"], ["validate", "--config"]] {
        let o = hs(d, &[cmd[0], cmd[1], "hitstream.toml"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(stderr(&o), format!("error: {want}\n"), "{}", cmd[0]);
    }
}

#[test]
fn ship_config_errors_are_one_line_too() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("ship.toml"),
        "brokers = \"127.0.0.1:9\"\ntopicc = \"t\"\n",
    )
    .unwrap();
    let o = hs(d, &["ship", "--config", "ship.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(
            "error: in config file `ship.toml`, line 2, column 1: unknown field `topicc`, \
             expected one of `brokers`, `topic`,"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// The long flags of a command's `--help`.
fn long_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let t = t
                .strip_prefix("-")
                .and_then(|t| t.split_once(", "))
                .map_or(t, |(_, r)| r);
            let name = t.strip_prefix("--")?;
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(name.len());
            (l.starts_with("  ") && !l.starts_with("          ")).then(|| name[..end].to_string())
        })
        .collect()
}

#[test]
fn every_run_flag_has_a_config_equivalent() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.log"), LINE).unwrap();
    std::fs::write(d.join("origin.key"), "0123456789abcdef0123456789abcdef").unwrap();
    let dp = d.display();
    let file = format!("[[source]]\ntype = \"file\"\npaths = [\"{dp}/a.log\"]\n");
    let tcp = "[[source]]\ntype = \"tcp\"\nlisten = \"127.0.0.1:0\"\n";
    let syslog = "[[source]]\ntype = \"syslog\"\nlisten = \"127.0.0.1:0\"\nprotocol = \"both\"\n";
    let kafka = "[[source]]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9\"\ntopic = \"t\"\n";
    let stdin = "[[source]]\ntype = \"stdin\"\n";
    let spool = format!("spool = \"{dp}/spool\"\n");
    // Flag → the same setting in the file. Flags that are about one invocation have none.
    let per_invocation = ["config", "help", "quiet", "verbose", "no-state"];
    let map: Vec<(&str, String)> = vec![
        ("tail", file.clone()),
        ("file", format!("{file}follow = false\n")),
        ("max-open-files", format!("{file}max_open_files = 8\n")),
        ("follow-symlinks", format!("{file}follow_symlinks = true\n")),
        ("tcp", tcp.to_string()),
        ("syslog", syslog.to_string()),
        ("spool", format!("{tcp}{spool}")),
        ("tcp-max-connections", format!("{tcp}max_connections = 8\n")),
        (
            "tcp-idle-timeout",
            format!("{tcp}connection_idle_timeout = \"30s\"\n"),
        ),
        (
            "spool-max-bytes",
            format!("{tcp}{spool}spool_max_bytes = 100000000\n"),
        ),
        (
            "spool-segment-bytes",
            format!("{tcp}{spool}spool_segment_bytes = 1000000\n"),
        ),
        (
            "malformed-max-bytes",
            format!("{syslog}{spool}malformed_max_bytes = 1000000\n"),
        ),
        ("kafka", kafka.to_string()),
        ("topic", kafka.to_string()),
        ("group", format!("{kafka}group = \"g\"\n")),
        (
            "kafka-option",
            format!("{kafka}options = {{ \"client.id\" = \"x\" }}\n"),
        ),
        ("kafka-stop-at-end", format!("{kafka}stop_at_end = true\n")),
        (
            "origin-key",
            format!("{kafka}origin_key = \"{dp}/origin.key\"\n"),
        ),
        (
            "max-origin-jump",
            format!("{kafka}max_origin_jump = 1000\n"),
        ),
        ("max-origins", format!("{kafka}max_origins = 16\n")),
        (
            "results-topic",
            format!("{stdin}[output]\nresults_topic = \"r\"\nkafka_brokers = \"127.0.0.1:9\"\n"),
        ),
        (
            "alerts-topic",
            format!("{stdin}[output]\nalerts_topic = \"a\"\nkafka_brokers = \"127.0.0.1:9\"\n"),
        ),
        (
            "results-kafka",
            format!("{stdin}[output]\nresults_topic = \"r\"\nkafka_brokers = \"127.0.0.1:9\"\n"),
        ),
        ("format", format!("format = \"combined\"\n{stdin}")),
        ("window", format!("{stdin}[window]\nsize = \"5m\"\n")),
        (
            "slide",
            format!("{stdin}[window]\nsize = \"5m\"\nslide = \"1m\"\n"),
        ),
        ("lateness", format!("{stdin}[window]\nlateness = \"30s\"\n")),
        (
            "idle-timeout",
            format!("{stdin}[window]\nidle_timeout = \"2s\"\n"),
        ),
        (
            "max-future",
            format!("{stdin}[window]\nmax_future = \"10m\"\n"),
        ),
        ("max-jump", format!("{stdin}[window]\nmax_jump = \"2h\"\n")),
        (
            "jump-confirm",
            format!("{stdin}[window]\njump_confirm = 50\n"),
        ),
        ("top", format!("{stdin}[window]\ntop = 10\n")),
        (
            "emit",
            format!("{stdin}[output]\nconsole = false\njsonl = \"-\"\n"),
        ),
        (
            "jsonl",
            format!("{stdin}[output]\njsonl = \"{dp}/w.jsonl\"\n"),
        ),
        (
            "alerts",
            format!("{stdin}[output]\nalerts = \"{dp}/alerts.jsonl\"\n"),
        ),
        (
            "late",
            format!("{stdin}[output]\nlate = \"{dp}/late.log\"\n"),
        ),
        (
            "rejects",
            format!("{stdin}[output]\nrejects = \"{dp}/rejects.log\"\n"),
        ),
        ("tui", format!("{stdin}[output]\ntui = true\n")),
        (
            "checkpoint-dir",
            format!("{stdin}[checkpoint]\ndir = \"{dp}/cp\"\n"),
        ),
        (
            "checkpoint-interval",
            format!("{stdin}[checkpoint]\ninterval = \"5s\"\n"),
        ),
        ("threads", format!("threads = 1\n{stdin}")),
        ("strict", format!("strict = true\n{stdin}")),
        ("no-alerts", format!("alert = []\n{stdin}")),
        ("data", format!("{stdin}[lake]\ndata = \"{dp}/lake\"\n")),
        ("store", format!("{stdin}[lake]\n")),
        (
            "retention",
            format!("{stdin}[lake]\ndata = \"{dp}/lake\"\nretention = \"30d\"\n"),
        ),
        ("http", format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\n")),
        (
            "auth-token",
            format!(
                "{stdin}[http]\nlisten = \"127.0.0.1:0\"\nauth_token = \"0123456789abcdef0123\"\n"
            ),
        ),
        (
            "insecure-no-auth",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\ninsecure_no_auth = true\n"),
        ),
        (
            "geoip",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\ngeoip = [\"{dp}/a.log\"]\n"),
        ),
        (
            "http-max-connections",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\nmax_connections = 8\n"),
        ),
        (
            "http-max-streams",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\nmax_streams = 8\n"),
        ),
        (
            "http-header-timeout",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\nheader_timeout = \"5s\"\n"),
        ),
        (
            "http-write-timeout",
            format!("{stdin}[http]\nlisten = \"127.0.0.1:0\"\nwrite_timeout = \"5s\"\n"),
        ),
    ];
    let help = stdout(&hs(d, &["run", "--help"]));
    let flags = long_flags(&help);
    assert!(flags.len() > 40, "{help}");
    for f in &flags {
        assert!(
            per_invocation.contains(&f.as_str()) || map.iter().any(|(m, _)| m == f),
            "run --{f} has no config equivalent in this test: add the field (docs/config.md too) and a line here"
        );
    }
    for (f, text) in &map {
        assert!(flags.contains(&f.to_string()), "run --help has no --{f}");
        config(d, text);
        let o = hs(d, &["validate", "--config", "hitstream.toml"]);
        let err = stderr(&o);
        assert!(!err.contains("unknown field"), "--{f}: {err}");
        if *f == "geoip" {
            // A log is no database: the file was read as the field says.
            assert!(err.contains("a.log"), "{err}");
        } else {
            assert_eq!(o.status.code(), Some(0), "--{f}:\n{text}\n{err}");
        }
    }
}

#[test]
fn help_shows_the_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = stdout(&hs(d, &["run", "--help"]));
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let run = flat(&run);
    for needle in [
        "Window length (`60s`, `5m`) [default: 60s]",
        "by this much [default: 10s]",
        "without input [default: 5s]",
        "per window [default: 5]",
        "Time between checkpoints [default: 10s]",
        "[default: console]",
        "[default: auto]",
        "[default: one per core]",
        "127.0.0.1:8080 for `serve`]",
    ] {
        assert!(run.contains(needle), "run --help: {needle}\n{run}");
    }
    let analyze = flat(&stdout(&hs(d, &["analyze", "--help"])));
    assert!(analyze.contains("[default: 10]"), "{analyze}");
    let demo = flat(&stdout(&hs(d, &["demo", "--help"])));
    assert!(demo.contains("[default: 127.0.0.1:8080]"), "{demo}");
    // The global flags are on every command.
    for cmd in [
        "analyze", "run", "ship", "sql", "report", "gen", "validate", "serve",
    ] {
        let h = stdout(&hs(d, &[cmd, "--help"]));
        assert!(
            h.contains("-q, --quiet") && h.contains("-v, --verbose"),
            "{cmd}: {h}"
        );
    }
}

#[test]
fn sql_help_lists_the_tables_and_their_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["sql", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    assert!(!h.contains("README"), "{h}");
    for needle in [
        "requests (partitioned by day):",
        "client text",
        "status int",
        "windows (partitioned by day):",
        "window_start timestamp",
        "alerts:",
        "rejects:",
        "reason text",
        "reports:",
        "windows_merged:",
        "analysis_endpoints:",
    ] {
        assert!(h.contains(needle), "{needle}: {h}");
    }
    // A lake's real columns are the ones listed: what DataFusion sees in a fresh lake.
    let d = tmp.path();
    std::fs::write(d.join("a.log"), LINE).unwrap();
    let o = hs(
        d,
        &[
            "-q", "analyze", "a.log", "--format", "combined", "--store", "--data", "lake", "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = hs(
        d,
        &[
            "sql",
            "--data",
            "lake",
            "-o",
            "csv",
            "SELECT * FROM requests LIMIT 1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let header = stdout(&o);
    let section = h.split("requests (partitioned by day):").nth(1).unwrap();
    let section = &section[..section.find("\n\n").unwrap_or(section.len())];
    let listed: Vec<&str> = section
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    let real: Vec<&str> = header.lines().next().unwrap_or("").split(',').collect();
    assert_eq!(
        listed.iter().copied().collect::<BTreeSet<_>>(),
        real.iter().copied().collect::<BTreeSet<_>>()
    );
}

#[test]
fn quiet_silences_information_never_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.log"), LINE.repeat(3)).unwrap();
    let args = [
        "run",
        "--file",
        "a.log",
        "--format",
        "combined",
        "--emit",
        "none",
        "--no-alerts",
        "--no-state",
    ];
    let o = hs(d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hitstream run: 3 lines"),
        "{}",
        stderr(&o)
    );
    let o = hs(d, &[&["-q"], &args[..]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // -v: the settings the run goes with.
    let o = hs(d, &[&["-v"], &args[..]].concat());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for needle in [
        "settings: format combined; windows 1m, lateness 10s, idle timeout 5s, top 5; 0 alert rules",
        "settings: source #1: file a.log (read once)",
        "settings: output: no console",
        "settings: parser threads: one per core",
        "hitstream run: 3 lines",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The format detected is information too.
    let o = hs(d, &["analyze", "a.log", "-o", "json"]);
    assert!(!stderr(&o).is_empty());
    let o = hs(d, &["analyze", "-q", "a.log", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // An error is said whatever -q.
    let o = hs(d, &["-q", "analyze", "nope.log"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2_runtime_failures_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.log"), LINE).unwrap();
    for (args, msg) in [
        (
            &["run", "--kafka", "127.0.0.1:9"][..],
            "error: --kafka needs --topic TOPIC",
        ),
        (
            &["run", "--file", "a.log", "--window", "0s"],
            "field `window.size` must be more than 0",
        ),
        (
            &["run", "--file", "a.log", "--idle-timeout", "0s"],
            "field `window.idle_timeout` must be more than 0",
        ),
        (
            &["run", "--file", "a.log", "--checkpoint-interval", "0s"],
            "field `checkpoint.interval` must be more than 0",
        ),
        (
            &["run", "--tcp", "127.0.0.1:0", "--tcp-idle-timeout", "0s"],
            "error: --tcp-idle-timeout must be above 0",
        ),
        (
            &["analyze", "a.log", "--tz", "Mars/Olympus"],
            "error: --tz `Mars/Olympus`",
        ),
        (
            &["analyze", "a.log", "--from", "last week"],
            "error: --from `last week`",
        ),
        (
            &["analyze", "-", "-"],
            "error: stdin (`-`) can be given only once",
        ),
        (
            &["replay", "a.log", "--speed", "0"],
            "error: --speed 0: must be a positive factor",
        ),
        (
            &["ship", "--kafka", "127.0.0.1:9", "--topic", "t"],
            "error: no input",
        ),
        (
            &["run", "--file", "a.log", "--http", "localhost"],
            "error: http listen address `localhost`: expected HOST:PORT",
        ),
        (
            &["serve", "--data", "nolake", "--auth-token", "short"],
            "error: --auth-token ",
        ),
        (
            &["run", "--file", "a.log", "--jump-confirm", "0"],
            "error: window settings: `jump_confirm` is 0",
        ),
        (
            &["demo", "--rate", "0"],
            "error: demo traffic: invalid --rate",
        ),
        (
            &["demo", "--window", "0s"],
            "error: field `window.size` must be more than 0",
        ),
        (
            &["report", "range", "--data", "nolake", "--from", "garbage"],
            "error: --from `garbage`: expected YYYY-MM-DD",
        ),
        (
            &["run", "--file", "a.log", "--data", "s3://bucket/lake"],
            "error: the lake `s3://bucket/lake` is in an object store: give --checkpoint-dir DIR",
        ),
        // clap's own.
        (&["run", "--window", "soon"], "error: invalid value 'soon'"),
    ] {
        let o = hs(d, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    // What fails while running is 1.
    for args in [
        &["analyze", "nope.log"][..],
        &["validate", "--config", "nope.toml"],
    ] {
        let o = hs(d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    }
}
