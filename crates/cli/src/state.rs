//! Where state lives when the user does not say: the checkpoints of `run`, the positions of
//! `ship` and the lake, in the platform's places rather than the current directory.
//!
//! # Precedence
//!
//! State of `run` and `ship` (the first that applies):
//!
//! 1. `--checkpoint-dir DIR`, or `[checkpoint] dir` of `run`'s config file; with a lake,
//!    `<data>/_checkpoint` beside its tables;
//! 2. `--no-state`: none (a restart reads everything again);
//! 3. `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`, the first of its entries):
//!    `$STATE_DIRECTORY/<command>/<key>`, so `/var/lib/hitstream/run/<key>` for a unit with
//!    `StateDirectory=hitstream`;
//! 4. `$XDG_STATE_HOME/hitstream/<command>/<key>` (an absolute `$XDG_STATE_HOME` only, as the
//!    XDG base directory specification says);
//! 5. `$HOME/.local/state/hitstream/<command>/<key>`.
//!
//! The lake (`--data` absent): `$STATE_DIRECTORY/lake`, else `$XDG_DATA_HOME/hitstream/lake`,
//! else `$HOME/.local/share/hitstream/lake`. A command that only reads the lake (`sql`,
//! `report`, `serve`) falls back to the service's lake, `/var/lib/hitstream/lake`, when the
//! user's does not exist and that one does.
//!
//! `<key>` names what is followed: a readable slug of the sources and 12 hex digits of the
//! SHA-256 of their canonical description (kind and absolute path, address or topic, sorted),
//! so two `run`s of different sources never share state, and the same sources named from
//! another directory or in another order do. The description is kept in the directory as
//! `sources.txt`.

use std::path::{Path, PathBuf};

use anyhow::bail;

#[cfg(feature = "full")]
/// The state directory a systemd unit gets from `StateDirectory=hitstream`: where readers
/// of the lake look when the user has none.
pub const SERVICE_ROOT: &str = "/var/lib/hitstream";

/// One environment variable as a usable absolute directory: set, not empty, absolute.
fn env_dir(name: &str) -> Option<PathBuf> {
    let v = std::env::var_os(name)?;
    let p = PathBuf::from(v);
    p.is_absolute().then_some(p)
}

/// `$STATE_DIRECTORY`: systemd sets it to a colon-separated list when a unit names several
/// state directories; the first is ours.
fn service_dir() -> Option<PathBuf> {
    let v = std::env::var("STATE_DIRECTORY").ok()?;
    let first = v.split(':').next()?;
    let p = PathBuf::from(first);
    p.is_absolute().then_some(p)
}

fn no_home(what: &str, flag: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "no place for {what}: neither STATE_DIRECTORY, {} nor HOME is set to an absolute \
         directory; give {flag}",
        if what == "the lake" {
            "XDG_DATA_HOME"
        } else {
            "XDG_STATE_HOME"
        }
    )
}

/// The root of `run`'s and `ship`'s state (see the module's precedence).
pub fn state_root() -> anyhow::Result<PathBuf> {
    if let Some(d) = service_dir() {
        return Ok(d);
    }
    if let Some(d) = env_dir("XDG_STATE_HOME") {
        return Ok(d.join("hitstream"));
    }
    if let Some(h) = env_dir("HOME") {
        return Ok(h.join(".local/state/hitstream"));
    }
    Err(no_home(
        "state",
        "--checkpoint-dir DIR, or --no-state for a run that keeps none",
    ))
}

#[cfg(feature = "full")]
/// The default lake of every command that writes or reads one.
pub fn default_lake() -> anyhow::Result<PathBuf> {
    if let Some(d) = service_dir() {
        return Ok(d.join("lake"));
    }
    if let Some(d) = env_dir("XDG_DATA_HOME") {
        return Ok(d.join("hitstream/lake"));
    }
    if let Some(h) = env_dir("HOME") {
        return Ok(h.join(".local/share/hitstream/lake"));
    }
    Err(no_home("the lake", "--data DIR"))
}

#[cfg(feature = "full")]
/// The lake a command writes to: `--data` if given, else the default, said on stderr.
pub fn lake_for_writing(data: Option<&str>) -> anyhow::Result<String> {
    if let Some(d) = data {
        return Ok(d.to_string());
    }
    let l = default_lake()?.display().to_string();
    crate::verbosity::info!("lake: {l} (the default; --data DIR for another)");
    Ok(l)
}

