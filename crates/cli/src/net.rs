//! The limits of the listening sources and their status line, shared by `run` and `ship`
//! (and so in the ship-only build).

use std::time::Duration;

/// Limits of the listening sources and their spool (`run`, `ship`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NetArgs {
    /// With --tcp/--syslog: most TCP connections open at once [default: 256]. At the cap,
    /// the connection that has been silent the longest is closed to admit the new one, so
    /// a flood of idle connections cannot lock a real sender out. Lowered (and said on
    /// stderr) when the caps do not fit the open-file limit (`ulimit -n`) with 128
    /// descriptors kept for the pipeline.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub tcp_max_connections: Option<u32>,
    /// With --tcp/--syslog: close a TCP connection that sent nothing for this long
    /// [default: 60s]; what it sent is kept.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub tcp_idle_timeout: Option<Duration>,
    /// With --spool: most bytes of spool segments not yet consumed [default: 1GiB as
    /// 1073741824]. Above it the sockets are not read until the pipeline catches up: TCP
    /// senders are pushed back (nothing lost), UDP datagrams beyond the kernel's buffer
    /// are dropped by the kernel.
    #[arg(long, value_name = "BYTES")]
    pub spool_max_bytes: Option<u64>,
    /// With --spool: start a new spool segment when the current one has this many bytes
    /// [default: 64MiB as 67108864]; consumed segments are deleted.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub spool_segment_bytes: Option<u64>,
    /// With --spool and --syslog: most bytes of the spool's malformed.log [default: 64MiB
    /// as 67108864]; past it malformed frames are counted, not kept, and one warning says so.
    #[arg(long, value_name = "BYTES")]
    pub malformed_max_bytes: Option<u64>,
}

/// One line on a listening source's connections and spool, for the status lines of `run`
/// and `ship`: `tcp 127.0.0.1:5140: 12 connections (3 open, 1 evicted, 2 idle-closed),
/// spool 1048576 of 1073741824 bytes`.
pub fn net_line(name: &str, n: &hitstream_runtime::NetStatus) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &n.connections {
        let mut conn = format!("{} connections ({} open", c.connections, c.open);
        for (v, what) in [
            (c.evicted, "evicted"),
            (c.idle_closed, "idle-closed"),
            (c.refused, "refused"),
            (c.accept_errors, "accept errors"),
        ] {
            if v > 0 {
                conn.push_str(&format!(", {v} {what}"));
            }
        }
        conn.push(')');
        parts.push(conn);
        if c.datagrams > 0 || c.udp_kernel_drops > 0 {
            parts.push(format!(
                "{} datagrams ({} dropped by the kernel)",
                c.datagrams, c.udp_kernel_drops
            ));
        }
    }
    if let Some(s) = &n.spool {
        let mut sp = format!("spool {} of {} bytes", s.held_bytes, s.max_bytes);
        if s.full {
            sp.push_str(", FULL: not reading");
        }
        for (v, what) in [
            (s.full_pauses, "pauses when full"),
            (s.write_errors, "write errors"),
            (s.malformed_dropped, "malformed frames not kept"),
        ] {
            if v > 0 {
                sp.push_str(&format!(", {v} {what}"));
            }
        }
        parts.push(sp);
    }
    format!("{name}: {}", parts.join(", "))
}
