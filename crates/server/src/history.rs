//! History from the lake for the range picker and the vhost filter: the same panels as the
//! live view, over any span of `requests`, with SQL.

use std::collections::HashMap;

use hitstream_lake::arrow::array::{Array, RecordBatch};
use hitstream_lake::arrow::util::display::array_value_to_string;
use hitstream_lake::{utc_day, AsyncLake, LakeError};
use serde_json::{json, Map, Value};

/// A span of time (UTC seconds, `to` exclusive) and an optional vhost.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// Start, inclusive.
    pub from: i64,
    /// End, exclusive.
    pub to: i64,
    /// Only this virtual host.
    pub vhost: Option<String>,
    /// Rows in the top tables.
    pub top: usize,
}

/// The latest time asked about: 9999-12-31T23:59:59Z. Times are kept between the epoch and
/// this, so that no arithmetic on them (here or in the lake's SQL) can overflow.
pub const LATEST: i64 = 253_402_300_799;

/// Seconds since the epoch, or RFC 3339 / `YYYY-MM-DDTHH:MM[:SS]` (UTC), within
/// `0..=LATEST`.
fn instant(v: &str) -> Option<i64> {
    parsed(v).filter(|t| (0..=LATEST).contains(t))
}

fn parsed(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let v = v.trim_end_matches('Z');
    let (date, time) = v.split_once('T').unwrap_or((v, "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next().flatten().unwrap_or(0));
    let ss = t.next().flatten().unwrap_or(0);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..=23).contains(&hh)
        || !(0..=59).contains(&mm)
        || !(0..=60).contains(&ss)
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

impl Range {
    /// From the query string: `from`, `to` (seconds or RFC 3339), `vhost`, `top`.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Range, String> {
        let get = |k: &str| -> Result<i64, String> {
            let v = q.get(k).ok_or(format!("`{k}` is missing"))?;
            let shown: String = v.chars().take(40).collect();
            instant(v).ok_or(format!(
                "`{k}`: `{shown}` is not a time between 1970 and 9999 (Unix seconds, or RFC 3339 \
                 such as 2024-05-01T00:00:00Z)"
            ))
        };
        let (from, to) = (get("from")?, get("to")?);
        if to <= from {
            return Err("`to` must be after `from`".into());
        }
        let top = q
            .get("top")
            .and_then(|t| t.parse().ok())
            .unwrap_or(10usize)
            .clamp(1, 100);
        let vhost = q.get("vhost").filter(|v| !v.is_empty()).cloned();
        Ok(Range {
            from,
            to,
            vhost,
            top,
        })
    }

    /// The SQL condition. `day` (the local day as written) is within a day of UTC, so the
    /// bounds one day wider prune the files read.
    fn condition(&self) -> String {
        let mut c = format!(
            "day BETWEEN '{}' AND '{}' AND time >= to_timestamp_seconds({}) \
             AND time < to_timestamp_seconds({})",
            // Kept to four-digit years: days are compared as text.
            utc_day((self.from - 86_400).max(0)),
            utc_day((self.to + 86_400).min(LATEST)),
            self.from,
            self.to
        );
        if let Some(v) = &self.vhost {
            // As `analyze --vhost`: the vhost field, else the Host header, in any case.
            c.push_str(&format!(
                " AND lower({VHOST}) = lower('{}')",
                v.replace('\'', "''")
            ));
        }
        c
    }

    /// Chart buckets: about 120 of them, at least a second.
    fn bucket(&self) -> i64 {
        let span = self.to - self.from;
        [
            1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 86_400,
        ]
        .into_iter()
        .find(|b| span / b <= 150)
        .unwrap_or(86_400)
    }
}

fn rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut out = Vec::new();
    for b in batches {
        let schema = b.schema();
        for r in 0..b.num_rows() {
            let mut m = Map::new();
            for (i, f) in schema.fields().iter().enumerate() {
                let col = b.column(i);
                let v = if col.is_null(r) {
                    Value::Null
                } else {
                    let s = array_value_to_string(col, r).unwrap_or_default();
                    match s.parse::<i64>() {
                        Ok(n) if f.data_type().is_integer() => Value::from(n),
                        _ => Value::from(s),
                    }
                };
                m.insert(f.name().clone(), v);
            }
            out.push(Value::Object(m));
        }
    }
    out
}

