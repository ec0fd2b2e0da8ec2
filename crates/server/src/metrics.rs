//! `/metrics`: the pipeline's health and the traffic counters in Prometheus's text format
//! (version 0.0.4), written by hand: a dozen families do not need a metrics library.

use std::fmt::Write;

use hitstream_runtime::{Phase, Status};

use crate::live::Traffic;

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value escaped as the format requires (backslash, double quote, newline). Methods
/// come from log lines: anything may be in them.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(val));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], v);
    }
}

/// The listening sources' connections and spools, one series per source (the sources are
/// configured, not taken from data, so the label is bounded).
fn net_families(o: &mut Out, st: &Status) {
    type Pick = fn(&hitstream_runtime::NetStatus) -> Option<f64>;
    let families: [(&str, &str, &str, Pick); 14] = [
        ("hitstream_net_datagrams_total", "counter", "Syslog datagrams received over UDP.",
            |n| n.connections.as_ref().map(|c| c.datagrams as f64)),
        ("hitstream_net_udp_kernel_drops_total", "counter",
            "Datagrams the kernel dropped because the UDP socket's buffer was full (UDP has no flow control).",
            |n| n.connections.as_ref().map(|c| c.udp_kernel_drops as f64)),
        ("hitstream_net_connections_open", "gauge", "TCP connections open now.",
            |n| n.connections.as_ref().map(|c| c.open as f64)),
        ("hitstream_net_connections_accepted_total", "counter", "TCP connections accepted.",
            |n| n.connections.as_ref().map(|c| c.connections as f64)),
        ("hitstream_net_connections_refused_total", "counter",
            "TCP connections refused (every connection of a full table was already closing).",
            |n| n.connections.as_ref().map(|c| c.refused as f64)),
        ("hitstream_net_connections_evicted_total", "counter",
            "TCP connections closed to admit a new one at the cap, or to free a file descriptor: the one silent the longest.",
            |n| n.connections.as_ref().map(|c| c.evicted as f64)),
        ("hitstream_net_connections_idle_closed_total", "counter",
            "TCP connections closed after sending nothing for the idle timeout.",
            |n| n.connections.as_ref().map(|c| c.idle_closed as f64)),
        ("hitstream_net_accept_errors_total", "counter",
            "Failed accepts (most often: no file descriptor left).",
            |n| n.connections.as_ref().map(|c| c.accept_errors as f64)),
        ("hitstream_spool_bytes", "gauge", "Bytes of spool segments not yet consumed and removed.",
            |n| n.spool.as_ref().map(|s| s.held_bytes as f64)),
        ("hitstream_spool_max_bytes", "gauge",
            "The cap on those bytes: above it the sockets are not read (backpressure).",
            |n| n.spool.as_ref().map(|s| s.max_bytes as f64)),
        ("hitstream_spool_full", "gauge", "1 while the spool is over its cap and the sockets are not read.",
            |n| n.spool.as_ref().map(|s| if s.full { 1.0 } else { 0.0 })),
        ("hitstream_spool_full_pauses_total", "counter", "Times reading stopped because the spool was full.",
            |n| n.spool.as_ref().map(|s| s.full_pauses as f64)),
        ("hitstream_spool_write_errors_total", "counter", "Failed spool writes or fsyncs (a full disk), each retried.",
            |n| n.spool.as_ref().map(|s| s.write_errors as f64)),
        ("hitstream_spool_malformed_dropped_total", "counter",
            "Malformed syslog frames counted but not kept: malformed.log was at its cap.",
            |n| n.spool.as_ref().map(|s| s.malformed_dropped as f64)),
    ];
    for (name, kind, help, pick) in families {
        let known: Vec<(&str, f64)> = st
            .sources
            .iter()
            .filter_map(|s| s.net.as_ref().and_then(pick).map(|v| (s.name.as_str(), v)))
            .collect();
        if !known.is_empty() {
            o.family(name, kind, help);
            for (source, v) in known {
                o.sample(name, &[("source", source)], v);
            }
        }
    }
}

