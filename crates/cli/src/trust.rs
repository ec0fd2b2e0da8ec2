//! Whether the numbers can be trusted: the checks that turn a wrong format or a useless
//! input into a clear message and a non-zero exit, shared by `analyze` and `run`.
//!
//! - `--format auto` that finds no preset fitting the first lines cleanly stops, shows the
//!   closest presets with their shares and asks for the format string;
//! - a run where every line was rejected fails, naming the most frequent reason;
//! - when most lines were rejected, or most carry the same oddity (a combined log read as
//!   `common` has `trailing_data` on every line), a loud warning names the better preset
//!   when one fits the first lines; `--strict` turns the warning into a failure;
//! - `run --file` with a path that does not exist, a directory, or a pattern that matches
//!   nothing fails before the run starts, as `analyze` does.

use std::path::Path;

use anyhow::anyhow;
use hitstream_format::{rank, Oddity, Ranking, GIVE_FORMAT_HINT};

use crate::config::{Config, SourceKind};

/// Lines of a sample that detection and the "better preset" hint look at.
pub const SAMPLE_LINES: usize = 200;

/// The error of `--format auto` when no preset fits the sample of `input` cleanly. The
/// closest presets go to stderr first, one a line (an error is printed on one line).
pub fn no_fit(r: &Ranking, input: &str) -> anyhow::Error {
    let closest = r.closest(3);
    eprintln!(
        "format: no preset fits the first {} lines of `{input}` cleanly (most lines must parse \
         without oddities); the closest, as shares of those lines:",
        r.sample
    );
    if closest.is_empty() {
        eprintln!("  (none: no preset parses any of them)");
    }
    for l in closest {
        eprintln!("  {l}");
    }
    anyhow!(
        "--format auto: no preset fits `{input}`, and a report read with the wrong format is \
         wrong in every table. Give the format: {GIVE_FORMAT_HINT}"
    )
}

/// The error of `--format auto` when the inputs hold no line at all.
pub fn empty(inputs: &[String]) -> anyhow::Error {
    let names: Vec<String> = inputs
        .iter()
        .map(|p| format!("`{}`", crate::input::display_name(p)))
        .collect();
    if names.len() == 1 {
        anyhow!("{} is empty: there are no lines to analyze", names[0])
    } else {
        anyhow!(
            "the inputs are empty ({}): there are no lines to analyze",
            names.join(", ")
        )
    }
}

/// The preset that fits `sample` cleanly, when it is not `current`: what to suggest when the
/// format given reads most lines badly.
pub fn better_preset<'a, I>(sample: I, current: &str) -> Option<String>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    rank(sample)
        .detection()
        .map(|d| d.spec.name)
        .filter(|n| n != current)
}

/// What to tell a user whose format reads most lines badly.
pub fn hint(better: Option<&str>) -> String {
    match better {
        Some(name) => format!("the first lines fit `{name}` cleanly: try --format {name}"),
        None => format!("give the format: {GIVE_FORMAT_HINT}"),
    }
}

/// How the lines of a report or a run came out.
#[derive(Debug, Default)]
pub struct Shares {
    /// Lines read.
    pub lines: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Degraded lines by oddity name.
    pub oddities: Vec<(String, u64)>,
    /// Rejected lines by reason code.
    pub reasons: Vec<(String, u64)>,
}