/// An error response, as `analyze` counts them (`hitstream_analyze::is_error`): status 400
/// to 599. A row without a status is no error (SQL's NULL fails the test).
pub const ERROR: &str = "status BETWEEN 400 AND 599";

/// A response with a status other than 200 (a row without a status is not counted).
pub const NON_200: &str = "status IS NOT NULL AND status <> 200";

/// The virtual host of a row, as `analyze` reads it: the vhost field (`%v`, `$server_name`),
/// else the Host header (`$http_host`, `%{Host}i`).
const VHOST: &str = "coalesce(vhost, host)";

/// The panels over a range.
pub async fn range(
    lake: &mut AsyncLake,
    r: &Range,
    geo: Option<&crate::Geo>,
) -> Result<Value, LakeError> {
    let cond = r.condition();
    let top = r.top;
    let b = r.bucket();
    let totals = lake
        .sql(&format!(
            "SELECT count(*) AS requests, coalesce(sum(bytes), 0) AS bytes, \
             count(DISTINCT client) AS unique_clients, \
             sum(CASE WHEN status = 404 THEN 1 ELSE 0 END) AS not_found, \
             sum(CASE WHEN {ERROR} THEN 1 ELSE 0 END) AS errors, \
             sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS server_errors \
             FROM requests WHERE {cond}"
        ))
        .await?;
    let series = lake
        .sql(&format!(
            "SELECT CAST(to_unixtime(time) AS BIGINT) / {b} * {b} AS t, count(*) AS requests, \
             coalesce(sum(bytes), 0) AS bytes, \
             sum(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS c2xx, \
             sum(CASE WHEN status BETWEEN 300 AND 399 THEN 1 ELSE 0 END) AS c3xx, \
             sum(CASE WHEN status BETWEEN 400 AND 499 THEN 1 ELSE 0 END) AS c4xx, \
             sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS c5xx, \
             count(DISTINCT client) AS unique_clients \
             FROM requests WHERE {cond} GROUP BY 1 ORDER BY 1"
        ))
        .await?;
    let top_of = |col: &str, extra: &str| {
        format!(
            "SELECT {col} AS key, count(*) AS count FROM requests WHERE {cond}{extra} \
             AND {col} IS NOT NULL GROUP BY {col} ORDER BY count DESC, key LIMIT {top}"
        )
    };
    let methods = lake.sql(&top_of("method", "")).await?;
    let pages = lake.sql(&top_of("path", "")).await?;
    let clients = lake
        .sql(&format!(
            "SELECT client, count(*) AS requests, coalesce(sum(bytes), 0) AS bytes \
             FROM requests WHERE {cond} AND client IS NOT NULL GROUP BY client \
             ORDER BY requests DESC, client LIMIT {top}"
        ))
        .await?;
    let not_found = lake.sql(&top_of("path", " AND status = 404")).await?;
    let errors = lake.sql(&top_of("path", &format!(" AND {ERROR}"))).await?;
    let non_200 = lake
        .sql(&top_of("path", &format!(" AND {NON_200}")))
        .await?;
    let vhosts = lake
        .sql(&format!(
            "SELECT {VHOST} AS key, count(*) AS count FROM requests WHERE {} \
             AND {VHOST} IS NOT NULL GROUP BY 1 ORDER BY count DESC, key LIMIT 50",
            Range {
                vhost: None,
                ..r.clone()
            }
            .condition()
        ))
        .await?;
    let totals = rows(&totals).into_iter().next().unwrap_or_default();
    let all = totals.get("requests").and_then(Value::as_u64).unwrap_or(0);
    let visitors = visitors(lake, &cond, top, all).await?;
    let (countries, asns) = match geo {
        Some(g) => {
            let clients = frequent(lake, "client", &cond).await?;
            places(&clients, top, all, &*g.0)
        }
        None => (Value::Null, Value::Null),
    };
    Ok(json!({
        "from": r.from,
        "to": r.to,
        "vhost": r.vhost,
        "bucket_seconds": b,
        "totals": totals,
        "series": rows(&series),
        "methods": rows(&methods),
        "top_pages": rows(&pages),
        "top_clients": rows(&clients),
        "not_found": rows(&not_found),
        "error_endpoints": rows(&errors),
        "non_200_endpoints": rows(&non_200),
        "time_zone": "UTC",
        "vhosts": rows(&vhosts),
        "browsers": visitors.browsers,
        "operating_systems": visitors.systems,
        "referring_sites": visitors.sites,
        "static_dynamic": visitors.kinds,
        "heatmap": visitors.heatmap,
        "countries": countries,
        "asns": asns,
    }))
}