/// The metrics text. `live` is false for a server without a pipeline (`hitstream serve`):
/// then only `hitstream_up` and the traffic families (empty) are written.
pub fn render(st: &Status, traffic: &Traffic, live: bool, now: i64) -> String {
    let mut o = Out(String::new());
    o.one(
        "hitstream_up",
        "gauge",
        "1 while a pipeline runs and reads input, 0 otherwise.",
        if live && st.phase == Phase::Running {
            1.0
        } else {
            0.0
        },
    );
    if live {
        let c = &st.counters;
        o.family(
            "hitstream_lines_total",
            "counter",
            "Lines read, by outcome (ok, degraded: parsed with an oddity, rejected).",
        );
        for (outcome, n) in [
            ("ok", c.ok),
            ("degraded", c.degraded),
            ("rejected", c.rejected),
        ] {
            o.sample("hitstream_lines_total", &[("outcome", outcome)], n as f64);
        }
        o.one(
            "hitstream_late_lines_total",
            "counter",
            "Lines too late for any window.",
            c.late as f64,
        );
        o.one(
            "hitstream_future_lines_total",
            "counter",
            "Lines dated too far ahead of the event clock (stored, in no window).",
            c.future as f64,
        );
        o.one(
            "hitstream_lost_lines_total",
            "counter",
            "Lines of a repeated epoch that could not be read again.",
            c.lost as f64,
        );
        o.one(
            "hitstream_windows_total",
            "counter",
            "Window results emitted, updates included.",
            c.windows as f64,
        );
        o.one(
            "hitstream_alerts_total",
            "counter",
            "Alerts raised.",
            c.alerts as f64,
        );
        o.one(
            "hitstream_lines_per_second",
            "gauge",
            "Lines read per second over the last status interval.",
            st.lines_per_sec,
        );
        o.one(
            "hitstream_epoch",
            "gauge",
            "The last durable (checkpointed) epoch.",
            st.epoch as f64,
        );
        o.one(
            "hitstream_checkpoints_total",
            "counter",
            "Checkpoints taken by this process.",
            st.checkpoints as f64,
        );
        if let Some(t) = st.last_checkpoint {
            o.one(
                "hitstream_last_checkpoint_timestamp_seconds",
                "gauge",
                "Unix time of the last checkpoint.",
                t as f64,
            );
        }
        o.family(
            "hitstream_epoch_commit_seconds",
            "summary",
            "Time spent committing epochs to the epoch sinks (the lake).",
        );
        o.sample("hitstream_epoch_commit_seconds_sum", &[], st.commit_seconds);
        o.sample(
            "hitstream_epoch_commit_seconds_count",
            &[],
            st.commits as f64,
        );
        o.one(
            "hitstream_buffered_rows",
            "gauge",
            "Rows waiting for the next epoch commit.",
            st.buffered_rows as f64,
        );
        for (name, help, pick) in [
            (
                "hitstream_source_lag_bytes",
                "Bytes written to a source's files and not yet read.",
                (|l: &hitstream_runtime::Lag| l.bytes)
                    as fn(&hitstream_runtime::Lag) -> Option<u64>,
            ),
            (
                "hitstream_source_lag_records",
                "Records in a source's topic past the committed offsets.",
                |l: &hitstream_runtime::Lag| l.records,
            ),
        ] {
            let known: Vec<(&str, u64)> = st
                .sources
                .iter()
                .filter_map(|s| pick(&s.lag).map(|v| (s.name.as_str(), v)))
                .collect();
            if !known.is_empty() {
                o.family(name, "gauge", help);
                for (source, v) in known {
                    o.sample(name, &[("source", source)], v as f64);
                }
            }
        }
        net_families(&mut o, st);
        let untrusted: Vec<(&str, u64)> = st
            .sources
            .iter()
            .filter_map(|s| s.lag.untrusted.map(|v| (s.name.as_str(), v)))
            .collect();
        if !untrusted.is_empty() {
            let name = "hitstream_kafka_untrusted_origin_lines_total";
            o.family(
                name,
                "counter",
                "Lines of a Kafka source whose origin headers were not trusted (no valid MAC under --origin-key, or offsets no shipper writes): stored as new lines.",
            );
            for (source, v) in untrusted {
                o.sample(name, &[("source", source)], v as f64);
            }
        }
        if let Some(w) = st.watermark {
            o.one(
                "hitstream_watermark_timestamp_seconds",
                "gauge",
                "The event-time watermark (Unix seconds).",
                w as f64,
            );
            // After the end of input the watermark stays where the events left it: a delay
            // behind the clock would grow for ever and mean nothing.
            if !st.input_ended {
                o.one(
                    "hitstream_watermark_delay_seconds",
                    "gauge",
                    "How far the watermark is behind the wall clock: the lag of the results.",
                    now.saturating_sub(w) as f64,
                );
            }
        }
    }
    o.family(
        "hitstream_requests_total",
        "counter",
        "Requests in the emitted windows, by status class.",
    );
    for (class, n) in &traffic.classes {
        o.sample("hitstream_requests_total", &[("class", class)], *n as f64);
    }
    o.family(
        "hitstream_requests_by_method_total",
        "counter",
        "Requests in the emitted windows, by method.",
    );
    for (m, n) in &traffic.methods {
        o.sample(
            "hitstream_requests_by_method_total",
            &[("method", m)],
            *n as f64,
        );
    }
    o.one(
        "hitstream_response_bytes_total",
        "counter",
        "Response bytes in the emitted windows.",
        traffic.bytes as f64,
    );
    o.0
}

