//! Column builders that turn parsed lines, window results, alerts and rejects into Arrow
//! record batches of the lake's tables, and the way back from a `requests` row to a
//! [`Record`] (for reports computed from the lake).
//!
//! Text is stored as UTF-8; bytes that are not valid UTF-8 become U+FFFD (logs are nearly
//! always ASCII; the raw line of a reject is stored the same way).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int32Builder, Int64Builder, LargeStringArray,
    PrimitiveArray, RecordBatch, StringArray, StringBuilder, StringViewArray,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};
use hitstream_format::time::format_day;
use hitstream_format::{LogTime, Oddities, Oddity, Record, TEXT_COUNT};
use hitstream_window::{Alert, WindowResult};

use crate::schema::{self, TableKind, REQUEST_TEXTS};
use crate::ShapeError;

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    // `from_utf8` has a fast path for ASCII, the usual case; lossy decoding only on error.
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

/// The `day` partition of a line: its local date as written in the log (`unknown` when
/// the line has no time).
pub fn day_of(t: Option<&LogTime>) -> String {
    t.map_or_else(|| "unknown".to_string(), |t| format_day(t.local_day()))
}

/// UTC date of an instant, `YYYY-MM-DD`.
pub fn utc_day(secs: i64) -> String {
    format_day(secs.div_euclid(86_400) as i32)
}

/// `Default`, `len` and `is_empty` of a row builder with a `len` field.
macro_rules! row_counts {
    ($t:ident) => {
        impl Default for $t {
            fn default() -> Self {
                $t::new()
            }
        }

        impl $t {
            /// Rows added since the last `finish`.
            pub fn len(&self) -> usize {
                self.len
            }

            /// Whether there are none.
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }
        }
    };
}

/// Where a line read from Kafka came from, as the lineage columns of `requests` store it
/// (see [`LINEAGE_COLUMNS`](crate::schema::LINEAGE_COLUMNS)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaLineage<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset of the line's message in the partition.
    pub offset: i64,
    /// The line's place in its message (0 unless the shipper packed several lines).
    pub line: u32,
    /// The shipper's origin (file fingerprint) and the line's byte offset in it, when the
    /// message named one that was trusted.
    pub origin: Option<(&'a str, u64)>,
}

/// Rows of `requests`.
#[derive(Debug)]
pub struct RequestRows {
    time: TimestampMicrosecondBuilder,
    utc_offset: Int32Builder,
    texts: Vec<StringBuilder>,
    status: Int32Builder,
    bytes: Int64Builder,
    port: Int32Builder,
    request_time_us: Int64Builder,
    upstream_time_us: Int64Builder,
    oddities: StringBuilder,
    extras: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
    day: StringBuilder,
    kafka_topic: StringBuilder,
    kafka_partition: Int32Builder,
    kafka_offset: Int64Builder,
    kafka_line: Int32Builder,
    origin: StringBuilder,
    origin_offset: Int64Builder,
    len: usize,
    scratch: String,
    /// The last day seen and its text: lines come in time order, so this saves formatting
    /// a date per row.
    last_day: Option<(i32, String)>,
}

row_counts!(RequestRows);

impl RequestRows {
    /// No rows yet.
    pub fn new() -> RequestRows {
        RequestRows {
            time: ts_builder(),
            utc_offset: Int32Builder::new(),
            texts: (0..TEXT_COUNT).map(|_| StringBuilder::new()).collect(),
            status: Int32Builder::new(),
            bytes: Int64Builder::new(),
            port: Int32Builder::new(),
            request_time_us: Int64Builder::new(),
            upstream_time_us: Int64Builder::new(),
            oddities: StringBuilder::new(),
            extras: StringBuilder::new(),
            source: StringBuilder::new(),
            offset: Int64Builder::new(),
            day: StringBuilder::new(),
            kafka_topic: StringBuilder::new(),
            kafka_partition: Int32Builder::new(),
            kafka_offset: Int64Builder::new(),
            kafka_line: Int32Builder::new(),
            origin: StringBuilder::new(),
            origin_offset: Int64Builder::new(),
            len: 0,
            scratch: String::new(),
            last_day: None,
        }
    }

    /// Adds a parsed line. `extra_names` are the format's extra fields (stored as a JSON
    /// object); `source` and `offset` say where the line was read.
    pub fn push(
        &mut self,
        rec: &Record<'_>,
        extra_names: &[&str],
        source: &str,
        offset: Option<u64>,
    ) {
        self.push_from(rec, extra_names, source, offset, None);
    }