/// User agents and referers looked at: the most frequent distinct values in a range. The
/// requests of rarer ones are shown as `other` rather than read in full.
const DISTINCT_LIMIT: usize = 5000;

struct Visitors {
    browsers: Value,
    systems: Value,
    sites: Value,
    kinds: Value,
    heatmap: Value,
}

fn ranked(counts: HashMap<String, u64>, top: usize, other: u64) -> Value {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = v.iter().skip(top).map(|(_, n)| n).sum::<u64>() + other;
    let mut out: Vec<Value> = v
        .into_iter()
        .take(top)
        .map(|(k, n)| json!({ "key": k, "count": n }))
        .collect();
    if rest > 0 {
        out.push(json!({ "key": "other", "count": rest }));
    }
    Value::Array(out)
}

/// `(value, count)` rows of a two-column query.
fn pairs(batches: &[RecordBatch]) -> Vec<(Option<String>, u64)> {
    rows(batches)
        .into_iter()
        .map(|r| {
            let k = r.get("key").and_then(|v| v.as_str()).map(str::to_string);
            (k, r.get("count").and_then(Value::as_u64).unwrap_or(0))
        })
        .collect()
}

/// The most frequent values of `col` in a range (at most [`DISTINCT_LIMIT`]; null is a value).
async fn frequent(
    lake: &mut AsyncLake,
    col: &str,
    cond: &str,
) -> Result<Vec<(Option<String>, u64)>, LakeError> {
    Ok(pairs(
        &lake
            .sql(&format!(
                "SELECT {col} AS key, count(*) AS count FROM requests WHERE {cond} \
                 GROUP BY {col} ORDER BY count DESC, key LIMIT {DISTINCT_LIMIT}"
            ))
            .await?,
    ))
}

/// Requests by the country and by the autonomous system of their client, from the most
/// frequent `clients` (one look-up each) of a range of `all` requests. Clients that are not
/// addresses (host names, `X.X.X.X`) and addresses the database lacks are `unknown`; the
/// requests of rarer clients are `other`. The AS table is null when no client has an AS
/// number (a country-only database), as `analyze` reports it.
fn places(
    clients: &[(Option<String>, u64)],
    top: usize,
    all: u64,
    geo: &dyn hitstream_analyze::GeoLookup,
) -> (Value, Value) {
    let mut countries = HashMap::new();
    let mut asns: HashMap<Option<u32>, (u64, Option<String>)> = HashMap::new();
    let mut any_asn = false;
    let mut seen = 0;
    for (c, n) in clients {
        seen += n;
        let info = c
            .as_deref()
            .and_then(|c| hitstream_analyze::client_ip(c.as_bytes()))
            .map(|ip| geo.lookup(ip))
            .unwrap_or_default();
        let country = info
            .country
            .unwrap_or_else(|| hitstream_analyze::UNKNOWN.to_string());
        *countries.entry(country).or_insert(0) += n;
        any_asn |= info.asn.is_some();
        let (count, org) = asns.entry(info.asn).or_default();
        *count += n;
        if org.is_none() {
            *org = info.as_org.filter(|o| !o.is_empty());
        }
    }
    let rest = all.saturating_sub(seen);
    let asns = if any_asn {
        ranked_asns(asns, top, rest)
    } else {
        Value::Null
    };
    (ranked(countries, top, rest), asns)
}