/// The HTTP server's own families: its connections, event streams and lake queries, and what
/// it refused.
pub fn render_server(st: &crate::Stats) -> String {
    let g = crate::Stats::get;
    let mut o = Out(String::new());
    for (name, kind, help, v) in [
        (
            "hitstream_http_connections_max",
            "gauge",
            "The connection cap in force (--http-max-connections, at most half the open-file limit).",
            &st.max_connections,
        ),
        (
            "hitstream_http_connections_open",
            "gauge",
            "HTTP connections open now.",
            &st.connections_open,
        ),
        (
            "hitstream_http_connections_total",
            "counter",
            "HTTP connections served.",
            &st.connections_total,
        ),
        (
            "hitstream_http_connections_refused_total",
            "counter",
            "HTTP connections closed at once because the connection cap was reached.",
            &st.connections_refused,
        ),
        (
            "hitstream_http_connections_timed_out_total",
            "counter",
            "HTTP connections closed for sending no complete request in time or reading nothing of a response in time.",
            &st.connections_timed_out,
        ),
        (
            "hitstream_http_accept_errors_total",
            "counter",
            "Failed accepts (such as out of file descriptors); the server waits and goes on.",
            &st.accept_errors,
        ),
        (
            "hitstream_http_streams_open",
            "gauge",
            "Event streams (/api/events) open now.",
            &st.streams_open,
        ),
        (
            "hitstream_http_streams_refused_total",
            "counter",
            "Event streams refused because the stream cap was reached.",
            &st.streams_refused,
        ),
        (
            "hitstream_http_stream_events_skipped_total",
            "counter",
            "Pushes skipped by event streams that fell behind.",
            &st.stream_skipped,
        ),
        (
            "hitstream_http_lake_queries_total",
            "counter",
            "History questions asked of the lake (answers served again from the cache are not counted).",
            &st.lake_queries,
        ),
        (
            "hitstream_http_foreign_host_total",
            "counter",
            "Requests refused because their Host was not this server (no token, loopback).",
            &st.foreign_hosts,
        ),
    ] {
        o.one(name, kind, help, g(v) as f64);
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_logs_are_escaped() {
        let mut t = Traffic::default();
        t.methods.insert("G\"E\\T\nX".into(), 3);
        let text = render(&Status::default(), &t, true, 0);
        assert!(
            text.contains(r#"hitstream_requests_by_method_total{method="G\"E\\T\nX"} 3"#),
            "{text}"
        );
        for line in text.lines() {
            assert!(!line.is_empty());
        }
    }

    #[test]
    fn untrusted_kafka_origin_lines_are_counted_per_source() {
        let mut st = Status::default();
        st.sources.push(hitstream_runtime::SourceStatus {
            name: "kafka weblogs".into(),
            replayable: true,
            ended: false,
            lag: hitstream_runtime::Lag {
                untrusted: Some(3),
                ..hitstream_runtime::Lag::default()
            },
            net: None,
            probe: None,
        });
        let text = render(&st, &Traffic::default(), true, 0);
        assert!(
            text.contains(
                "hitstream_kafka_untrusted_origin_lines_total{source=\"kafka weblogs\"} 3"
            ),
            "{text}"
        );
        // A source that cannot have any shows no family.
        let text = render(&Status::default(), &Traffic::default(), true, 0);
        assert!(!text.contains("untrusted"));
    }

    #[test]
    fn the_watermark_delay_is_left_out_once_the_input_ended() {
        let mut st = Status {
            watermark: Some(1_000),
            ..Status::default()
        };
        let text = render(&st, &Traffic::default(), true, 1_060);
        assert!(
            text.contains("hitstream_watermark_delay_seconds 60"),
            "{text}"
        );
        // Ended: the watermark the events reached stays, a delay behind the clock does not.
        st.input_ended = true;
        let text = render(&st, &Traffic::default(), true, 1_060);
        assert!(
            text.contains("hitstream_watermark_timestamp_seconds 1000"),
            "{text}"
        );
        assert!(
            !text.contains("hitstream_watermark_delay_seconds"),
            "{text}"
        );
    }

    #[test]
    fn every_family_has_help_and_type() {
        let text = render(&Status::default(), &Traffic::default(), true, 0);
        let helps = text.lines().filter(|l| l.starts_with("# HELP")).count();
        let types = text.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(helps, types);
        assert!(text.contains("hitstream_lines_total{outcome=\"ok\"} 0"));
    }
}