#[cfg(feature = "full")]
/// The lake a reading command opens: `--data` if given, else the user's default lake, or the
/// service's when only that one exists; said on stderr.
pub fn lake_for_reading(data: Option<&str>) -> anyhow::Result<String> {
    if let Some(d) = data {
        return Ok(d.to_string());
    }
    let mine = default_lake();
    let service = Path::new(SERVICE_ROOT).join("lake");
    let l = match mine {
        Ok(p) if p.is_dir() => p,
        _ if service.is_dir() => service,
        Ok(p) => p,
        Err(e) => return Err(e),
    };
    let l = l.display().to_string();
    crate::verbosity::info!("lake: {l} (the default; --data DIR for another)");
    Ok(l)
}

/// A path made absolute against the current directory, `.` and `..` resolved by their
/// names (the path or pattern may not exist yet; symbolic links are left as written).
pub fn absolute(p: &str) -> String {
    let path = Path::new(p);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.display().to_string()
}

/// The directory of one set of sources: `slug-hash`, from their canonical descriptions (one
/// per source, such as `tail /var/log/nginx/access.log*`).
pub fn key(descriptions: &[String]) -> String {
    use sha2::Digest;
    let mut d: Vec<&String> = descriptions.iter().collect();
    d.sort();
    d.dedup();
    let mut h = sha2::Sha256::new();
    for s in &d {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    let hash: String = h
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{hash}", slug(&d))
}

/// A readable name: the last part of each source's path or address, in `[A-Za-z0-9._-]`,
/// joined by `+`, at most 40 characters.
fn slug(descriptions: &[&String]) -> String {
    let mut parts = Vec::new();
    for d in descriptions {
        let what = d.split_once(' ').map_or(d.as_str(), |(_, rest)| rest);
        let last = what
            .rsplit(['/', ' '])
            .find(|s| !s.is_empty())
            .unwrap_or(what);
        let clean: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = clean.trim_matches(['.', '_']).to_string();
        if !clean.is_empty() && !parts.contains(&clean) {
            parts.push(clean);
        }
    }
    let mut s = parts.join("+");
    if s.is_empty() {
        s.push_str("sources");
    }
    if s.len() > 40 {
        let mut cut = 40;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// The state directory of `command` (`run`, `ship`) for these sources, made if missing, with
/// `sources.txt` describing them for whoever looks.
pub fn dir_for(command: &str, descriptions: &[String]) -> anyhow::Result<PathBuf> {
    let dir = state_root()?.join(command).join(key(descriptions));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        bail!(
            "cannot create the state directory `{}`: {e}; give --checkpoint-dir DIR, or \
             --no-state for a run that keeps none",
            dir.display()
        );
    }
    let about = dir.join("sources.txt");
    if !about.exists() {
        let mut text = format!("hitstream {command} state of:\n");
        let mut d = descriptions.to_vec();
        d.sort();
        d.dedup();
        for s in d {
            text.push_str(&s);
            text.push('\n');
        }
        // Only for people: a failure to write it must not stop the run.
        let _ = hitstream_source::write_atomic(&about, text.as_bytes());
    }
    Ok(dir)
}

/// What a run that goes on from saved state needs for its last words.
#[cfg(feature = "full")]
#[derive(Debug, Clone)]
pub struct Resume {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// What it held before this run, if anything.
    pub before: Option<hitstream_runtime::SavedSummary>,
    /// How to read everything again, for the "nothing new" line.
    pub again: String,
    /// How to start over when the state cannot be used (other window or alert settings).
    pub fix: &'static str,
    /// The directory is the default one of these sources (not given, not the lake's).
    pub default: bool,
}

/// The canonical descriptions of `run`'s sources, one per path or address.
#[cfg(feature = "full")]
fn describe_run(cfg: &crate::config::Config) -> Vec<String> {
    use crate::config::SourceKind;
    let mut out = Vec::new();
    for s in &cfg.sources {
        match s.kind {
            SourceKind::File => {
                let how = if s.follow { "tail" } else { "file" };
                out.extend(s.paths.iter().map(|p| format!("{how} {}", absolute(p))));
            }
            SourceKind::Stdin => out.push("stdin".into()),
            SourceKind::Tcp => out.push(format!("tcp {}", s.listen.as_deref().unwrap_or(""))),
            SourceKind::Syslog => out.push(format!("syslog {}", s.listen.as_deref().unwrap_or(""))),
            SourceKind::Kafka => out.push(format!(
                "kafka {} group {} topic {}",
                s.brokers.as_deref().unwrap_or(""),
                s.group.as_deref().unwrap_or("hitstream"),
                s.topic.as_deref().unwrap_or("")
            )),
        }
    }
    out
}

/// Decides where `run` keeps its state (see the module's precedence), sets it in `cfg`, and
/// says it on stderr in one line. `flag_dir`: the directory came from --checkpoint-dir.
#[cfg(feature = "full")]
pub fn for_run(
    cfg: &mut crate::config::Config,
    no_state: bool,
    flag_dir: bool,
) -> anyhow::Result<Option<Resume>> {
    use crate::config::SourceKind;
    use crate::verbosity::info;
    let before = |dir: &Path| hitstream_runtime::saved_summary(dir).ok().flatten();
    if let Some(dir) = cfg.checkpoint.dir.clone() {
        let lake = cfg.lake.as_ref().map(|l| {
            let local = l.data.strip_prefix("file://").unwrap_or(&l.data);
            Path::new(local).join("_checkpoint")
        });
        let (why, again, fix) = if lake.as_deref() == Some(dir.as_path()) {
            (
                "beside the lake",
                "the lake holds what was read; --data DIR for another lake".to_string(),
                "go back to the settings the lake was written with, or give --data DIR for another lake",
            )
        } else if flag_dir {
            (
                "--checkpoint-dir",
                "use another --checkpoint-dir, or --no-state, to read again".to_string(),
                "give another --checkpoint-dir, or --no-state for a run that keeps none",
            )
        } else {
            (
                "the config file's [checkpoint] dir",
                "use --no-state to read again".to_string(),
                "remove that directory to start over, or give --no-state for a run that keeps none",
            )
        };
        info!("state: {} ({why})", dir.display());
        return Ok(Some(Resume {
            before: before(&dir),
            dir,
            again,
            fix,
            default: false,
        }));
    }
    if no_state {
        info!("state: none (--no-state: nothing is kept; the next run reads everything again)");
        return Ok(None);
    }
    if cfg.sources.iter().any(|s| s.kind == SourceKind::Stdin) {
        info!("state: none (standard input cannot be read again; --checkpoint-dir DIR keeps the windows anyway)");
        return Ok(None);
    }
    let dir = dir_for("run", &describe_run(cfg))?;
    info!(
        "state: {} (the next run goes on from here; --no-state for a run that keeps none)",
        dir.display()
    );
    cfg.checkpoint.dir = Some(dir.clone());
    Ok(Some(Resume {
        before: before(&dir),
        dir,
        again: "use --no-state to read again".to_string(),
        fix: "remove that directory to start over, or give --no-state for a run that keeps none",
        default: true,
    }))
}

/// Removes the state a failed first run made, saying so: the next run reads everything.
#[cfg(feature = "full")]
pub fn forget(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => crate::verbosity::info!(
            "state: {} removed (this first run failed; the next one reads everything again)",
            dir.display()
        ),
        Err(e) => eprintln!(
            "warning: cannot remove the state of this failed run, `{}`: {e}; remove it, or \
             give --no-state, to read everything again",
            dir.display()
        ),
    }
}

#[cfg(feature = "full")]
/// A time for people: local time with its zone.
pub fn when(t: std::time::SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => "an unknown time".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_readable_and_order_free() {
        let a = vec![
            "tail /var/log/nginx/access.log*".to_string(),
            "tcp 127.0.0.1:5140".to_string(),
        ];
        let b = vec![a[1].clone(), a[0].clone()];
        assert_eq!(key(&a), key(&b));
        assert!(
            key(&a).starts_with("access.log+127.0.0.1_5140-"),
            "{}",
            key(&a)
        );
        assert_ne!(
            key(&a[..1]),
            key(&["file /var/log/nginx/access.log*".to_string()])
        );
        // The hash is part of the on-disk layout: it must not change between versions.
        // (`printf 'file /a\n' | sha256sum`)
        assert_eq!(key(&["file /a".to_string()]), "a-0fe64117a264");
    }

    #[test]
    fn absolute_resolves_dots_by_name() {
        assert_eq!(absolute("/var/log/../log/./a.log"), "/var/log/a.log");
        assert!(Path::new(&absolute("a.log")).is_absolute());
    }
}