/// AS rows as the other ranked tables (`key`, `count`), with the number and organisation;
/// the `unknown` row (no AS) sorts after the numbers on ties.
fn ranked_asns(by: HashMap<Option<u32>, (u64, Option<String>)>, top: usize, other: u64) -> Value {
    let mut v: Vec<(Option<u32>, u64, Option<String>)> =
        by.into_iter().map(|(a, (n, org))| (a, n, org)).collect();
    v.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.is_none().cmp(&b.0.is_none()))
            .then_with(|| a.0.cmp(&b.0))
    });
    let rest: u64 = v.iter().skip(top).map(|r| r.1).sum::<u64>() + other;
    let mut out: Vec<Value> = v
        .into_iter()
        .take(top)
        .map(|(asn, n, org)| {
            let key = asn.map_or_else(
                || hitstream_analyze::UNKNOWN.to_string(),
                |a| format!("AS{a}"),
            );
            json!({ "key": key, "asn": asn, "organization": org, "count": n })
        })
        .collect();
    if rest > 0 {
        out.push(json!({ "key": "other", "asn": null, "organization": null, "count": rest }));
    }
    Value::Array(out)
}

/// Browsers and systems (woothee, once per distinct agent), referring sites, static and
/// dynamic requests, and the weekday x hour heat map (UTC), as `analyze` reports them.
/// `all` is the range's request count.
async fn visitors(
    lake: &mut AsyncLake,
    cond: &str,
    top: usize,
    all: u64,
) -> Result<Visitors, LakeError> {
    let total = |rows: &[(Option<String>, u64)]| rows.iter().map(|r| r.1).sum::<u64>();

    let agents = frequent(lake, "user_agent", cond).await?;
    // No agent or referer (null) counts as unknown and direct.
    let parser = hitstream_analyze::PlatformParser::new();
    let (mut browsers, mut systems) = (HashMap::new(), HashMap::new());
    for (ua, n) in &agents {
        let p = parser.parse(ua.as_deref().unwrap_or("").as_bytes());
        *browsers.entry(p.browser).or_insert(0) += n;
        *systems.entry(p.os).or_insert(0) += n;
    }
    let agent_rest = all.saturating_sub(total(&agents));

    let referers = frequent(lake, "referer", cond).await?;
    let mut sites = HashMap::new();
    for (r, n) in &referers {
        use hitstream_analyze::Referrer;
        let key = match hitstream_analyze::referring_site(r.as_deref().unwrap_or("").as_bytes()) {
            Referrer::Site(h) => h,
            Referrer::Direct => "(direct)".to_string(),
            Referrer::NoHost => "(no host)".to_string(),
        };
        *sites.entry(key).or_insert(0) += n;
    }
    let referer_rest = all.saturating_sub(total(&referers));

    // The extension of the path's last segment, grouped in SQL (few distinct values), then
    // classified as `analyze` does.
    let exts = rows(
        &lake
            .sql(&format!(
                "SELECT lower(regexp_match(regexp_replace(split_part(path, ';', 1), '^.*/', ''), \
                 '^.+\\.([^.]{{1,5}})$')[1]) AS ext, count(*) AS count, \
                 coalesce(sum(bytes), 0) AS bytes FROM requests WHERE {cond} AND path IS NOT NULL \
                 GROUP BY 1"
            ))
            .await?,
    );
    let mut kinds = [(0u64, 0u64); 2];
    for r in &exts {
        let is_static = r
            .get("ext")
            .and_then(Value::as_str)
            .is_some_and(|e| hitstream_analyze::is_static(format!("x.{e}").as_bytes()));
        let k = &mut kinds[usize::from(is_static)];
        k.0 += r.get("count").and_then(Value::as_u64).unwrap_or(0);
        k.1 += r.get("bytes").and_then(Value::as_u64).unwrap_or(0);
    }

    let cells = rows(
        &lake
            .sql(&format!(
                "SELECT CAST(date_part('dow', time) AS BIGINT) AS dow, \
                 CAST(date_part('hour', time) AS BIGINT) AS hour, count(*) AS count \
                 FROM requests WHERE {cond} GROUP BY 1, 2"
            ))
            .await?,
    );
    // Monday first, as the report's heat map; SQL counts Sunday as 0.
    let mut heat = vec![vec![0u64; 24]; 7];
    for c in &cells {
        let (Some(d), Some(h), Some(n)) = (
            c.get("dow").and_then(Value::as_u64),
            c.get("hour").and_then(Value::as_u64),
            c.get("count").and_then(Value::as_u64),
        ) else {
            continue;
        };
        if d < 7 && h < 24 {
            heat[((d + 6) % 7) as usize][h as usize] += n;
        }
    }
    Ok(Visitors {
        browsers: ranked(browsers, top, agent_rest),
        systems: ranked(systems, top, agent_rest),
        sites: ranked(sites, top, referer_rest),
        kinds: json!([
            { "key": "dynamic", "count": kinds[0].0, "bytes": kinds[0].1 },
            { "key": "static", "count": kinds[1].0, "bytes": kinds[1].1 },
        ]),
        heatmap: json!({
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "hours": heat,
            "time_zone": "UTC",
        }),
    })
}