    /// [`push`](RequestRows::push) with the line's [`KafkaLineage`], for a line read from
    /// Kafka.
    pub fn push_from(
        &mut self,
        rec: &Record<'_>,
        extra_names: &[&str],
        source: &str,
        offset: Option<u64>,
        from: Option<KafkaLineage<'_>>,
    ) {
        match from {
            Some(k) => {
                self.kafka_topic.append_value(k.topic);
                self.kafka_partition.append_value(k.partition);
                self.kafka_offset.append_value(k.offset);
                self.kafka_line
                    .append_value(i32::try_from(k.line).unwrap_or(i32::MAX));
                match k.origin {
                    Some((o, at)) => {
                        self.origin.append_value(o);
                        self.origin_offset
                            .append_value(i64::try_from(at).unwrap_or(i64::MAX));
                    }
                    None => {
                        self.origin.append_null();
                        self.origin_offset.append_null();
                    }
                }
            }
            None => {
                self.kafka_topic.append_null();
                self.kafka_partition.append_null();
                self.kafka_offset.append_null();
                self.kafka_line.append_null();
                self.origin.append_null();
                self.origin_offset.append_null();
            }
        }
        match rec.time {
            Some(t) => {
                self.time
                    .append_value(t.utc * 1_000_000 + i64::from(t.micros));
                self.utc_offset.append_value(t.offset);
            }
            None => {
                self.time.append_null();
                self.utc_offset.append_null();
            }
        }
        // One UTF-8 check of the whole line covers every field cut from it (fields end at
        // ASCII delimiters); only fields decoded into the record's scratch buffer are checked
        // on their own.
        let line = rec.line();
        let line_str = std::str::from_utf8(line).ok();
        for (b, (_, t)) in self.texts.iter_mut().zip(REQUEST_TEXTS) {
            let Some(v) = rec.get(t) else {
                b.append_null();
                continue;
            };
            let off = (v.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
            match line_str.and_then(|l| l.get(off..off.checked_add(v.len())?)) {
                Some(s) if off <= line.len() => b.append_value(s),
                _ => b.append_value(text(v)),
            }
        }
        self.status.append_option(rec.status.map(i32::from));
        self.bytes.append_option(rec.bytes.map(|v| v as i64));
        self.port.append_option(rec.port.map(i32::from));
        self.request_time_us
            .append_option(rec.request_time_us.map(|v| v as i64));
        self.upstream_time_us
            .append_option(rec.upstream_time_us.map(|v| v as i64));
        if rec.oddities.is_empty() {
            self.oddities.append_null();
        } else {
            self.scratch.clear();
            for (i, o) in rec.oddities.iter().enumerate() {
                if i > 0 {
                    self.scratch.push(',');
                }
                self.scratch.push_str(o.name());
            }
            self.oddities.append_value(&self.scratch);
        }
        if extra_names.is_empty() {
            self.extras.append_null();
        } else {
            let map: serde_json::Map<String, serde_json::Value> = extra_names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    rec.extra(i)
                        .map(|v| (n.to_string(), serde_json::Value::from(text(v).as_ref())))
                })
                .collect();
            self.extras
                .append_value(serde_json::Value::Object(map).to_string());
        }
        self.source.append_value(source);
        self.offset.append_option(offset.map(|v| v as i64));
        match rec.time {
            Some(t) => {
                let d = t.local_day();
                if self.last_day.as_ref().is_none_or(|(l, _)| *l != d) {
                    self.last_day = Some((d, format_day(d)));
                }
                self.day
                    .append_value(&self.last_day.as_ref().expect("just set").1);
            }
            None => self.day.append_value(day_of(None)),
        }
        self.len += 1;
    }

    /// The rows as a record batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        // Each builder starts again with the capacity the last batch needed: batches are
        // alike, and growing a buffer by doubling copies it over and over.
        let time = self.time.finish();
        self.time = TimestampMicrosecondBuilder::with_capacity(time.len()).with_timezone("UTC");
        let mut cols: Vec<ArrayRef> = vec![Arc::new(time), again_prim(&mut self.utc_offset)];
        cols.extend(self.texts.iter_mut().map(again_str));
        cols.extend([
            again_prim(&mut self.status),
            again_prim(&mut self.bytes),
            again_prim(&mut self.port),
            again_prim(&mut self.request_time_us),
            again_prim(&mut self.upstream_time_us),
            again_str(&mut self.oddities),
            again_str(&mut self.extras),
            again_str(&mut self.source),
            again_prim(&mut self.offset),
            again_str(&mut self.day),
            again_str(&mut self.kafka_topic),
            again_prim(&mut self.kafka_partition),
            again_prim(&mut self.kafka_offset),
            again_prim(&mut self.kafka_line),
            again_str(&mut self.origin),
            again_prim(&mut self.origin_offset),
        ]);
        self.len = 0;
        RecordBatch::try_new(schema::requests_schema(), cols).expect("columns match the schema")
    }
}

