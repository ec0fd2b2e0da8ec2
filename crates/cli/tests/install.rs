//! What the Debian package ships besides the binary, made by the binary itself: the shell
//! completions (`hitstream completions SHELL`), the manual pages (`hitstream man`), and the
//! commented configurations of packaging/ that the units read (`ship --config`, `validate
//! --config`). scripts/test-package checks the package built from them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{bin, in_home};

fn packaging(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging")
        .join(file)
}

/// The binary with its state and lake defaults inside `dir`, not in the user's home.
fn hs(dir: &Path, args: &[&str]) -> Output {
    in_home(
        Command::new(bin()).current_dir(dir),
        dir,
        &dir.join("state"),
        &dir.join("data"),
    )
    .args(args)
    .stdin(Stdio::null())
    .output()
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const COMMANDS: [&str; 11] = [
    "analyze",
    "run",
    "ship",
    "demo",
    "replay",
    "gen",
    "sql",
    "report",
    "serve",
    "completions",
    "man",
];

#[test]
fn completions_for_every_shell_name_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = hs(tmp.path(), &["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        for c in COMMANDS {
            assert!(out.contains(c), "{shell} completions lack `{c}`");
        }
        assert!(out.contains("checkpoint-dir"), "{shell}: flags of ship");
    }
}

#[test]
fn bash_completions_are_a_script_bash_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["completions", "bash"]);
    assert!(o.status.success());
    let script = tmp.path().join("hitstream.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    // bash itself parses the script and defines the completion function it registers.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p hitstream && declare -F _hitstream",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash rejected the completions: {}",
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("-F _hitstream"));
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    assert!(err.contains("bash") && err.contains("powershell"), "{err}");
}