/// The span the lake holds (for the range picker's defaults), its rows, and when the newest
/// rows were committed (Unix seconds): what a page without a pipeline shows of the lake.
pub async fn bounds(lake: &mut AsyncLake) -> Result<Value, LakeError> {
    use hitstream_lake::TableKind::Requests;
    if !lake.exists(Requests).await? {
        return Ok(json!({ "first": null, "last": null, "rows": 0, "last_commit": null }));
    }
    let b = lake
        .sql(
            "SELECT CAST(to_unixtime(min(time)) AS BIGINT) AS first, \
             CAST(to_unixtime(max(time)) AS BIGINT) AS last, count(*) AS rows FROM requests",
        )
        .await?;
    let mut v = rows(&b).into_iter().next().unwrap_or_default();
    // What a lake-only page shows in place of a pipeline: how much there is, and how fresh.
    let last_commit = lake.last_commit_ms(Requests).await?.map(|ms| ms / 1000);
    if let Some(o) = v.as_object_mut() {
        o.insert("last_commit".into(), last_commit.into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_either_form() {
        assert_eq!(instant("804571201"), Some(804_571_201));
        assert_eq!(instant("1995-07-01T04:00:01Z"), Some(804_571_201));
        assert_eq!(instant("1995-07-01T04:00"), Some(804_571_200));
        assert_eq!(instant("1970-01-01"), Some(0));
        assert_eq!(instant("1995-13-01"), None);
        assert_eq!(instant("yesterday"), None);
    }

    #[test]
    fn extreme_times_are_refused_not_computed() {
        for v in [
            "-9223372036854775808",
            "9223372036854775807",
            "253402300800",
            "-1",
            "9223372036854775807-01-01",
            "-9223372036854775808-12-31T23:59",
            "99999-01-01",
            "1969-12-31T23:59:59",
            "2024-01-01T-1:00",
        ] {
            assert_eq!(instant(v), None, "{v}");
        }
        assert_eq!(instant("9999-12-31T23:59:59Z"), Some(LATEST));
        let q = |from: &str, to: &str| {
            let m: HashMap<String, String> = [("from", from), ("to", to)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Range::from_query(&m)
        };
        let e = q("0", "9223372036854775807").unwrap_err();
        assert!(e.contains("between 1970 and 9999"), "{e}");
        assert!(q("0", &LATEST.to_string()).is_ok());
    }

    /// What a country database together with an ASN database (GeoLite2-ASN's fields) say:
    /// the shape the CLI's MaxMind reader hands over (its byte-level decoding is tested
    /// there, and end to end in crates/cli/tests/http.rs with a hand-written ASN database).
    fn both(ip: std::net::IpAddr) -> hitstream_analyze::GeoInfo {
        use hitstream_analyze::GeoInfo;
        match ip.to_string().as_str() {
            "8.8.8.8" | "8.8.4.4" => GeoInfo {
                country: Some("US".into()),
                asn: Some(15169),
                as_org: Some("GOOGLE".into()),
            },
            "1.1.1.1" => GeoInfo {
                country: Some("AU".into()),
                asn: Some(13335),
                as_org: None,
            },
            _ => GeoInfo::default(),
        }
    }

    fn country_only(ip: std::net::IpAddr) -> hitstream_analyze::GeoInfo {
        hitstream_analyze::GeoInfo {
            asn: None,
            as_org: None,
            ..both(ip)
        }
    }

    fn clients() -> Vec<(Option<String>, u64)> {
        [
            (Some("8.8.8.8"), 5),
            (Some("1.1.1.1"), 3),
            (Some("::ffff:8.8.4.4"), 2),
            (Some("10.0.0.1"), 2),
            (Some("piweba3y.prodigy.com"), 1),
            (None, 1),
        ]
        .into_iter()
        .map(|(c, n)| (c.map(str::to_string), n))
        .collect()
    }

    #[test]
    fn clients_by_country_and_autonomous_system() {
        // 16 requests in the range, 14 of them from the clients looked at.
        let (countries, asns) = places(&clients(), 10, 16, &both);
        assert_eq!(
            countries,
            json!([
                { "key": "US", "count": 7 },
                { "key": "unknown", "count": 4 },
                { "key": "AU", "count": 3 },
                { "key": "other", "count": 2 },
            ])
        );
        assert_eq!(
            asns,
            json!([
                { "key": "AS15169", "asn": 15169, "organization": "GOOGLE", "count": 7 },
                { "key": "unknown", "asn": null, "organization": null, "count": 4 },
                { "key": "AS13335", "asn": 13335, "organization": null, "count": 3 },
                { "key": "other", "asn": null, "organization": null, "count": 2 },
            ])
        );
        // The top rows, the rest as `other`; on a tie a number comes before `unknown`.
        let tie = vec![
            (Some("10.0.0.1".to_string()), 4),
            (Some("1.1.1.1".to_string()), 4),
        ];
        let (_, asns) = places(&tie, 1, 8, &both);
        assert_eq!(
            asns,
            json!([
                { "key": "AS13335", "asn": 13335, "organization": null, "count": 4 },
                { "key": "other", "asn": null, "organization": null, "count": 4 },
            ])
        );
    }

    #[test]
    fn a_database_without_as_numbers_gives_no_as_table() {
        let (countries, asns) = places(&clients(), 10, 14, &country_only);
        assert_eq!(asns, Value::Null);
        assert_eq!(countries[0], json!({ "key": "US", "count": 7 }));
        // Nothing resolves at all: countries are all unknown, and still no AS table.
        let (countries, asns) = places(&clients(), 10, 14, &|_: std::net::IpAddr| {
            hitstream_analyze::GeoInfo::default()
        });
        assert_eq!(countries, json!([{ "key": "unknown", "count": 14 }]));
        assert_eq!(asns, Value::Null);
    }

    #[test]
    fn a_vhost_cannot_break_out_of_its_string() {
        let mut q = HashMap::new();
        q.insert("from".to_string(), "0".to_string());
        q.insert("to".to_string(), "60".to_string());
        q.insert("vhost".to_string(), "a' OR '1'='1".to_string());
        let r = Range::from_query(&q).unwrap();
        assert!(r
            .condition()
            .ends_with("lower(coalesce(vhost, host)) = lower('a'' OR ''1''=''1')"));
        q.insert("to".to_string(), "0".to_string());
        assert!(Range::from_query(&q).is_err());
    }
}