fn again_str(b: &mut StringBuilder) -> ArrayRef {
    let a = b.finish();
    *b = StringBuilder::with_capacity(a.len(), a.value_data().len());
    Arc::new(a)
}

fn again_prim<T: arrow::datatypes::ArrowPrimitiveType>(
    b: &mut arrow::array::PrimitiveBuilder<T>,
) -> ArrayRef {
    let a = b.finish();
    *b = arrow::array::PrimitiveBuilder::<T>::with_capacity(a.len());
    Arc::new(a)
}

/// A string column as stored or as a query returns it (DataFusion reads Parquet strings
/// as views).
enum Str<'a> {
    Utf8(&'a StringArray),
    View(&'a StringViewArray),
    Large(&'a LargeStringArray),
}

impl<'a> Str<'a> {
    fn of(name: &str, a: &'a ArrayRef) -> Result<Str<'a>, ShapeError> {
        if let Some(s) = a.as_string_opt::<i32>() {
            Ok(Str::Utf8(s))
        } else if let Some(s) = a.as_string_view_opt() {
            Ok(Str::View(s))
        } else if let Some(s) = a.as_string_opt::<i64>() {
            Ok(Str::Large(s))
        } else {
            Err(ShapeError(format!(
                "column `{name}` is {}, not a string",
                a.data_type()
            )))
        }
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Str::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Str::View(a) => a.is_valid(row).then(|| a.value(row)),
            Str::Large(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

fn prim<'a, T: arrow::datatypes::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a PrimitiveArray<T>, ShapeError> {
    let a = column(batch, name)?;
    a.as_primitive_opt::<T>().ok_or_else(|| {
        ShapeError(format!(
            "column `{name}` is {}, not {}",
            a.data_type(),
            T::DATA_TYPE
        ))
    })
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ShapeError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ShapeError(format!("requests has no column `{name}`")))
}

fn opt<T: arrow::datatypes::ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    row: usize,
) -> Option<T::Native> {
    a.is_valid(row).then(|| a.value(row))
}

/// Reads `requests` rows back into [`Record`]s: how reports count the lake's rows exactly as
/// `analyze` counts parsed lines. The batch may be any projection that holds the columns
/// [`REQUEST_TEXTS`], `time`, `utc_offset`, `status`, `bytes`, `port`, `request_time_us`,
/// `upstream_time_us` and `oddities`.
pub struct RequestReader<'a> {
    time: &'a PrimitiveArray<TimestampMicrosecondType>,
    offset: &'a PrimitiveArray<Int32Type>,
    texts: Vec<(Str<'a>, hitstream_format::Text)>,
    status: &'a PrimitiveArray<Int32Type>,
    bytes: &'a PrimitiveArray<Int64Type>,
    port: &'a PrimitiveArray<Int32Type>,
    request_time_us: &'a PrimitiveArray<Int64Type>,
    upstream_time_us: &'a PrimitiveArray<Int64Type>,
    oddities: Str<'a>,
}

impl std::fmt::Debug for RequestReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestReader")
    }
}

impl<'a> RequestReader<'a> {
    /// Checks the columns of `batch`.
    pub fn new(batch: &'a RecordBatch) -> Result<RequestReader<'a>, ShapeError> {
        Ok(RequestReader {
            time: prim(batch, "time")?,
            offset: prim(batch, "utc_offset")?,
            texts: REQUEST_TEXTS
                .iter()
                .map(|(n, t)| Ok((Str::of(n, column(batch, n)?)?, *t)))
                .collect::<Result<_, ShapeError>>()?,
            status: prim(batch, "status")?,
            bytes: prim(batch, "bytes")?,
            port: prim(batch, "port")?,
            request_time_us: prim(batch, "request_time_us")?,
            upstream_time_us: prim(batch, "upstream_time_us")?,
            oddities: Str::of("oddities", column(batch, "oddities")?)?,
        })
    }

    /// Rebuilds row `row` into `rec`; returns its oddities (empty: the line parsed cleanly).
    pub fn read(&self, row: usize, rec: &mut Record<'_>) -> Oddities {
        rec.clear();
        rec.time = opt(self.time, row).map(|us| LogTime {
            utc: us.div_euclid(1_000_000),
            micros: us.rem_euclid(1_000_000) as u32,
            offset: opt(self.offset, row).unwrap_or(0),
        });
        for (col, t) in &self.texts {
            if let Some(v) = col.get(row) {
                rec.set_text(*t, v.as_bytes());
            }
        }
        rec.status = opt(self.status, row).map(|v| v as u16);
        rec.bytes = opt(self.bytes, row).map(|v| v as u64);
        rec.port = opt(self.port, row).map(|v| v as u16);
        rec.request_time_us = opt(self.request_time_us, row).map(|v| v as u64);
        rec.upstream_time_us = opt(self.upstream_time_us, row).map(|v| v as u64);
        let mut oddities = Oddities::default();
        for name in self
            .oddities
            .get(row)
            .into_iter()
            .flat_map(|v| v.split(','))
        {
            if let Some(o) = Oddity::from_name(name) {
                oddities.insert(o);
            }
        }
        rec.oddities = oddities;
        oddities
    }
}

/// Rows of `windows`: one per metric (and key) of each window result.
#[derive(Debug)]
pub struct WindowRows {
    start: TimestampMicrosecondBuilder,
    end: TimestampMicrosecondBuilder,
    revision: Int32Builder,
    metric: StringBuilder,
    key: StringBuilder,
    value: Int64Builder,
    day: StringBuilder,
    len: usize,
}

row_counts!(WindowRows);

impl WindowRows {
    /// No rows yet.
    pub fn new() -> WindowRows {
        WindowRows {
            start: ts_builder(),
            end: ts_builder(),
            revision: Int32Builder::new(),
            metric: StringBuilder::new(),
            key: StringBuilder::new(),
            value: Int64Builder::new(),
            day: StringBuilder::new(),
            len: 0,
        }
    }

    fn row(&mut self, w: &WindowResult, day: &str, metric: &str, key: Option<&str>, v: u64) {
        self.start.append_value(w.window_start * 1_000_000);
        self.end.append_value(w.window_end * 1_000_000);
        self.revision.append_value(w.revision as i32);
        self.metric.append_value(metric);
        self.key.append_option(key);
        self.value.append_value(v as i64);
        self.day.append_value(day);
        self.len += 1;
    }

    /// Adds every metric of a window result.
    pub fn push(&mut self, w: &WindowResult) {
        let day = utc_day(w.window_start);
        let d = day.as_str();
        self.row(w, d, "requests", None, w.requests);
        self.row(w, d, "bytes", None, w.bytes);
        self.row(w, d, "not_found", None, w.not_found);
        self.row(w, d, "server_errors", None, w.server_errors);
        self.row(w, d, "unique_clients", None, w.unique_clients);
        self.row(w, d, "late_total", None, w.late_total);
        for s in &w.status {
            self.row(w, d, "status", Some(&s.code.to_string()), s.count);
        }
        let c = &w.status_classes;
        for (k, v) in [
            ("1xx", c.informational),
            ("2xx", c.success),
            ("3xx", c.redirection),
            ("4xx", c.client_error),
            ("5xx", c.server_error),
            ("other", c.other),
        ] {
            if v > 0 {
                self.row(w, d, "class", Some(k), v);
            }
        }
        for m in &w.methods {
            self.row(w, d, "method", Some(&m.key), m.count);
        }
        for p in &w.top_pages {
            self.row(w, d, "top_page", Some(&p.key), p.count);
        }
        for c in &w.top_clients {
            self.row(w, d, "top_client", Some(&c.client), c.requests);
            self.row(w, d, "top_client_bytes", Some(&c.client), c.bytes);
        }
        for e in &w.top_error_endpoints {
            self.row(w, d, "top_error_endpoint", Some(&e.key), e.count);
        }
        for (prefix, q) in [("size", &w.size), ("request_time_us", &w.request_time_us)] {
            for (name, v) in [
                ("min", q.min),
                ("p50", q.p50),
                ("p90", q.p90),
                ("p99", q.p99),
                ("max", q.max),
            ] {
                if let Some(v) = v {
                    self.row(w, d, &format!("{prefix}_{name}"), None, v);
                }
            }
        }
    }

    /// The rows as a record batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        RecordBatch::try_new(
            TableKind::Windows.schema(),
            vec![
                Arc::new(self.start.finish()),
                Arc::new(self.end.finish()),
                Arc::new(self.revision.finish()),
                Arc::new(self.metric.finish()),
                Arc::new(self.key.finish()),
                Arc::new(self.value.finish()),
                Arc::new(self.day.finish()),
            ],
        )
        .expect("columns match the schema")
    }
}