#[test]
fn man_prints_the_page_of_hitstream_and_of_each_command() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["man"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = text(&o.stdout);
    assert!(page.contains(".TH hitstream 1"), "{page}");
    for c in COMMANDS {
        assert!(
            page.contains(&format!("hitstream\\-{c}(1)")),
            "SEE ALSO {c}"
        );
    }
    let o = hs(tmp.path(), &["man", "ship"]);
    assert!(o.status.success());
    let page = text(&o.stdout);
    assert!(page.contains(".TH hitstream-ship 1"), "{page}");
    assert!(
        page.contains(env!("CARGO_PKG_VERSION")),
        "version in the title"
    );
    assert!(page.contains("\\-\\-checkpoint\\-dir"), "ship's flags");

    // man(1) renders it: the roff is well formed enough for the user's reader.
    let file = tmp.path().join("hitstream-ship.1");
    std::fs::write(&file, &o.stdout).unwrap();
    if let Ok(r) = Command::new("man")
        .env("MANWIDTH", "100")
        .arg("-l")
        .arg(&file)
        .output()
    {
        assert!(r.status.success(), "man -l: {}", text(&r.stderr));
        assert!(text(&r.stdout).contains("--lines-per-message"));
    }
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["man", "--dir", "pages"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut pages: Vec<String> = std::fs::read_dir(tmp.path().join("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "hitstream.1",
        "hitstream-ship.1",
        "hitstream-report-daily.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} in {pages:?}");
    }
    for c in COMMANDS {
        assert!(
            pages.contains(&format!("hitstream-{c}.1")),
            "{c} in {pages:?}"
        );
    }
}

#[test]
fn man_of_an_unknown_command_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["man", "shipp"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("no command `shipp`"), "{err}");
    assert!(err.contains("ship"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn the_shipped_ship_toml_loads_and_flags_win_over_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = packaging("ship.toml");
    let cfg = cfg.to_str().unwrap();
    let o = hs(tmp.path(), &["ship", "--config", cfg, "--check"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("source: tail /var/log/nginx/access.log*"),
        "{out}"
    );
    assert!(out.contains("topic weblogs on localhost:9092"), "{out}");
    assert!(out.contains("compression lz4"), "{out}");
    assert!(out.contains("key client,"), "{out}");

    let o = hs(
        tmp.path(),
        &[
            "ship",
            "--config",
            cfg,
            "--check",
            "--topic",
            "other",
            "--compression",
            "zstd",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("topic other on localhost:9092"), "{out}");
    assert!(out.contains("compression zstd"), "{out}");
}

#[test]
fn a_ship_config_with_a_wrong_field_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ship.toml"),
        "brokers = \"b:9092\"\ntopic = \"t\"\ntail = [\"x.log\"]\ncompresion = \"zstd\"\n",
    )
    .unwrap();
    let o = hs(tmp.path(), &["ship", "--config", "ship.toml", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("in config file `ship.toml`"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("unknown field `compresion`"), "{err}");

    std::fs::write(
        tmp.path().join("ship.toml"),
        "brokers = \"b:9092\"\ntopic = \"t\"\ntail = [\"x.log\"]\ncompression = \"brotli\"\n",
    )
    .unwrap();
    let o = hs(tmp.path(), &["ship", "--config", "ship.toml", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("`compression` is `brotli`, expected one of none, gzip"),
        "{err}"
    );
}

#[test]
fn ship_without_brokers_in_the_file_or_the_flags_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ship.toml"),
        "topic = \"t\"\ntail = [\"x.log\"]\n",
    )
    .unwrap();
    let o = hs(tmp.path(), &["ship", "--config", "ship.toml", "--check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "ship needs the Kafka brokers: --kafka BROKERS, or `brokers` in the --config file"
        ),
        "{err}"
    );
    // Without a file, clap asks for both.
    let o = hs(tmp.path(), &["ship", "--tail", "x.log"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("--kafka <BROKERS>") && err.contains("--topic <TOPIC>"),
        "{err}"
    );
}

#[test]
fn the_shipped_run_toml_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = packaging("run.toml");
    let o = hs(tmp.path(), &["validate", "--config", cfg.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stderr),
        text(&o.stdout)
    );
    let out = text(&o.stdout);
    assert!(out.contains("configuration OK"), "{out}");
    assert!(out.contains("/var/log/nginx/access.log*"), "{out}");
    assert!(out.contains("http://127.0.0.1:8080/"), "{out}");
}

/// Every field of the commented configurations is a field the binary reads: each commented
/// `key = value` line, uncommented alone, still loads.
#[test]
fn every_commented_field_of_ship_toml_is_a_real_field() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(packaging("ship.toml")).unwrap();
    let mut tried = 0;
    for (i, line) in shipped.lines().enumerate() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = rest.split_once(" = ") else {
            continue;
        };
        if key.contains(' ') || key.starts_with('"') {
            continue;
        }
        // One field uncommented at a time, with the input kinds left alone (one per process).
        let mut lines: Vec<&str> = shipped.lines().collect();
        lines[i] = rest;
        let text_now = lines.join("\n");
        std::fs::write(tmp.path().join("ship.toml"), &text_now).unwrap();
        let o = hs(tmp.path(), &["ship", "--config", "ship.toml", "--check"]);
        let err = text(&o.stderr);
        assert!(
            !err.contains("unknown field"),
            "`{key}` (line {}): {err}",
            i + 1
        );
        tried += 1;
    }
    assert!(tried >= 25, "only {tried} commented fields found");
}

/// The same for run.toml: each commented field, uncommented with the commented table
/// header it belongs under, is a field `run` reads.
#[test]
fn every_commented_field_of_run_toml_is_a_real_field() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(packaging("run.toml")).unwrap();
    let lines: Vec<&str> = shipped.lines().collect();
    let is_header = |l: &str| {
        let l = l.strip_prefix("# ").unwrap_or(l);
        l.starts_with('[') && l.ends_with(']')
    };
    let mut tried = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = rest.split_once(" = ") else {
            continue;
        };
        if key.contains(' ') || key.starts_with('"') {
            continue;
        }
        let mut now = lines.clone();
        now[i] = rest;
        if let Some(h) = (0..i).rev().find(|&j| is_header(lines[j])) {
            now[h] = lines[h].strip_prefix("# ").unwrap_or(lines[h]);
        }
        std::fs::write(tmp.path().join("run.toml"), now.join("\n")).unwrap();
        let o = hs(tmp.path(), &["validate", "--config", "run.toml"]);
        let all = format!("{}{}", text(&o.stderr), text(&o.stdout));
        assert!(
            !all.contains("unknown field") && !all.contains("unknown variant"),
            "`{key}` (line {}): {all}",
            i + 1
        );
        tried += 1;
    }
    assert!(tried >= 50, "only {tried} commented fields found");
}

/// Every field `ship --config` reads (as its unknown-field error lists them) has a row in
/// docs/config.md and a line in the packaged ship.toml, so the three cannot drift.
#[test]
fn every_ship_config_field_is_documented_and_in_ship_toml() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("ship.toml"), "zz_no_such_field = 1\n").unwrap();
    let o = hs(tmp.path(), &["ship", "--config", "ship.toml", "--check"]);
    let err = text(&o.stderr);
    let fields: Vec<&str> = err
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("{err}"))
        .1
        .split('`')
        .skip(1)
        .step_by(2)
        .collect();
    assert!(fields.len() >= 25, "{err}");
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"))
            .unwrap();
    let doc = &doc[doc
        .find("## `hitstream ship --config")
        .expect("a ship section in docs/config.md")..];
    let shipped = std::fs::read_to_string(packaging("ship.toml")).unwrap();
    for f in fields {
        assert!(
            doc.contains(&format!("| `{f}` |")),
            "docs/config.md: no row for ship field `{f}`"
        );
        let in_file = shipped.lines().any(|l| {
            let l = l.trim_start_matches("# ").trim_start_matches('[');
            l.starts_with(&format!("{f} =")) || l.starts_with(&format!("{f}]"))
        });
        assert!(in_file, "packaging/ship.toml: no line for `{f}`");
    }
}