impl Shares {
    fn top(v: &[(String, u64)]) -> Option<(&str, u64)> {
        v.iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(n, c)| (n.as_str(), *c))
    }

    /// The reasons, most frequent first (`format_mismatch 2, bad_timestamp 1`).
    pub fn reasons_text(&self) -> String {
        let mut v = self.reasons.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.iter()
            .map(|(n, c)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The oddity most lines have, when most lines have the same one.
    pub fn common_oddity(&self) -> Option<(&str, u64)> {
        Shares::top(&self.oddities).filter(|(_, n)| *n * 2 > self.lines)
    }
}

fn pct(n: u64, of: u64) -> f64 {
    n as f64 * 100.0 / of.max(1) as f64
}

/// Warns loudly when most lines were rejected or carry the same oddity, naming a better
/// preset from `better` (called only then: it reads a sample). With `strict` the warning is
/// an error. A run with every line rejected is an error in any case. `format` names the
/// format for the messages (`` `combined` ``, "the detected format").
pub fn check(
    s: &Shares,
    format: &str,
    strict: bool,
    better: impl FnOnce() -> Option<String>,
) -> anyhow::Result<()> {
    if s.lines == 0 {
        return Ok(());
    }
    let mut better = Some(better);
    let mut hint_once = || hint(better.take().and_then(|f| f()).as_deref());
    if s.rejected == s.lines {
        return Err(anyhow!(
            "none of the {} lines parsed as {format} (rejected: {}); {}",
            s.lines,
            s.reasons_text(),
            hint_once()
        ));
    }
    let mut problem = None;
    if s.rejected * 2 > s.lines {
        problem = Some(format!(
            "MOST LINES WERE REJECTED: {} of {} ({:.1} %) did not parse as {format} ({}); the \
             format is probably wrong",
            s.rejected,
            s.lines,
            pct(s.rejected, s.lines),
            s.reasons_text()
        ));
    } else if let Some((odd, n)) = s.common_oddity() {
        let meaning = Oddity::from_name(odd).map_or("", Oddity::meaning);
        problem = Some(format!(
            "MOST LINES HAVE THE SAME ODDITY: {n} of {} lines ({:.1} %) read as {format} have \
             `{odd}` ({meaning}); the format is probably wrong, and the numbers with it",
            s.lines,
            pct(n, s.lines)
        ));
    }
    let Some(problem) = problem else {
        return Ok(());
    };
    let hint = hint_once();
    if strict {
        return Err(anyhow!("--strict: {problem}; {hint}"));
    }
    eprintln!("warning: {problem}; {hint} (--strict makes this an error)");
    Ok(())
}

/// The first lines of a file, for [`better_preset`]: `None` when it cannot be read.
pub fn sample_of(path: &str) -> Option<Vec<Vec<u8>>> {
    let r = crate::input::open(
        path,
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
    )
    .ok()?;
    let mut c = crate::input::Chunker::new(r, 256 * 1024);
    let mut buf = Vec::new();
    c.next_into(&mut buf).ok()?;
    Some(
        buf.split(|&b| b == b'\n')
            .take(SAMPLE_LINES)
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// As the file source tells a pattern from a path.
fn is_pattern(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Fails when a file source read once (`run --file`, `follow = false`) names a path that is
/// not there, is a directory or is not readable, or a pattern that matches no file: the run
/// would otherwise end at once, reporting 0 lines as a success. Followed paths (`--tail`) may
/// appear later, as with `tail -F`: the source waits for them and says so.
pub fn check_file_inputs(cfg: &Config) -> anyhow::Result<()> {
    for s in cfg
        .sources
        .iter()
        .filter(|s| s.kind == SourceKind::File && !s.follow)
    {
        for p in &s.paths {
            if is_pattern(p) {
                let files = hitstream_source::matching_files(p, s.follow_symlinks)?;
                if files.is_empty() {
                    return Err(anyhow!("input `{p}`: no file matches"));
                }
                continue;
            }
            let path = Path::new(p);
            let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow!("cannot read input `{p}`: no such file"),
                _ => anyhow!("cannot read input `{p}`: {e}"),
            })?;
            if meta.is_dir() {
                return Err(anyhow!(
                    "input `{p}` is a directory: give the log files in it (--file '{}/*.log')",
                    p.trim_end_matches('/')
                ));
            }
            if !meta.is_file() {
                return Err(anyhow!(
                    "input `{p}` is not a regular file (read a pipe as stdin: --file -)"
                ));
            }
            std::fs::File::open(path).map_err(|e| anyhow!("cannot read input `{p}`: {e}"))?;
        }
    }
    Ok(())
}

/// The first lines of the first file a run reads once, for [`better_preset`].
pub fn run_sample(cfg: &Config) -> Option<Vec<Vec<u8>>> {
    let s = cfg.sources.iter().find(|s| s.kind == SourceKind::File)?;
    let p = s.paths.first()?;
    let path = if is_pattern(p) {
        hitstream_source::matching_files(p, s.follow_symlinks)
            .ok()?
            .into_iter()
            .next()?
    } else {
        p.into()
    };
    sample_of(path.to_str()?)
}

/// The end of a run: the checks of [`check`] on the counts of this run.
pub fn check_run(
    c: &hitstream_runtime::Counters,
    cfg: &Config,
    strict: bool,
) -> anyhow::Result<()> {
    let s = Shares {
        lines: c.lines,
        rejected: c.rejected,
        oddities: c.oddities.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        reasons: c
            .reject_reasons
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    };
    let auto = cfg.format.trim().eq_ignore_ascii_case("auto");
    let preset = hitstream_format::preset(cfg.format.trim()).map(|p| p.name);
    let format = match preset {
        Some(name) => format!("`{name}`"),
        None if auto => "the detected format".to_string(),
        None => "the format given".to_string(),
    };
    let current = preset.unwrap_or("custom");
    check(&s, &format, strict, || {
        if auto {
            // Detection chose from these very lines: it would suggest itself.
            return None;
        }
        let sample = run_sample(cfg)?;
        better_preset(sample.iter().map(Vec::as_slice), current)
    })
    .map_err(|e| anyhow!("hitstream run: {e}"))
}