/// Rows of `alerts`.
#[derive(Debug)]
pub struct AlertRows {
    start: TimestampMicrosecondBuilder,
    end: TimestampMicrosecondBuilder,
    revision: Int32Builder,
    rule: StringBuilder,
    kind: StringBuilder,
    key: StringBuilder,
    observed: Float64Builder,
    threshold: Float64Builder,
    explanation: StringBuilder,
    samples: StringBuilder,
    len: usize,
}

row_counts!(AlertRows);

impl AlertRows {
    /// No rows yet.
    pub fn new() -> AlertRows {
        AlertRows {
            start: ts_builder(),
            end: ts_builder(),
            revision: Int32Builder::new(),
            rule: StringBuilder::new(),
            kind: StringBuilder::new(),
            key: StringBuilder::new(),
            observed: Float64Builder::new(),
            threshold: Float64Builder::new(),
            explanation: StringBuilder::new(),
            samples: StringBuilder::new(),
            len: 0,
        }
    }

    /// Adds an alert; its sample lines are stored joined by newlines.
    pub fn push(&mut self, a: &Alert) {
        self.start.append_value(a.window_start * 1_000_000);
        self.end.append_value(a.window_end * 1_000_000);
        self.revision.append_value(a.revision as i32);
        self.rule.append_value(&a.rule);
        self.kind.append_value(&a.kind);
        self.key.append_value(&a.key);
        self.observed.append_value(a.observed);
        self.threshold.append_value(a.threshold);
        self.explanation.append_value(&a.explanation);
        if a.samples.is_empty() {
            self.samples.append_null();
        } else {
            self.samples.append_value(a.samples.join("\n"));
        }
        self.len += 1;
    }

