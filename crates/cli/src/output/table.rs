//! Terminal tables.

use std::fmt::Write;

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use hitstream_analyze::{busiest_hour, EndpointRow, NameCount, Report, ShareCount, WeekdayRow};

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units.
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Cuts long keys so tables stay readable; characters that could drive the terminal are
/// shown as U+FFFD ([`super::clean`]).
pub fn cut(s: &str, max: usize) -> String {
    let clean = super::clean(s).into_owned();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut t: String = clean.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if !headers.is_empty() {
        t.set_header(headers.iter().map(Cell::new));
    }
    t
}

fn right(t: &mut Table, cols: &[usize]) {
    for c in cols {
        if let Some(col) = t.column_mut(*c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn section(out: &mut String, title: &str, t: &Table) {
    let _ = writeln!(out, "\n{title}\n{t}");
}

fn counts(out: &mut String, title: &str, key: &str, rows: &[NameCount], of: u64) {
    if rows.is_empty() {
        return;
    }
    let mut t = table(&[key, "count", "share"]);
    for r in rows {
        t.add_row(vec![cut(&r.name, 90), thousands(r.count), pct(r.count, of)]);
    }
    right(&mut t, &[1, 2]);
    section(out, title, &t);
}

fn shares(out: &mut String, title: &str, key: &str, rows: &[ShareCount]) {
    if rows.is_empty() {
        return;
    }
    let mut t = table(&[key, "requests", "share"]);
    for r in rows {
        t.add_row(vec![
            cut(&r.name, 90),
            thousands(r.count),
            format!("{:.2}%", r.share * 100.0),
        ]);
    }
    right(&mut t, &[1, 2]);
    section(out, title, &t);
}

/// Ranked endpoints (or files) with their requests, share of `total` and bytes.
fn endpoint_table(label: &str, rows: &[EndpointRow], total: u64) -> Table {
    let mut t = table(&[label, "requests", "share", "bytes"]);
    for e in rows {
        t.add_row(vec![
            cut(&e.endpoint, 90),
            thousands(e.requests),
            pct(e.requests, total),
            human_bytes(e.bytes),
        ]);
    }
    right(&mut t, &[1, 2, 3]);
    t
}

/// Shades from empty to the busiest cell.
const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The weekday × hour heat map as text: two shade characters per hour.
fn heat(out: &mut String, rows: &[WeekdayRow], clock: &str) {
    let max = busiest_hour(rows);
    if max == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "\nRequests by weekday and hour, {clock} (busiest hour █ = {})",
        thousands(max)
    );
    let mut head = String::from("     ");
    for h in (0..24).step_by(3) {
        let _ = write!(head, "{h:02}    ");
    }
    let _ = writeln!(out, "{}", head.trim_end());
    for r in rows {
        let mut line = format!("{:<4} ", cut(&r.weekday, 4));
        for c in &r.hours {
            // Any request at all shows, however small next to the busiest hour.
            let i = if *c == 0 {
                0
            } else {
                (((*c as f64 / max as f64) * 4.0).ceil() as usize).clamp(1, 4)
            };
            line.push(SHADES[i]);
            line.push(SHADES[i]);
        }
        let _ = writeln!(out, "{line} {:>12}", thousands(r.requests));
    }
}

/// Renders the report as text tables. Cells of log text are cut and cleaned one by one (so
/// columns stay aligned); the whole text is cleaned once more, so that no field (a file name,
/// a reason quoting a line) can reach the terminal raw.
pub fn render(r: &Report) -> String {
    super::clean_lines(&render_tables(r)).into_owned()
}

fn render_tables(r: &Report) -> String {
    let mut out = String::new();
    let tot = &r.totals;
    let clock = super::clock_label(&r.meta.time_basis);
    let _ = writeln!(out, "hitstream analyze — {}", r.meta.inputs.join(", "));
    let mut t = table(&[]);
    t.add_row(vec!["format".to_string(), r.meta.format.clone()]);
    if let (Some(a), Some(b)) = (&tot.first_local, &tot.last_local) {
        t.add_row(vec![
            "time range".to_string(),
            format!(
                "{a} → {b} ({clock}, {} day{})",
                tot.days,
                if tot.days == 1 { "" } else { "s" }
            ),
        ]);
    }
    if !r.meta.filters.is_empty() {
        t.add_row(vec!["filters".to_string(), r.meta.filters.join("; ")]);
    }
    t.add_row(vec!["lines".to_string(), thousands(tot.lines)]);
    t.add_row(vec![
        "  ok / degraded / rejected".to_string(),
        format!(
            "{} / {} / {}",
            thousands(tot.ok),
            thousands(tot.degraded),
            thousands(tot.rejected)
        ),
    ]);
    if tot.filtered > 0 {
        t.add_row(vec!["  filtered out".to_string(), thousands(tot.filtered)]);
    }
    t.add_row(vec!["requests".to_string(), thousands(tot.requests)]);
    t.add_row(vec![
        "bytes".to_string(),
        format!("{} ({})", thousands(tot.bytes), human_bytes(tot.bytes)),
    ]);
    t.add_row(vec![
        "errors (4xx and 5xx)".to_string(),
        format!(
            "{} ({})",
            thousands(tot.errors),
            pct(tot.errors, tot.requests)
        ),
    ]);
    t.add_row(vec![
        "unique clients".to_string(),
        thousands(r.unique_hosts),
    ]);
    section(&mut out, "Summary", &t);

    if !r.degraded.is_empty() || !r.rejected.is_empty() {
        let mut t = table(&["outcome", "kind", "lines"]);
        for d in &r.degraded {
            t.add_row(vec![
                "degraded".to_string(),
                d.name.clone(),
                thousands(d.count),
            ]);
        }
        for d in &r.rejected {
            t.add_row(vec![
                "rejected".to_string(),
                d.name.clone(),
                thousands(d.count),
            ]);
        }
        right(&mut t, &[2]);
        section(
            &mut out,
            "Line outcomes (a degraded line may have several kinds)",
            &t,
        );
        if !r.reject_samples.is_empty() {
            let _ = writeln!(out, "Rejected, for example:");
            for s in &r.reject_samples {
                let _ = writeln!(
                    out,
                    "  {}:{}: {}: {}",
                    s.source,
                    s.line,
                    s.detail,
                    cut(&s.text, 120)
                );
            }
        }
    }

    let c = &r.content_size;
    let mut t = table(&[
        "responses",
        "size -",
        "min",
        "max",
        "mean",
        "stddev",
        "p50",
        "p90",
        "p99",
    ]);
    t.add_row(vec![
        thousands(c.count),
        thousands(c.absent),
        thousands(c.min),
        thousands(c.max),
        format!("{:.1}", c.mean),
        format!("{:.1}", c.stddev),
        thousands(c.p50),
        thousands(c.p90),
        thousands(c.p99),
    ]);
    right(&mut t, &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
    section(&mut out, "Content size (bytes)", &t);

    let mut t = table(&["status", "count", "share"]);
    for s in &r.status {
        t.add_row(vec![
            s.status.to_string(),
            thousands(s.count),
            pct(s.count, tot.requests),
        ]);
    }
    if r.no_status > 0 {
        t.add_row(vec![
            "-".to_string(),
            thousands(r.no_status),
            pct(r.no_status, tot.requests),
        ]);
    }
    right(&mut t, &[1, 2]);
    section(&mut out, "Status codes", &t);
    counts(
        &mut out,
        "Status classes",
        "class",
        &r.status_classes,
        tot.requests,
    );
    counts(&mut out, "Methods", "method", &r.methods, tot.requests);

    let mut t = table(&["client", "requests", "share", "bytes"]);
    for h in &r.top_hosts {
        t.add_row(vec![
            cut(&h.host, 60),
            thousands(h.requests),
            pct(h.requests, tot.requests),
            human_bytes(h.bytes),
        ]);
    }
    right(&mut t, &[1, 2, 3]);
    section(&mut out, &format!("Top {} clients", r.meta.top), &t);

    let t = endpoint_table("endpoint", &r.top_endpoints, tot.requests);
    section(&mut out, &format!("Top {} endpoints", r.meta.top), &t);

    let mut t = table(&["endpoint", "errors (4xx, 5xx)"]);
    for e in &r.top_error_endpoints {
        t.add_row(vec![cut(&e.endpoint, 90), thousands(e.errors)]);
    }
    right(&mut t, &[1]);
    section(
        &mut out,
        &format!("Top {} error endpoints (4xx and 5xx)", r.meta.top),
        &t,
    );

    let mut t = table(&["endpoint", "responses ≠ 200"]);
    for e in &r.top_non_200_endpoints {
        t.add_row(vec![cut(&e.endpoint, 90), thousands(e.non_200)]);
    }
    right(&mut t, &[1]);
    section(
        &mut out,
        &format!(
            "Top {} non-200 endpoints (any status other than 200, 3xx included)",
            r.meta.top
        ),
        &t,
    );

    let mut t = table(&[
        "day",
        "requests",
        "bytes",
        "unique clients",
        "req/client",
        "404",
    ]);
    for d in &r.daily {
        t.add_row(vec![
            d.day.clone(),
            thousands(d.requests),
            human_bytes(d.bytes),
            thousands(d.unique_hosts),
            format!("{:.2}", d.avg_requests_per_host),
            thousands(d.not_found),
        ]);
    }
    right(&mut t, &[1, 2, 3, 4, 5]);
    section(&mut out, &format!("Per day ({clock})"), &t);

    let max = r
        .hourly
        .iter()
        .map(|h| h.requests)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut t = table(&["hour", "requests", "404", ""]);
    for h in &r.hourly {
        let bar = "█".repeat(((h.requests * 30).div_ceil(max)) as usize);
        t.add_row(vec![
            format!("{:02}", h.hour),
            thousands(h.requests),
            thousands(h.not_found),
            bar,
        ]);
    }
    right(&mut t, &[1, 2]);
    section(&mut out, &format!("Per hour of day ({clock})"), &t);

    let nf = &r.not_found;
    let _ = writeln!(
        out,
        "\n404 Not Found: {} ({} of requests)",
        thousands(nf.count),
        pct(nf.count, tot.requests)
    );
    counts(
        &mut out,
        "404 — top endpoints",
        "endpoint",
        &nf.top_endpoints,
        nf.count,
    );
    counts(
        &mut out,
        "404 — top clients",
        "client",
        &nf.top_hosts,
        nf.count,
    );

    if let Some(v) = &r.vhosts {
        counts(&mut out, "Virtual hosts", "vhost", v, tot.requests);
    }
    if let Some(v) = &r.top_referers {
        counts(&mut out, "Top referers", "referer", v, tot.requests);
    }
    if let Some(v) = &r.top_user_agents {
        counts(&mut out, "Top user agents", "user agent", v, tot.requests);
    }
    if let Some(a) = &r.agents {
        let mut t = table(&["kind", "requests", "share"]);
        t.add_row(vec![
            "bots / crawlers".into(),
            thousands(a.bots),
            pct(a.bots, a.requests),
        ]);
        t.add_row(vec![
            "tools / libraries".into(),
            thousands(a.tools),
            pct(a.tools, a.requests),
        ]);
        t.add_row(vec![
            "browsers / other".into(),
            thousands(a.others),
            pct(a.others, a.requests),
        ]);
        right(&mut t, &[1, 2]);
        section(&mut out, "Clients by user agent", &t);
        counts(&mut out, "Top bots", "bot", &a.top_bots, a.requests);
    }
    if let Some(p) = &r.platforms {
        shares(&mut out, "Browsers", "browser", &p.browsers);
        shares(
            &mut out,
            "Browser versions",
            "browser version",
            &p.browser_versions,
        );
        shares(
            &mut out,
            "Operating systems",
            "operating system",
            &p.operating_systems,
        );
        shares(&mut out, "Device categories", "category", &p.categories);
    }
    if let Some(rs) = &r.referring_sites {
        let mut t = table(&["referer", "requests", "share"]);
        let of = |n: u64| pct(n, rs.requests);
        t.add_row(vec![
            "direct / none (-)".into(),
            thousands(rs.direct),
            of(rs.direct),
        ]);
        t.add_row(vec![
            "no host (javascript:, junk)".into(),
            thousands(rs.no_host),
            of(rs.no_host),
        ]);
        let sites = rs
            .requests
            .saturating_sub(rs.direct)
            .saturating_sub(rs.no_host);
        t.add_row(vec![
            format!("from {} sites", thousands(rs.distinct_sites)),
            thousands(sites),
            of(sites),
        ]);
        right(&mut t, &[1, 2]);
        section(&mut out, "Referers", &t);
        shares(&mut out, "Top referring sites", "site", &rs.top_sites);
    }

    let sd = &r.static_dynamic;
    let mut t = table(&["kind", "requests", "share", "bytes"]);
    t.add_row(vec![
        "static files".into(),
        thousands(sd.static_requests),
        pct(sd.static_requests, tot.requests),
        human_bytes(sd.static_bytes),
    ]);
    t.add_row(vec![
        "dynamic".into(),
        thousands(sd.dynamic_requests),
        pct(sd.dynamic_requests, tot.requests),
        human_bytes(sd.dynamic_bytes),
    ]);
    right(&mut t, &[1, 2, 3]);
    section(&mut out, "Static files and dynamic requests", &t);
    if !sd.top_static_files.is_empty() {
        let t = endpoint_table("static file", &sd.top_static_files, tot.requests);
        section(&mut out, &format!("Top {} static files", r.meta.top), &t);
    }

    heat(&mut out, &r.weekday_hourly, &clock);

    if let Some(g) = &r.geo {
        let mut t = table(&["country", "requests", "share", "clients"]);
        for c in &g.countries {
            t.add_row(vec![
                cut(&c.country, 40),
                thousands(c.requests),
                format!("{:.2}%", c.share * 100.0),
                thousands(c.clients),
            ]);
        }
        right(&mut t, &[1, 2, 3]);
        section(
            &mut out,
            &format!("Countries ({})", g.databases.join(", ")),
            &t,
        );
        if let Some(asns) = &g.asns {
            let mut t = table(&["AS", "organization", "requests", "share", "clients"]);
            for a in asns {
                t.add_row(vec![
                    a.name.clone(),
                    cut(a.organization.as_deref().unwrap_or(""), 60),
                    thousands(a.requests),
                    format!("{:.2}%", a.share * 100.0),
                    thousands(a.clients),
                ]);
            }
            right(&mut t, &[2, 3, 4]);
            section(&mut out, "Autonomous systems", &t);
        }
    }

    if let Some(q) = &r.request_time {
        let mut t = table(&[
            "requests", "min", "mean", "stddev", "p50", "p90", "p99", "max",
        ]);
        t.add_row(vec![
            thousands(q.count),
            format!("{:.3}", q.min_ms),
            format!("{:.3}", q.mean_ms),
            format!("{:.3}", q.stddev_ms),
            format!("{:.3}", q.p50_ms),
            format!("{:.3}", q.p90_ms),
            format!("{:.3}", q.p99_ms),
            format!("{:.3}", q.max_ms),
        ]);
        right(&mut t, &[0, 1, 2, 3, 4, 5, 6, 7]);
        section(&mut out, "Request time (ms)", &t);
    }
    out
}

/// The aggregate report of `gen --http`: totals, per-path rows (the `top` most requested) and
/// errors by kind.
pub fn load_summary(s: &hitstream_load::Summary, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} requests in {:.2} s over {} connection{}{}{}",
        s.url,
        thousands(s.requests),
        s.elapsed_s,
        s.concurrency,
        if s.concurrency == 1 { "" } else { "s" },
        s.rate
            .map(|r| format!(", paced at {r} requests/s"))
            .unwrap_or_default(),
        if s.interrupted { " (interrupted)" } else { "" },
    );
    let _ = writeln!(
        out,
        "throughput {:.1} requests/s; {} responses; received {} ({}/s)",
        s.throughput_rps,
        thousands(s.responses),
        human_bytes(s.received_bytes),
        human_bytes((s.received_bytes as f64 / s.elapsed_s.max(1e-9)) as u64),
    );
    match &s.latency_ms {
        Some(l) => {
            let _ = writeln!(
                out,
                "latency ms: mean {:.2}, min {:.2}, p50 {:.2}, p90 {:.2}, p95 {:.2}, p99 {:.2}, max {:.2}",
                l.mean, l.min, l.p50, l.p90, l.p95, l.p99, l.max
            );
        }
        None => out.push_str("latency: no responses\n"),
    }
    let _ = writeln!(
        out,
        "errors: {} ({:.2}%)",
        thousands(s.errors),
        s.error_rate * 100.0
    );
    let ms = |l: &Option<hitstream_load::Latency>, f: fn(&hitstream_load::Latency) -> f64| {
        l.as_ref()
            .map(|l| format!("{:.2}", f(l)))
            .unwrap_or_else(|| "-".into())
    };
    let mut t = table(&[
        "path", "requests", "share", "errors", "error %", "p50 ms", "p90 ms", "p99 ms",
    ]);
    for p in s.paths.iter().take(top) {
        t.add_row(vec![
            cut(&p.path, 60),
            thousands(p.requests),
            format!("{:.2}%", p.share * 100.0),
            thousands(p.errors),
            pct(p.errors, p.requests),
            ms(&p.latency_ms, |l| l.p50),
            ms(&p.latency_ms, |l| l.p90),
            ms(&p.latency_ms, |l| l.p99),
        ]);
    }
    t.add_row(vec![
        "TOTAL".to_string(),
        thousands(s.requests),
        if s.requests > 0 { "100.00%" } else { "-" }.to_string(),
        thousands(s.errors),
        pct(s.errors, s.requests),
        ms(&s.latency_ms, |l| l.p50),
        ms(&s.latency_ms, |l| l.p90),
        ms(&s.latency_ms, |l| l.p99),
    ]);
    right(&mut t, &[1, 2, 3, 4, 5, 6, 7]);
    let more = s.paths.len().saturating_sub(top);
    let title = if more > 0 {
        format!("requests by path (top {top}; {more} more with --output json)")
    } else {
        "requests by path".to_string()
    };
    section(&mut out, &title, &t);
    if !s.statuses.is_empty() {
        let list: Vec<String> = s
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {}", thousands(*v)))
            .collect();
        let _ = writeln!(out, "\nstatuses: {}", list.join(", "));
    }
    if !s.errors_by_kind.is_empty() {
        let mut t = table(&["error", "count", "share of requests"]);
        let mut kinds: Vec<_> = s.errors_by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (k, v) in kinds {
            t.add_row(vec![cut(k, 60), thousands(*v), pct(*v, s.requests)]);
        }
        right(&mut t, &[1, 2]);
        section(&mut out, "errors by kind", &t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("a\u{1}b", 10), "a\u{fffd}b");
        assert_eq!(cut("a\u{202E}b\u{9b}c", 10), "a\u{fffd}b\u{fffd}c");
    }

    #[test]
    fn no_field_reaches_the_terminal_raw() {
        let mut r = Report::default();
        r.meta.inputs = vec!["evil\u{1b}]0;title\u{7}.log".into()];
        r.meta.format = "x\u{1b}[2J".into();
        let s = render(&r);
        assert!(
            !s.chars()
                .any(|c| c != '\n' && super::super::is_unsafe_char(c)),
            "{s:?}"
        );
        assert!(s.contains("evil\u{fffd}]0;title\u{fffd}.log"), "{s}");
    }

    #[test]
    fn empty_report_renders() {
        let s = render(&Report::default());
        assert!(s.contains("Summary"));
        assert!(!s.contains("NaN"));
    }
}
