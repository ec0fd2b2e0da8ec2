//! The console sink of `hitstream run`: one readable block per closed window, one line per
//! alert. Like a streaming engine's console sink, but meant to be read.

use std::fmt::Write;

use hitstream_window::{Alert, KeyCount, WindowResult};

use crate::output::table::{cut as clip, human_bytes, thousands};

fn list(items: &[KeyCount]) -> String {
    items
        .iter()
        .map(|k| format!("{} {}", clip(&k.key, 60), thousands(k.count)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A closed window as a block of text (cleaned for the terminal: keys are log text).
pub fn render_window(w: &WindowResult) -> String {
    crate::output::clean_lines(&window_text(w)).into_owned()
}

fn window_text(w: &WindowResult) -> String {
    let mut s = String::new();
    let rev = if w.update {
        format!("  (update #{})", w.revision)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "── {} → {} (UTC){rev}",
        w.window_start_rfc3339, w.window_end_rfc3339
    );
    let c = &w.status_classes;
    let _ = writeln!(
        s,
        "   requests {}  bytes {}  unique clients ~{}  2xx {} 3xx {} 4xx {} 5xx {}  404 {}",
        thousands(w.requests),
        human_bytes(w.bytes),
        thousands(w.unique_clients),
        thousands(c.success),
        thousands(c.redirection),
        thousands(c.client_error),
        thousands(c.server_error),
        thousands(w.not_found),
    );
    if !w.methods.is_empty() {
        let _ = writeln!(s, "   methods      {}", list(&w.methods));
    }
    if !w.top_pages.is_empty() {
        let _ = writeln!(s, "   top pages    {}", list(&w.top_pages));
    }
    if !w.top_clients.is_empty() {
        let clients: Vec<String> = w
            .top_clients
            .iter()
            .map(|c| format!("{} {}", clip(&c.client, 40), thousands(c.requests)))
            .collect();
        let _ = writeln!(s, "   top clients  {}", clients.join(" · "));
    }
    if !w.top_error_endpoints.is_empty() {
        // Errors are 4xx and 5xx responses, as in every other report.
        let _ = writeln!(s, "   errors 4xx/5xx {}", list(&w.top_error_endpoints));
    }
    if let (Some(p50), Some(p99)) = (w.size.p50, w.size.p99) {
        let _ = write!(
            s,
            "   size p50 {} p99 {}",
            human_bytes(p50),
            human_bytes(p99)
        );
        if let (Some(t50), Some(t99)) = (w.request_time_us.p50, w.request_time_us.p99) {
            let _ = write!(
                s,
                "   time p50 {:.1} ms p99 {:.1} ms",
                t50 as f64 / 1000.0,
                t99 as f64 / 1000.0
            );
        }
        s.push('\n');
    }
    s
}

/// An alert as one line (plus its sample lines, indented). The key, the explanation (which
/// names the client) and the samples are log text: the whole is cleaned for the terminal.
pub fn render_alert(a: &Alert) -> String {
    crate::output::clean_lines(&alert_text(a)).into_owned()
}

fn alert_text(a: &Alert) -> String {
    let name = if a.rule == a.kind {
        a.rule.clone()
    } else {
        format!("{} [{}]", a.rule, a.kind)
    };
    let mut s = format!(
        "ALERT {name} {}: {} (observed {}, threshold {})",
        clip(&a.key, 60),
        crate::output::clean(&a.explanation),
        trim_num(a.observed),
        trim_num(a.threshold),
    );
    for l in &a.samples {
        let _ = write!(s, "\n    {}", clip(l, 200));
    }
    s
}

fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(trim_num(30.0), "30");
        assert_eq!(trim_num(0.25), "0.250");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn an_alert_from_hostile_log_text_reaches_the_terminal_clean() {
        let evil = "x\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}1m\u{202E}";
        let a = Alert {
            rule: "r".into(),
            kind: "client_404_burst".into(),
            key: evil.into(),
            observed: 30.0,
            threshold: 20.0,
            window_start: 0,
            window_end: 60,
            window_start_rfc3339: String::new(),
            window_end_rfc3339: String::new(),
            revision: 0,
            explanation: format!("client {evil} had 30 404 responses"),
            samples: vec![format!("{evil} - - \"GET /\r\n\" 404 0")],
        };
        let s = render_alert(&a);
        assert!(
            !s.chars()
                .any(|c| c != '\n' && crate::output::is_unsafe_char(c)),
            "{s:?}"
        );
        // The sample's own line break stays; the ones inside log text do not.
        assert_eq!(s.lines().count(), 2, "{s}");
        assert!(
            s.contains("client x\u{fffd}]0;owned\u{fffd}\u{fffd}[2J"),
            "{s}"
        );
    }
}