    /// The rows as a record batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        RecordBatch::try_new(
            TableKind::Alerts.schema(),
            vec![
                Arc::new(self.start.finish()),
                Arc::new(self.end.finish()),
                Arc::new(self.revision.finish()),
                Arc::new(self.rule.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.key.finish()),
                Arc::new(self.observed.finish()),
                Arc::new(self.threshold.finish()),
                Arc::new(self.explanation.finish()),
                Arc::new(self.samples.finish()),
            ],
        )
        .expect("columns match the schema")
    }
}

/// Rows of `rejects`.
#[derive(Debug)]
pub struct RejectRows {
    source: StringBuilder,
    offset: Int64Builder,
    reason: StringBuilder,
    explanation: StringBuilder,
    line: StringBuilder,
    lineage: LineageCols,
    len: usize,
}

/// The lineage columns of a table, in the order of
/// [`LINEAGE_COLUMNS`](crate::schema::LINEAGE_COLUMNS).
#[derive(Debug, Default)]
struct LineageCols {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    line: Int32Builder,
    origin: StringBuilder,
    origin_offset: Int64Builder,
}

impl LineageCols {
    fn push(&mut self, from: Option<KafkaLineage<'_>>) {
        let origin = from.and_then(|k| k.origin);
        self.topic.append_option(from.map(|k| k.topic));
        self.partition.append_option(from.map(|k| k.partition));
        self.offset.append_option(from.map(|k| k.offset));
        self.line
            .append_option(from.map(|k| i32::try_from(k.line).unwrap_or(i32::MAX)));
        self.origin.append_option(origin.map(|(o, _)| o));
        self.origin_offset
            .append_option(origin.map(|(_, at)| i64::try_from(at).unwrap_or(i64::MAX)));
    }

    fn finish(&mut self) -> [ArrayRef; 6] {
        [
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.origin.finish()),
            Arc::new(self.origin_offset.finish()),
        ]
    }
}

row_counts!(RejectRows);

impl RejectRows {
    /// No rows yet.
    pub fn new() -> RejectRows {
        RejectRows {
            source: StringBuilder::new(),
            offset: Int64Builder::new(),
            reason: StringBuilder::new(),
            explanation: StringBuilder::new(),
            line: StringBuilder::new(),
            lineage: LineageCols::default(),
            len: 0,
        }
    }

