//! The tables of the lake and their Arrow schemas. The README's "Lake tables" section
//! documents every column; keep the two in step.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The tables hitstream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    /// Every parsed line, all fields; partitioned by the line's local day.
    Requests,
    /// Every window result in long form (one row per metric and key); partitioned by the
    /// UTC day of the window start.
    Windows,
    /// Every alert.
    Alerts,
    /// Every line that could not be parsed, with its reason and where it came from.
    Rejects,
    /// Daily reports.
    Reports,
}

impl TableKind {
    /// Every table, in a fixed order.
    pub const ALL: [TableKind; 5] = [
        TableKind::Requests,
        TableKind::Windows,
        TableKind::Alerts,
        TableKind::Rejects,
        TableKind::Reports,
    ];

    /// The table's name: its directory under the data root and its name in SQL.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Requests => "requests",
            TableKind::Windows => "windows",
            TableKind::Alerts => "alerts",
            TableKind::Rejects => "rejects",
            TableKind::Reports => "reports",
        }
    }

    /// Partition columns.
    pub fn partitions(self) -> &'static [&'static str] {
        match self {
            TableKind::Requests | TableKind::Windows => &["day"],
            // Small tables; rejects have no reliable time to partition by.
            TableKind::Alerts | TableKind::Rejects | TableKind::Reports => &[],
        }
    }

    /// The Arrow schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            TableKind::Requests => requests_schema(),
            TableKind::Windows => windows_schema(),
            TableKind::Alerts => alerts_schema(),
            TableKind::Rejects => rejects_schema(),
            TableKind::Reports => reports_schema(),
        }
    }
}

/// Delta's `timestamp` type: instants in UTC. (A timestamp without a zone would be
/// `timestamp_ntz`, a table feature that older readers refuse.)
pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// Text columns of `requests`, in order, with the parser's field they hold.
pub const REQUEST_TEXTS: [(&str, hitstream_format::Text); 16] = {
    use hitstream_format::Text as T;
    [
        ("client", T::Client),
        ("ident", T::Ident),
        ("user", T::User),
        ("request", T::Request),
        ("method", T::Method),
        ("uri", T::Uri),
        ("path", T::Path),
        ("query", T::Query),
        ("protocol", T::Protocol),
        ("referer", T::Referer),
        ("user_agent", T::UserAgent),
        ("vhost", T::Vhost),
        ("host", T::Host),
        ("x_forwarded_for", T::XForwardedFor),
        ("request_body", T::RequestBody),
        ("upstream_time", T::UpstreamTime),
    ]
};

/// `requests`: one row per parsed line.
pub fn requests_schema() -> SchemaRef {
    let mut f = vec![
        Field::new("time", timestamp(), true),
        Field::new("utc_offset", DataType::Int32, true),
    ];
    f.extend(REQUEST_TEXTS.iter().map(|(n, _)| s(n)));
    f.extend([
        Field::new("status", DataType::Int32, true),
        Field::new("bytes", DataType::Int64, true),
        Field::new("port", DataType::Int32, true),
        Field::new("request_time_us", DataType::Int64, true),
        Field::new("upstream_time_us", DataType::Int64, true),
        s("oddities"),
        s("extras"),
        Field::new("source", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, true),
        Field::new("day", DataType::Utf8, false),
    ]);
    // Lineage of rows read from Kafka, null for other rows. Last, after `day`: columns
    // added to a lake written before them go at the end of its schema, and the writer
    // wants the same order (see `LINEAGE_COLUMNS`).
    f.extend(
        LINEAGE_COLUMNS
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true)),
    );
    Arc::new(Schema::new(f))
}

/// The lineage columns of `requests`: where a row read from Kafka came from (topic,
/// partition, the message's offset, the line's place in the message) and the origin the
/// shipper named (file fingerprint, byte offset). Null for rows of other sources. A lake
/// written before they existed gets them when first written to again; its older rows
/// read them as null.
pub const LINEAGE_COLUMNS: [(&str, DataType); 6] = [
    ("kafka_topic", DataType::Utf8),
    ("kafka_partition", DataType::Int32),
    ("kafka_offset", DataType::Int64),
    ("kafka_line", DataType::Int32),
    ("origin", DataType::Utf8),
    ("origin_offset", DataType::Int64),
];

/// `windows`: long form of window results.
pub fn windows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("window_start", timestamp(), false),
        Field::new("window_end", timestamp(), false),
        Field::new("revision", DataType::Int32, false),
        Field::new("metric", DataType::Utf8, false),
        s("key"),
        Field::new("value", DataType::Int64, false),
        Field::new("day", DataType::Utf8, false),
    ]))
}

/// `alerts`: one row per alert.
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("window_start", timestamp(), false),
        Field::new("window_end", timestamp(), false),
        Field::new("revision", DataType::Int32, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("observed", DataType::Float64, false),
        Field::new("threshold", DataType::Float64, false),
        Field::new("explanation", DataType::Utf8, false),
        s("samples"),
    ]))
}

/// `rejects`: lines that could not be parsed.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("explanation", DataType::Utf8, false),
        Field::new("line", DataType::Utf8, false),
        // Lineage of lines read from Kafka, as in `requests`; last, for lakes written before.
        Field::new("kafka_topic", DataType::Utf8, true),
        Field::new("kafka_partition", DataType::Int32, true),
        Field::new("kafka_offset", DataType::Int64, true),
        Field::new("kafka_line", DataType::Int32, true),
        Field::new("origin", DataType::Utf8, true),
        Field::new("origin_offset", DataType::Int64, true),
    ]))
}

/// `reports`: one row per report made.
pub fn reports_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("report_date", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("generated_at", timestamp(), false),
        Field::new("top_n", DataType::Int32, false),
        Field::new("requests", DataType::Int64, false),
        Field::new("top_pages", DataType::Utf8, false),
        Field::new("report", DataType::Utf8, false),
    ]))
}
