//! TOML errors of the configuration files (`run --config`, `ship --config`) on one line.

/// A TOML or field error on one line, where it is: `in config file `F`, line 7, column 1
/// ([window]): unknown field `sizee`, expected one of ...`. toml's own rendering quotes the
/// line over several lines, which an error printed on one line would run together.
pub fn one_line(e: &toml::de::Error, text: &str, name: &str) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(span) = e.span() else {
        return format!("in config file `{name}`: {msg}");
    };
    let Some(before) = text.get(..span.start) else {
        return format!("in config file `{name}`: {msg}");
    };
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    // The table the line is in: the last header above it (none when the error is in a header).
    let table = match header(line_text) {
        Some(_) => None,
        None => text[..line_start].lines().filter_map(header).next_back(),
    };
    // A bad value's message ("invalid value: string \"soon\", expected a duration") does not
    // say whose value it is: the key of its line does.
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"'))
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !msg.contains(&format!("`{k}`")));
    let msg = match key {
        Some(k) if column > line_text.find('=').unwrap_or(0) => format!("field `{k}`: {msg}"),
        _ => msg,
    };
    match table {
        Some(t) => format!("in config file `{name}`, line {line}, column {column} ({t}): {msg}"),
        None => format!("in config file `{name}`, line {line}, column {column}: {msg}"),
    }
}

/// `[name]` or `[[name]]` when a line is a table header.
fn header(line: &str) -> Option<&str> {
    let l = line.trim();
    let close = if l.starts_with("[[") {
        "]]"
    } else if l.starts_with('[') {
        "]"
    } else {
        return None;
    };
    l.find(close).map(|end| &l[..end + close.len()])
}
