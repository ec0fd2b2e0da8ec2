//! One budget of open files for the whole process.
//!
//! The dashboard's connections, the TCP and syslog connections and the followed files each
//! have a cap of their own, and each is reasonable alone; together they can exceed the
//! process's open-file limit (1,024 is the usual default for a service), and then whoever
//! opens a file next fails: the checkpoint, the lake, the spool. So before the pipeline
//! starts, the caps are fitted into the limit, leaving [`RESERVE`] descriptors to the
//! pipeline itself. A client may then be refused or evicted; the pipeline never runs out.

#[cfg(feature = "full")]
use crate::config::{Config, SourceKind};

/// Descriptors kept for the pipeline whatever clients do: standard streams, the listening
/// sockets, the runtimes' pollers, checkpoint and epoch-record files, the lake's writes, the
/// spool's segments, the output files.
pub const RESERVE: usize = 128;

/// The least any cap is lowered to.
const FLOOR: usize = 4;

/// Fits the caps `asked` (what each is, for the message, and its value) into an
/// open-file limit of `limit`: when they add up to more than `limit - RESERVE`, each is
/// lowered in proportion (to no less than a few). Returns the caps to use and the warning
/// to print when it lowered any.
pub fn fit_caps(asked: &[(String, usize)], limit: Option<u64>) -> Option<(Vec<usize>, String)> {
    let limit = usize::try_from(limit?).unwrap_or(usize::MAX);
    let total: usize = asked.iter().map(|(_, n)| n).sum();
    let room = limit.saturating_sub(RESERVE);
    if total <= room {
        return None;
    }
    let fitted: Vec<usize> = asked
        .iter()
        .map(|(_, n)| (n * room / total).max(FLOOR))
        .collect();
    let said: Vec<String> = asked
        .iter()
        .zip(&fitted)
        .map(|((what, was), now)| format!("{what} {was} → {now}"))
        .collect();
    let warning = format!(
        "warning: the open-file limit is {limit}: caps lowered to fit it with {RESERVE} kept \
         for the pipeline ({}); raise it with `ulimit -n` or LimitNOFILE= in a systemd unit",
        said.join(", ")
    );
    Some((fitted, warning))
}

/// Fits the caps of `cfg` into an open-file limit of `limit` (see [`fit_caps`]), the
/// defaults standing for the caps not asked for, and sets the lowered ones in `cfg`.
/// Returns the warning to print when it lowered any.
#[cfg(feature = "full")]
pub fn fit(cfg: &mut Config, limit: Option<u64>) -> Option<String> {
    let net_default = hitstream_source::net::ConnLimits::default().max_connections;
    let files_default = hitstream_source::FileSourceConfig::default().max_open_files;
    let http_default = hitstream_server::Limits::default().max_connections;
    let mut asked: Vec<(String, usize)> = Vec::new();
    if cfg.http.listen.is_some() {
        asked.push((
            "http connections".into(),
            cfg.http.max_connections.unwrap_or(http_default),
        ));
    }
    for s in &cfg.sources {
        match s.kind {
            SourceKind::Tcp | SourceKind::Syslog => asked.push((
                format!("{} connections", source_name(s.kind)),
                s.max_connections.unwrap_or(net_default),
            )),
            SourceKind::File => asked.push((
                "open files".into(),
                s.max_open_files.unwrap_or(files_default),
            )),
            SourceKind::Stdin | SourceKind::Kafka => {}
        }
    }
    let (fitted, warning) = fit_caps(&asked, limit)?;
    let mut it = fitted.iter();
    if cfg.http.listen.is_some() {
        cfg.http.max_connections = it.next().copied();
    }
    for s in &mut cfg.sources {
        match s.kind {
            SourceKind::Tcp | SourceKind::Syslog => s.max_connections = it.next().copied(),
            SourceKind::File => s.max_open_files = it.next().copied(),
            SourceKind::Stdin | SourceKind::Kafka => {}
        }
    }
    Some(warning)
}

#[cfg(feature = "full")]
fn source_name(k: SourceKind) -> &'static str {
    match k {
        SourceKind::Tcp => "tcp",
        SourceKind::Syslog => "syslog",
        _ => "source",
    }
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;
    use crate::config::SourceConfig;

    fn cfg() -> Config {
        let mut c = Config::parse_unchecked("", "(test)").unwrap();
        c.http.listen = Some("127.0.0.1:0".into());
        c.sources
            .push(SourceConfig::file(vec!["/var/log/x.log*".into()], true));
        c.sources.push(SourceConfig::of_kind(SourceKind::Tcp));
        c
    }

    #[test]
    fn caps_that_fit_are_left_alone() {
        let mut c = cfg();
        assert_eq!(fit(&mut c, Some(4096)), None);
        assert_eq!(fit(&mut c, None), None);
        assert_eq!(c.http.max_connections, None);
        assert_eq!(c.sources[1].max_connections, None);
    }

    #[test]
    fn caps_that_do_not_fit_leave_the_reserve_to_the_pipeline() {
        let mut c = cfg();
        let warning = fit(&mut c, Some(512)).unwrap();
        assert!(warning.contains("512"), "{warning}");
        let sum = c.http.max_connections.unwrap()
            + c.sources[0].max_open_files.unwrap()
            + c.sources[1].max_connections.unwrap();
        assert!(sum + RESERVE <= 512, "{sum}");
        assert_eq!(c.sources[1].max_connections, Some(128));
        // A tiny limit still leaves each a few.
        let mut c = cfg();
        fit(&mut c, Some(100)).unwrap();
        assert_eq!(c.http.max_connections, Some(FLOOR));
    }
}