    /// Adds a rejected line with its reason code and explanation.
    pub fn push(
        &mut self,
        source: &str,
        offset: Option<u64>,
        reason: &str,
        explanation: &str,
        line: &[u8],
    ) {
        self.push_from(source, offset, reason, explanation, line, None);
    }

    /// [`push`](RejectRows::push) with the line's [`KafkaLineage`], for a line read from
    /// Kafka.
    pub fn push_from(
        &mut self,
        source: &str,
        offset: Option<u64>,
        reason: &str,
        explanation: &str,
        line: &[u8],
        from: Option<KafkaLineage<'_>>,
    ) {
        self.lineage.push(from);
        self.source.append_value(source);
        self.offset.append_option(offset.map(|v| v as i64));
        self.reason.append_value(reason);
        self.explanation.append_value(explanation);
        self.line.append_value(text(line));
        self.len += 1;
    }

    /// The rows as a record batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.source.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.explanation.finish()),
            Arc::new(self.line.finish()),
        ];
        cols.extend(self.lineage.finish());
        RecordBatch::try_new(TableKind::Rejects.schema(), cols).expect("columns match the schema")
    }
}

/// One row of `reports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The day reported on, `YYYY-MM-DD`.
    pub report_date: String,
    /// `daily`.
    pub kind: String,
    /// When it was made (UTC seconds).
    pub generated_at: i64,
    /// Rows of each top list.
    pub top_n: u32,
    /// Requests that day.
    pub requests: u64,
    /// The top pages as JSON (`[{"path":..,"requests":..}]`).
    pub top_pages: String,
    /// The whole report as JSON.
    pub report: String,
}

impl ReportRow {
    /// As a one-row record batch.
    pub fn to_batch(&self) -> RecordBatch {
        let mut ts = ts_builder();
        ts.append_value(self.generated_at * 1_000_000);
        let one = |v: &str| {
            let mut b = StringBuilder::new();
            b.append_value(v);
            Arc::new(b.finish()) as ArrayRef
        };
        let mut top = Int32Builder::new();
        top.append_value(self.top_n as i32);
        let mut req = Int64Builder::new();
        req.append_value(self.requests as i64);
        RecordBatch::try_new(
            TableKind::Reports.schema(),
            vec![
                one(&self.report_date),
                one(&self.kind),
                Arc::new(ts.finish()),
                Arc::new(top.finish()),
                Arc::new(req.finish()),
                one(&self.top_pages),
                one(&self.report),
            ],
        )
        .expect("columns match the schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitstream_format::{FormatSpec, Outcome, Parser, Text};

    #[test]
    fn a_parsed_line_comes_back_from_its_row() {
        let p = Parser::new(FormatSpec::from_str_any("combined").unwrap());
        let line: &[u8] = br#"10.0.0.1 - bob [10/Oct/2000:13:55:36 -0700] "GET /a%20b?x=1 HTTP/1.0" 200 2326 "http://r/" "Mozilla/4.08 \"q\"""#;
        let mut rec = Record::new();
        let out = p.parse(line, &mut rec);
        assert!(matches!(out, Outcome::Ok | Outcome::Degraded(_)), "{out:?}");
        let mut rows = RequestRows::new();
        rows.push(&rec, &[], "f.log", Some(7));
        rows.push(&rec, &[], "f.log", Some(200));
        let b = rows.finish();
        assert_eq!(b.num_rows(), 2);
        assert!(rows.is_empty());
        let day = b.column_by_name("day").unwrap().as_string::<i32>();
        assert_eq!(day.value(0), "2000-10-10");
        let mut back = Record::new();
        let odd = RequestReader::new(&b).unwrap().read(1, &mut back);
        assert_eq!(odd, rec.oddities);
        for t in [
            Text::Client,
            Text::User,
            Text::Path,
            Text::Query,
            Text::UserAgent,
        ] {
            assert_eq!(back.get(t), rec.get(t), "{t:?}");
        }
        assert_eq!(back.time, rec.time);
        assert_eq!((back.status, back.bytes), (Some(200), Some(2326)));
    }

    #[test]
    fn lines_without_time_go_to_the_unknown_day() {
        assert_eq!(day_of(None), "unknown");
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(-1), "1969-12-31");
    }
}
