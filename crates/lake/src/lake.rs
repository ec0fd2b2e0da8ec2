//! [`AsyncLake`] and its blocking wrapper [`Lake`]: the data root, its tables, idempotent
//! commits, SQL and upkeep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use delta_kernel::expressions::Scalar;
use deltalake::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use deltalake::arrow::compute::filter_record_batch;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::execution::context::SQLOptions;
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType, Transaction};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use deltalake::{DeltaTable, DeltaTableError};
use indexmap::IndexMap;
use tokio::runtime::Runtime;
use url::Url;

use hitstream_rows::TableKind;
use hitstream_runtime::SharedPart;

/// The key of shared parts' positions in a commit's info.
const PARTS_INFO: &str = "hitstreamParts";

/// The key of the window shape in the info of `run`'s commits.
pub const WINDOW_INFO: &str = "hitstreamWindow";

/// The windows a `run` makes (seconds), as stored with its commits, so that the merged
/// view of several processes' windows can be made without asking the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowShape {
    /// Window length.
    pub size: u64,
    /// Slide (0: tumbling).
    pub slide: u64,
    /// Alignment of window starts.
    pub offset: i64,
    /// Length of the top lists.
    pub top: u64,
}

/// How many commits back [`AsyncLake::stored_parts`] looks for a part's state.
pub const PART_HISTORY: usize = 1000;

/// What can go wrong in the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The data location cannot be used.
    #[error("data location `{0}`: {1}")]
    Location(String, String),
    /// A Delta operation failed.
    #[error("table `{table}`: {source}")]
    Delta {
        /// The table.
        table: &'static str,
        /// The cause.
        #[source]
        source: DeltaTableError,
    },
    /// A query failed.
    #[error("{0}")]
    Query(#[from] DataFusionError),
    /// A query names a table that the lake does not hold.
    #[error("{}", no_table_message(table, location, held, empty))]
    NoTable {
        /// The name the query gave.
        table: String,
        /// The data root (a path for local lakes).
        location: String,
        /// The tables and views the lake holds, sorted.
        held: Vec<String>,
        /// Those of `held` without a row.
        empty: Vec<String>,
    },
    /// The query is not SQL that the parser reads.
    #[error("the query is not valid SQL: {0}")]
    Syntax(String),
    /// A table does not have the expected shape.
    #[error("{0}")]
    Schema(String),
    /// Local I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A statement that would change the lake or the session was given where only queries
    /// run (the tables are written by hitstream alone, so that its guarantees hold).
    #[error(
        "the lake is read-only here; refused: {0}. Only queries run (SELECT, WITH, VALUES, \
         EXPLAIN, DESCRIBE, SHOW)"
    )]
    ReadOnly(String),
    /// Another process stored a part's position beyond where this commit goes on from
    /// (see [`SharedPart::after`]): committing would store the same lines twice.
    #[error(
        "`{key}` was stored up to {stored} by another process while this one read it from \
         {after}; nothing was committed. Restart: the epoch is then repeated without that part"
    )]
    PartMoved {
        /// The part.
        key: String,
        /// The position stored by the other process.
        stored: i64,
        /// Where this commit went on from (`none`: no stored position was known).
        after: String,
    },
}

impl From<hitstream_rows::ShapeError> for LakeError {
    fn from(e: hitstream_rows::ShapeError) -> Self {
        LakeError::Schema(e.0)
    }
}

/// The message of [`LakeError::NoTable`]: what the lake holds and what writes the table
/// that is missing, so that a wrong `--data` or a lake filled by another command is told
/// apart from a typo.
fn no_table_message(table: &str, location: &str, held: &[String], empty: &[String]) -> String {
    let is_empty = |t: &str| empty.iter().any(|h| h == t);
    if !held
        .iter()
        .any(|h| TableKind::ALL.iter().any(|k| k.name() == h))
    {
        return format!(
            "no table `{table}`: `{location}` holds none of hitstream's tables, so it is not a \
             lake or nothing has been stored in it yet. Store data with `hitstream run --data \
             DIR` or `hitstream analyze --store --data DIR FILE...`, or give --data the \
             directory (or URL) of a lake"
        );
    }
    let writer = match table {
        "requests" | "rejects" => {
            "`hitstream run --data DIR` and `hitstream analyze --store` write it".to_string()
        }
        "windows" | "alerts" => "`hitstream run --data DIR` writes it (`analyze --store` \
                                 stores only requests and rejects)"
            .to_string(),
        "reports" => {
            "`hitstream report daily` writes it (and `run` with `[report] daily_at`)".to_string()
        }
        t if t.starts_with("analysis_") => {
            "`hitstream report range --tables` writes the analysis_* tables".to_string()
        }
        MERGED_VIEW if held.iter().any(|h| h == "windows") && !is_empty("windows") => {
            "the view is made only over tumbling windows, and this lake's are sliding".to_string()
        }
        MERGED_VIEW => "the view is made from the rows of `windows` and `requests`, and this \
                        lake has no window rows: `hitstream run --data DIR` writes them \
                        (`analyze --store` stores only requests and rejects)"
            .to_string(),
        _ => format!(
            "hitstream's tables are {}, the view {MERGED_VIEW} and the analysis_* tables of \
             `report range --tables`",
            TableKind::ALL.map(|k| k.name()).join(", ")
        ),
    };
    let held: Vec<String> = held
        .iter()
        .map(|h| {
            if is_empty(h) {
                format!("{h} (empty)")
            } else {
                h.clone()
            }
        })
        .collect();
    format!(
        "the lake at `{location}` has no table `{table}`: {writer}. It holds: {}",
        held.join(", ")
    )
}

/// The table a planning error says is missing (`table 'datafusion.public.x' not found`).
fn missing_table(e: &DataFusionError) -> Option<String> {
    let DataFusionError::Plan(m) = e.find_root() else {
        return None;
    };
    let rest = m.strip_prefix("table '")?;
    let name = &rest[..rest.find("' not found")?];
    Some(name.rsplit('.').next().unwrap_or(name).to_string())
}

fn delta(table: TableKind) -> impl Fn(DeltaTableError) -> LakeError {
    move |source| LakeError::Delta {
        table: table.name(),
        source,
    }
}

/// What upkeep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintainStats {
    /// Files written by compaction.
    pub files_added: u64,
    /// Files replaced by compaction or dropped by retention.
    pub files_removed: u64,
    /// Rows removed by retention.
    pub rows_deleted: u64,
}

/// The data root and its tables, for async code: every operation is an `async fn` that runs
/// on the caller's Tokio runtime (an axum handler, a `#[tokio::main]` program). It owns no
/// runtime and never blocks on one; [`Lake`] is the same lake for blocking code.
///
/// It must be polled inside a Tokio runtime (delta-rs needs one), of either flavor. Parquet
/// encoding of [`commit`](AsyncLake::commit) and [`append`](AsyncLake::append) runs on
/// Tokio's blocking pool, so a large write does not hold up the runtime's worker threads;
/// queries, [`optimize`](AsyncLake::optimize) and [`retain_from`](AsyncLake::retain_from)
/// run inside DataFusion and delta-rs, which do their work as tasks on the current runtime.
///
/// A clone is another handle on the same tables (their cached states are shared, cheaply),
/// for concurrent queries; as for any writer, keep one writer per application id and table.
#[derive(Clone)]
pub struct AsyncLake {
    root: Url,
    local: bool,
    tables: BTreeMap<TableKind, DeltaTable>,
    write_threads: usize,
}

impl std::fmt::Debug for AsyncLake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncLake")
            .field("root", &self.root.as_str())
            .finish()
    }
}

impl AsyncLake {
    /// Opens the lake at a directory or a `file://` URL (created if needed), or at an
    /// `s3://` or `az://` (`abfs(s)://`) URL configured from the `AWS_*` or `AZURE_*`
    /// environment variables. Tables are opened (or created) when first used.
    pub async fn open(location: &str) -> Result<AsyncLake, LakeError> {
        AsyncLake::at(location)
    }

    /// [`AsyncLake::open`], which needs nothing async yet (a local root is created with a
    /// quick synchronous call; tables are opened later).
    fn at(location: &str) -> Result<AsyncLake, LakeError> {
        let bad = |why: String| LakeError::Location(location.to_string(), why);
        let mut remote = false;
        let root = if let Some((scheme, _)) = location.split_once("://") {
            match scheme {
                "file" => {
                    let u = Url::parse(location).map_err(|e| bad(e.to_string()))?;
                    let p = u
                        .to_file_path()
                        .map_err(|_| bad("not a local path".into()))?;
                    dir_url(&p).map_err(bad)?
                }
                "gs" => {
                    return Err(bad(
                        "gs:// is not built into this hitstream; use s3://, az://, a local \
                         directory or a file:// URL"
                            .into(),
                    ))
                }
                "s3" | "s3a" | "az" | "azure" | "abfs" | "abfss" => {
                    // Object stores are configured from the environment (AWS_* and AZURE_*
                    // variables), as their own tools are.
                    if scheme.starts_with("s3") {
                        deltalake::aws::register_handlers(None);
                    } else {
                        deltalake::azure::register_handlers(None);
                    }
                    let mut u = Url::parse(location).map_err(|e| bad(e.to_string()))?;
                    if !u.path().ends_with('/') {
                        let p = format!("{}/", u.path());
                        u.set_path(&p);
                    }
                    remote = true;
                    u
                }
                other => return Err(bad(format!("unknown scheme `{other}://`"))),
            }
        } else {
            dir_url(Path::new(location)).map_err(bad)?
        };
        Ok(AsyncLake {
            root,
            local: !remote,
            tables: BTreeMap::new(),
            write_threads: 1,
        })
    }

    /// The data root as a URL.
    pub fn root(&self) -> &Url {
        &self.root
    }

    fn table_url(&self, kind: TableKind) -> Url {
        self.root
            .join(&format!("{}/", kind.name()))
            .expect("table names are valid URL paths")
    }

    /// Whether the table exists (has at least its creating commit).
    pub async fn exists(&mut self, kind: TableKind) -> Result<bool, LakeError> {
        if self.tables.contains_key(&kind) {
            return Ok(true);
        }
        let url = self.table_url(kind);
        if self.local {
            let dir = url.to_file_path().expect("local url");
            if !dir.join("_delta_log").is_dir() {
                return Ok(false);
            }
        }
        let t = match DeltaTable::try_from_url(url).await {
            Ok(t) => t,
            Err(DeltaTableError::NotATable(_)) => return Ok(false),
            Err(e) => return Err(delta(kind)(e)),
        };
        if t.version().is_none() {
            return Ok(false);
        }
        self.tables.insert(kind, t);
        Ok(true)
    }

    /// The table, created when missing.
    async fn table(&mut self, kind: TableKind) -> Result<&mut DeltaTable, LakeError> {
        if !self.exists(kind).await? {
            let url = self.table_url(kind);
            if self.local {
                std::fs::create_dir_all(url.to_file_path().expect("local url"))?;
            }
            let t = async {
                let t = DeltaTable::try_from_url(url).await?;
                let st: StructType = kind.schema().as_ref().try_into_kernel()?;
                t.create()
                    .with_table_name(kind.name())
                    .with_columns(st.fields().cloned())
                    .with_partition_columns(kind.partitions().iter().copied())
                    .with_save_mode(SaveMode::Ignore)
                    .await
            }
            .await;
            self.tables.insert(kind, t.map_err(delta(kind))?);
        }
        Ok(self.tables.get_mut(&kind).expect("just opened"))
    }

    /// Creates every table that does not exist yet, so that queries find them all (empty
    /// ones included).
    pub async fn create_tables(&mut self) -> Result<(), LakeError> {
        for kind in TableKind::ALL {
            self.table(kind).await?;
        }
        Ok(())
    }

    /// The last version committed to `kind` under application id `app`, as the table says
    /// now (another process may have committed since this lake was opened).
    pub async fn committed(
        &mut self,
        kind: TableKind,
        app: &str,
    ) -> Result<Option<i64>, LakeError> {
        if !self.exists(kind).await? {
            return Ok(None);
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        async {
            t.update_state().await?;
            t.snapshot()?
                .transaction_version(t.log_store().as_ref(), app)
                .await
        }
        .await
        .map_err(delta(kind))
    }

    /// Appends `batches` to `kind` as version `version` of application `app`, unless the
    /// table already holds that version or a later one. Returns whether it committed.
    /// Empty input commits nothing (and returns `false`).
    ///
    /// Dropping the future part-way never commits part of the batches, but may leave
    /// written, uncommitted files behind (removed by the vacuum of
    /// [`retain_from`](AsyncLake::retain_from)); a retry with the same version is safe.
    pub async fn commit(
        &mut self,
        kind: TableKind,
        app: &str,
        version: i64,
        batches: Vec<RecordBatch>,
    ) -> Result<bool, LakeError> {
        self.commit_parts(kind, app, version, batches, &[], serde_json::Map::new())
            .await
    }

    /// [`commit`](AsyncLake::commit), with the positions of shared parts (a consumer
    /// group's partitions) in the same Delta commit: each as an application transaction
    /// named by the part (its version is the next position) and, with what else the source
    /// keeps about it, in the commit's info. A commit happens even without rows when
    /// there are parts, so that positions move past lines that stored nothing.
    pub async fn commit_parts(
        &mut self,
        kind: TableKind,
        app: &str,
        version: i64,
        batches: Vec<RecordBatch>,
        parts: &[SharedPart],
        mut info: serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool, LakeError> {
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        if batches.is_empty() && parts.is_empty() {
            return Ok(false);
        }
        if self
            .committed(kind, app)
            .await?
            .is_some_and(|v| v >= version)
        {
            return Ok(false);
        }
        // `committed` loaded the newest snapshot, which the commit below is made against: a
        // position another process stored up to it shows here, and one stored after it makes
        // the commit fail (a concurrent transaction of the same application id).
        self.check_parts(kind, parts).await?;
        let mut txns = vec![Transaction::new(app, version)];
        let mut stored = serde_json::Map::new();
        for p in parts {
            txns.push(Transaction::new(&p.key, p.next));
            stored.insert(
                p.key.clone(),
                serde_json::json!({ "next": p.next, "state": p.state }),
            );
        }
        if !parts.is_empty() {
            info.insert(PARTS_INFO.into(), serde_json::Value::Object(stored));
        }
        self.write(kind, batches, txns, info).await?;
        Ok(true)
    }

    /// Refuses parts whose stored position (in the loaded snapshot of `kind`) is beyond
    /// the one their commit goes on from.
    async fn check_parts(
        &mut self,
        kind: TableKind,
        parts: &[SharedPart],
    ) -> Result<(), LakeError> {
        if parts.is_empty() || !self.exists(kind).await? {
            return Ok(());
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        for p in parts {
            let stored = t
                .snapshot()
                .map_err(delta(kind))?
                .transaction_version(t.log_store().as_ref(), &p.key)
                .await
                .map_err(delta(kind))?;
            if let Some(stored) = stored {
                if p.after.is_none_or(|a| stored > a) {
                    return Err(LakeError::PartMoved {
                        key: p.key.clone(),
                        stored,
                        after: p.after.map_or("none".into(), |a| a.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    /// The positions of shared parts stored with [`commit_parts`](AsyncLake::commit_parts)
    /// in `kind`: the next position from the table's application transactions, and the
    /// rest from the newest commit that stored it (looked for among the last
    /// [`PART_HISTORY`] commits; `state` is None beyond).
    pub async fn stored_parts(
        &mut self,
        kind: TableKind,
        keys: &[String],
    ) -> Result<Vec<SharedPart>, LakeError> {
        let mut found: Vec<SharedPart> = Vec::new();
        if keys.is_empty() || !self.exists(kind).await? {
            return Ok(found);
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        async {
            t.update_state().await?;
            for k in keys {
                if let Some(next) = t
                    .snapshot()?
                    .transaction_version(t.log_store().as_ref(), k)
                    .await?
                {
                    found.push(SharedPart {
                        key: k.clone(),
                        next,
                        state: None,
                        after: None,
                    });
                }
            }
            let mut missing = found.len();
            let mut history = t.history(Some(PART_HISTORY));
            while missing > 0 {
                let Some(commit) = futures_util::StreamExt::next(&mut history).await else {
                    break;
                };
                let commit = commit?;
                let Some(stored) = commit.info.get(PARTS_INFO) else {
                    continue;
                };
                for part in found.iter_mut().filter(|p| p.state.is_none()) {
                    let Some(s) = stored.get(&part.key) else {
                        continue;
                    };
                    if s.get("next").and_then(|n| n.as_i64()) == Some(part.next) {
                        part.state = s.get("state").cloned().filter(|v| !v.is_null());
                        missing -= 1;
                    }
                }
            }
            Ok::<_, DeltaTableError>(())
        }
        .await
        .map_err(delta(kind))?;
        Ok(found)
    }

    /// Appends `batches` to `kind` with no application transaction (for rows that are
    /// events of their own, such as a report made on demand).
    pub async fn append(
        &mut self,
        kind: TableKind,
        batches: Vec<RecordBatch>,
    ) -> Result<(), LakeError> {
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        if batches.is_empty() {
            return Ok(());
        }
        self.write(kind, batches, Vec::new(), serde_json::Map::new())
            .await
    }

    /// Writes `batches` as new files of `kind` and commits them in one version.
    ///
    /// Batches go straight to the Parquet writer, one partition at a time: the rows of a
    /// batch almost always share one day, and the generic write path (a DataFusion plan
    /// that hash-repartitions, coalesces and sorts every batch by its partition values)
    /// copied every column three times, a quarter of the cost of loading. With
    /// [`AsyncLake::set_write_threads`] above 1, a large write is encoded by that many
    /// tasks at once (one file each per day), still in one commit.
    ///
    /// Encoding is CPU work that yields only between row groups, so each task runs on
    /// Tokio's blocking pool (`spawn_blocking`) and drives its writer there with
    /// `Handle::block_on`: the runtime's workers stay free for other tasks (requests of a
    /// server), and the uploads the writer starts still run on the runtime.
    async fn write(
        &mut self,
        kind: TableKind,
        batches: Vec<RecordBatch>,
        txns: Vec<Transaction>,
        info: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), LakeError> {
        let props = CommitProperties::default()
            .with_application_transactions(txns)
            .with_metadata(info);
        let groups = share_out(batches, self.write_threads);
        let t = self.table(kind).await?;
        add_missing_columns(kind, t).await.map_err(delta(kind))?;
        async {
            let rt = tokio::runtime::Handle::current();
            let tasks: Vec<_> = groups
                .into_iter()
                .map(|g| {
                    let table = t.clone();
                    let rt = rt.clone();
                    tokio::task::spawn_blocking(move || rt.block_on(write_files(&table, kind, g)))
                })
                .collect();
            let mut adds = Vec::new();
            for task in tasks {
                let files = task
                    .await
                    .map_err(|e| DeltaTableError::generic(format!("writer task: {e}")))??;
                adds.extend(files.into_iter().map(Action::Add));
            }
            let partitions = kind.partitions();
            let operation = DeltaOperation::Write {
                mode: SaveMode::Append,
                partition_by: (!partitions.is_empty())
                    .then(|| partitions.iter().map(|p| p.to_string()).collect()),
                predicate: None,
            };
            let done = CommitBuilder::from(props)
                .with_actions(adds)
                .build(Some(t.snapshot()?), t.log_store(), operation)
                .await?;
            t.state = Some(done.snapshot);
            Ok::<_, DeltaTableError>(())
        }
        .await
        .map_err(delta(kind))
    }

    /// Encodes large writes with `n` tasks at once (default 1: one file per day and commit).
    /// A pipeline that waits for its commits gains from this; one whose parsing goes on
    /// meanwhile does not.
    pub fn set_write_threads(&mut self, n: usize) {
        self.write_threads = n.max(1);
    }

    /// A DataFusion session with every existing table registered under its name.
    pub async fn session(&mut self) -> Result<SessionContext, LakeError> {
        // The information schema answers `SHOW TABLES` and `SHOW COLUMNS`.
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
        for kind in TableKind::ALL {
            if !self.exists(kind).await? {
                continue;
            }
            let t = self.tables.get_mut(&kind).expect("exists");
            let provider = async {
                t.update_state().await?;
                t.update_datafusion_session(&ctx.state())?;
                t.table_provider().await.map_err(DeltaTableError::from)
            }
            .await
            .map_err(delta(kind))?;
            ctx.register_table(kind.name(), provider)?;
        }
        Ok(ctx)
    }

    /// The windows `run` makes into this lake, as its newest `requests` commit that says
    /// (None when none of the last commits does).
    pub async fn window_shape(&mut self) -> Result<Option<WindowShape>, LakeError> {
        let kind = TableKind::Requests;
        if !self.exists(kind).await? {
            return Ok(None);
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        async {
            t.update_state().await?;
            let mut history = t.history(Some(PART_HISTORY));
            while let Some(commit) = futures_util::StreamExt::next(&mut history).await {
                if let Some(w) = commit?.info.get(WINDOW_INFO) {
                    return Ok(serde_json::from_value::<WindowShape>(w.clone()).ok());
                }
            }
            Ok(None)
        }
        .await
        .map_err(delta(kind))
    }

    /// Plans a query, refusing anything that is not one (DDL, DML, `COPY`, `SET`, ...).
    async fn query(&mut self, query: &str) -> Result<DataFrame, LakeError> {
        let ctx = self.session().await?;
        if query.to_ascii_lowercase().contains(MERGED_VIEW) {
            let shape = self.window_shape().await?;
            register_merged_windows(&ctx, shape).await?;
        }
        if crate::tables::wants_report_tables(query) {
            crate::tables::register_report_tables(&ctx, &self.root).await?;
        }
        let plan = match ctx.state().create_logical_plan(query).await {
            Ok(plan) => plan,
            Err(e) => return Err(self.plan_error(&ctx, e).await),
        };
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| {
                LakeError::ReadOnly(match e {
                    DataFusionError::Plan(m) => m,
                    other => other.strip_backtrace(),
                })
            })?;
        Ok(ctx.execute_logical_plan(plan).await?)
    }

    /// A planning error as the user should read it: a syntax error once and plainly (not in
    /// the parser's debug form), and a missing table with the tables the lake holds.
    async fn plan_error(&mut self, ctx: &SessionContext, e: DataFusionError) -> LakeError {
        if let DataFusionError::SQL(p, _) = e.find_root() {
            let text = p.to_string();
            let text = text
                .strip_prefix("sql parser error: ")
                .unwrap_or(&text)
                .to_string();
            return LakeError::Syntax(text);
        }
        let Some(table) = missing_table(&e) else {
            return e.into();
        };
        // The report tables are registered only for queries that name them.
        if let Err(e) = crate::tables::register_report_tables(ctx, &self.root).await {
            return e;
        }
        let mut held: Vec<String> = ctx
            .catalog("datafusion")
            .and_then(|c| c.schema("public"))
            .map(|s| s.table_names())
            .unwrap_or_default();
        held.sort();
        let mut empty = Vec::new();
        for t in &held {
            // One row at most from one file: cheap, and only on this error's path.
            let rows = match ctx.sql(&format!("SELECT 1 FROM \"{t}\" LIMIT 1")).await {
                Ok(df) => df
                    .collect()
                    .await
                    .map(|b| b.iter().map(|b| b.num_rows()).sum()),
                Err(e) => Err(e),
            };
            if matches!(rows, Ok(0)) {
                empty.push(t.clone());
            }
        }
        let location = match self.root.scheme() {
            "file" => self
                .root
                .to_file_path()
                .map_or_else(|()| self.root.to_string(), |p| p.display().to_string()),
            _ => self.root.to_string(),
        };
        LakeError::NoTable {
            table,
            location,
            held,
            empty,
        }
    }

    /// Runs a query and collects its result. Only queries run: see [`LakeError::ReadOnly`].
    pub async fn sql(&mut self, query: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.query(query).await?.collect().await?)
    }

    /// Runs a query and returns its result as a stream of batches (for results too big to
    /// collect, or to send on as they come, as an HTTP response body).
    pub async fn sql_stream(
        &mut self,
        query: &str,
    ) -> Result<SendableRecordBatchStream, LakeError> {
        Ok(self.query(query).await?.execute_stream().await?)
    }

    /// Runs a query and hands its result to `f` batch by batch (for results too big to
    /// collect).
    pub async fn sql_each(
        &mut self,
        query: &str,
        mut f: impl FnMut(&RecordBatch) -> Result<(), LakeError>,
    ) -> Result<(), LakeError> {
        use futures_util::StreamExt;
        let mut stream = self.sql_stream(query).await?;
        while let Some(b) = stream.next().await {
            f(&b?)?;
        }
        Ok(())
    }

    /// When the table's newest commit was made (Unix milliseconds, from its commit info),
    /// read anew from the log; `None` when the table does not exist or the commit has no time.
    pub async fn last_commit_ms(&mut self, kind: TableKind) -> Result<Option<i64>, LakeError> {
        if !self.exists(kind).await? {
            return Ok(None);
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        t.update_state().await.map_err(delta(kind))?;
        let mut history = t.history(Some(1));
        let Some(commit) = futures_util::StreamExt::next(&mut history).await else {
            return Ok(None);
        };
        let commit = commit.map_err(delta(kind))?;
        Ok(commit.in_commit_timestamp.or(commit.timestamp))
    }

    /// Number of data files of a table (after compaction and retention, what readers open).
    pub async fn file_count(&mut self, kind: TableKind) -> Result<usize, LakeError> {
        if !self.exists(kind).await? {
            return Ok(0);
        }
        let t = self.tables.get_mut(&kind).expect("exists");
        t.update_state().await.map_err(delta(kind))?;
        Ok(t.get_file_uris().map_err(delta(kind))?.count())
    }

    /// Compacts small files of every table (Delta `OPTIMIZE`). Readers see the same rows;
    /// application transaction versions are kept.
    pub async fn optimize(&mut self) -> Result<MaintainStats, LakeError> {
        let mut s = MaintainStats::default();
        for kind in TableKind::ALL {
            if !self.exists(kind).await? {
                continue;
            }
            let mut t = self.tables.get(&kind).expect("exists").clone();
            let (t, m) = async {
                t.update_state().await?;
                t.optimize().await
            }
            .await
            .map_err(delta(kind))?;
            s.files_added += m.num_files_added;
            s.files_removed += m.num_files_removed;
            self.tables.insert(kind, t);
        }
        Ok(s)
    }

    /// Retention: deletes the days before `first_kept_day` (`YYYY-MM-DD`) from the
    /// day-partitioned tables, then removes files no longer referenced (vacuum, without
    /// Delta's 7-day grace period: retention is the user's explicit choice).
    pub async fn retain_from(&mut self, first_kept_day: &str) -> Result<MaintainStats, LakeError> {
        if !is_day(first_kept_day) {
            return Err(LakeError::Schema(format!(
                "`{first_kept_day}` is not a day (YYYY-MM-DD)"
            )));
        }
        let mut s = MaintainStats::default();
        for kind in TableKind::ALL {
            if kind.partitions() != ["day"] || !self.exists(kind).await? {
                continue;
            }
            let mut t = self.tables.get(&kind).expect("exists").clone();
            // `unknown` (lines without a time) sorts after every date and is kept.
            let pred = format!("day < '{first_kept_day}'");
            let (t, dm) = async {
                t.update_state().await?;
                let (t, dm) = t.delete().with_predicate(pred).await?;
                let (t, _vacuumed) = t
                    .vacuum()
                    .with_retention_period(chrono::Duration::zero())
                    .with_enforce_retention_duration(false)
                    .with_dry_run(false)
                    .await?;
                Ok::<_, DeltaTableError>((t, dm))
            }
            .await
            .map_err(delta(kind))?;
            s.files_removed += dm.num_removed_files as u64;
            s.rows_deleted += dm.num_deleted_rows.unwrap_or(0) as u64;
            self.tables.insert(kind, t);
        }
        Ok(s)
    }
}

/// The data root and its tables, for blocking code (the pipeline threads of `hitstream`,
/// the CLI commands): it owns a small Tokio runtime and runs each [`AsyncLake`] operation
/// to completion on it.
///
/// Its methods block, and panic when called from async code (inside a Tokio runtime);
/// there, use [`AsyncLake`].
pub struct Lake {
    inner: AsyncLake,
    rt: Runtime,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("root", &self.inner.root.as_str())
            .finish()
    }
}

impl Lake {
    /// Opens the lake at a directory or a `file://` URL (created if needed), or at an
    /// `s3://` or `az://` (`abfs(s)://`) URL configured from the `AWS_*` or `AZURE_*`
    /// environment variables. Tables are opened (or created) when first used.
    pub fn open(location: &str) -> Result<Lake, LakeError> {
        let inner = AsyncLake::at(location)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::thread::available_parallelism()
                    .map_or(2, |n| n.get())
                    .min(4),
            )
            .enable_all()
            .build()?;
        Ok(Lake { inner, rt })
    }

    /// The data root as a URL.
    pub fn root(&self) -> &Url {
        self.inner.root()
    }

    /// Whether the table exists (has at least its creating commit).
    pub fn exists(&mut self, kind: TableKind) -> Result<bool, LakeError> {
        self.rt.block_on(self.inner.exists(kind))
    }

    /// Creates every table that does not exist yet, so that queries find them all (empty
    /// ones included).
    pub fn create_tables(&mut self) -> Result<(), LakeError> {
        self.rt.block_on(self.inner.create_tables())
    }

    /// The last version committed to `kind` under application id `app`, as the table says
    /// now (another process may have committed since this lake was opened).
    pub fn committed(&mut self, kind: TableKind, app: &str) -> Result<Option<i64>, LakeError> {
        self.rt.block_on(self.inner.committed(kind, app))
    }

    /// Appends `batches` to `kind` as version `version` of application `app`, unless the
    /// table already holds that version or a later one. Returns whether it committed.
    /// Empty input commits nothing (and returns `false`).
    pub fn commit(
        &mut self,
        kind: TableKind,
        app: &str,
        version: i64,
        batches: Vec<RecordBatch>,
    ) -> Result<bool, LakeError> {
        self.rt
            .block_on(self.inner.commit(kind, app, version, batches))
    }

    /// [`AsyncLake::commit_parts`]: a commit with the positions of shared parts.
    pub fn commit_parts(
        &mut self,
        kind: TableKind,
        app: &str,
        version: i64,
        batches: Vec<RecordBatch>,
        parts: &[SharedPart],
        info: serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool, LakeError> {
        self.rt.block_on(
            self.inner
                .commit_parts(kind, app, version, batches, parts, info),
        )
    }

    /// [`AsyncLake::stored_parts`]: the stored positions of shared parts.
    pub fn stored_parts(
        &mut self,
        kind: TableKind,
        keys: &[String],
    ) -> Result<Vec<SharedPart>, LakeError> {
        self.rt.block_on(self.inner.stored_parts(kind, keys))
    }

    /// Appends `batches` to `kind` with no application transaction (for rows that are
    /// events of their own, such as a report made on demand).
    pub fn append(&mut self, kind: TableKind, batches: Vec<RecordBatch>) -> Result<(), LakeError> {
        self.rt.block_on(self.inner.append(kind, batches))
    }

    /// Encodes large writes with `n` tasks at once (default 1: one file per day and commit).
    /// A pipeline that waits for its commits gains from this; one whose parsing goes on
    /// meanwhile does not.
    pub fn set_write_threads(&mut self, n: usize) {
        self.inner.set_write_threads(n);
    }

    /// A DataFusion session with every existing table registered under its name (run its
    /// queries with [`Lake::block_on`]).
    pub fn session(&mut self) -> Result<SessionContext, LakeError> {
        self.rt.block_on(self.inner.session())
    }

    /// Runs a query and collects its result.
    pub fn sql(&mut self, query: &str) -> Result<Vec<RecordBatch>, LakeError> {
        self.rt.block_on(self.inner.sql(query))
    }

    /// Runs a query and hands its result to `f` batch by batch (for results too big to
    /// collect).
    pub fn sql_each(
        &mut self,
        query: &str,
        f: impl FnMut(&RecordBatch) -> Result<(), LakeError>,
    ) -> Result<(), LakeError> {
        self.rt.block_on(self.inner.sql_each(query, f))
    }

    /// Number of data files of a table (after compaction and retention, what readers open).
    pub fn file_count(&mut self, kind: TableKind) -> Result<usize, LakeError> {
        self.rt.block_on(self.inner.file_count(kind))
    }

    /// Compacts small files of every table (Delta `OPTIMIZE`). Readers see the same rows;
    /// application transaction versions are kept.
    pub fn optimize(&mut self) -> Result<MaintainStats, LakeError> {
        self.rt.block_on(self.inner.optimize())
    }

    /// Retention: deletes the days before `first_kept_day` (`YYYY-MM-DD`) from the
    /// day-partitioned tables, then removes files no longer referenced (vacuum, without
    /// Delta's 7-day grace period: retention is the user's explicit choice).
    pub fn retain_from(&mut self, first_kept_day: &str) -> Result<MaintainStats, LakeError> {
        self.rt.block_on(self.inner.retain_from(first_kept_day))
    }

    /// Runs a future on the lake's runtime (for callers that use DataFusion directly).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// The view of the windows of every process that writes the lake, merged (see
/// [`register_merged_windows`]).
pub const MERGED_VIEW: &str = "windows_merged";

/// Registers [`MERGED_VIEW`]: the window results of the whole lake, as one process would
/// have made them, in the long form of `windows` (`window_start`, `window_end`, `metric`,
/// `key`, `value`).
///
/// Several `run` processes of a consumer group each window only the partitions they hold,
/// so `windows` holds partial results, one set per process. Partial top lists and
/// HyperLogLog estimates do not add up, but `requests` holds every line exactly once, so
/// the merged windows are computed from it: the lines are put in the windows that
/// `windows` shows (their size and alignment are read from its newest rows) and counted
/// there. Counts, statuses, methods and top lists are exact; unique clients are exact
/// (a single process estimates them); sizes and request times are quantiles of the lines.
/// Tumbling windows only: with sliding windows the view is not made. Lines that a run
/// counted late are in the view, in the window of their time.
pub async fn register_merged_windows(
    ctx: &SessionContext,
    shape: Option<WindowShape>,
) -> Result<(), LakeError> {
    let has = |t: &str| ctx.table_exist(t).unwrap_or(false);
    if !has("windows") || !has("requests") {
        return Ok(());
    }
    let (origin, size, top) = match shape {
        Some(w) if w.slide != 0 && w.slide != w.size => return Ok(()),
        Some(w) if w.size > 0 => (
            w.offset * 1_000_000,
            w.size as i64 * 1_000_000,
            Some(w.top as i64),
        ),
        _ => match window_rows_shape(ctx).await? {
            Some((origin, size)) => (origin, size, None),
            None => return Ok(()),
        },
    };
    register_view(ctx, origin, size, top).await
}

/// Window alignment and size (µs) from the newest rows of `windows`, for lakes whose
/// commits do not say: None without rows, or for sliding windows.
async fn window_rows_shape(ctx: &SessionContext) -> Result<Option<(i64, i64)>, LakeError> {
    let newest = ctx
        .sql(
            "SELECT CAST(window_start AS BIGINT) AS s, CAST(window_end AS BIGINT) AS e \
             FROM windows GROUP BY window_start, window_end ORDER BY window_start DESC LIMIT 2",
        )
        .await?
        .collect()
        .await?;
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for b in &newest {
        let s = b
            .column(0)
            .as_primitive::<deltalake::arrow::datatypes::Int64Type>();
        let e = b
            .column(1)
            .as_primitive::<deltalake::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            spans.push((s.value(i), e.value(i)));
        }
    }
    let Some(&(origin, end)) = spans.first() else {
        return Ok(None);
    };
    let size = end - origin;
    if size <= 0 || spans.get(1).is_some_and(|&(s, _)| origin - s < size) {
        return Ok(None);
    }
    Ok(Some((origin, size)))
}

async fn register_view(
    ctx: &SessionContext,
    origin: i64,
    size: i64,
    top: Option<i64>,
) -> Result<(), LakeError> {
    let top_n = match top {
        Some(n) => n.max(1),
        None => top_from_rows(ctx).await?,
    };
    register_view_inner(ctx, origin, size, top_n).await
}

/// The length of the top lists, from the longest top list in `windows`.
async fn top_from_rows(ctx: &SessionContext) -> Result<i64, LakeError> {
    let top = ctx
        .sql(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM windows WHERE metric = 'top_page' \
             GROUP BY window_start, revision)",
        )
        .await?
        .collect()
        .await?;
    Ok(top
        .first()
        .filter(|b| b.num_rows() > 0 && !b.column(0).is_null(0))
        .map_or(10, |b| {
            b.column(0)
                .as_primitive::<deltalake::arrow::datatypes::Int64Type>()
                .value(0)
        })
        .max(1))
}

async fn register_view_inner(
    ctx: &SessionContext,
    origin: i64,
    size: i64,
    top_n: i64,
) -> Result<(), LakeError> {
    let ts = |e: &str| format!("arrow_cast({e}, 'Timestamp(Microsecond, Some(\"UTC\"))')");
    let start = ts(&format!(
        "(CAST(time AS BIGINT) - ({origin})) / {size} * {size} + ({origin})"
    ));
    let w = format!(
        "window_start, {} AS window_end",
        ts(&format!("CAST(window_start AS BIGINT) + {size}"))
    );
    let null = "CAST(NULL AS VARCHAR)";
    let one = |metric: &str, key: &str, value: &str, filter: &str| {
        let group = if key == null {
            String::new()
        } else {
            format!(", {key}")
        };
        format!(
            "SELECT {w}, '{metric}' AS metric, {key} AS key, CAST({value} AS BIGINT) AS value \
             FROM r {filter} GROUP BY window_start{group}"
        )
    };
    let ranked = |metric: &str, key: &str, filter: &str| {
        format!(
            "SELECT {w}, '{metric}' AS metric, key, value FROM (SELECT window_start, {key} AS key, \
             count(*) AS value, row_number() OVER (PARTITION BY window_start ORDER BY count(*) \
             DESC, {key}) AS rank FROM r {filter} GROUP BY window_start, {key}) WHERE rank <= {top_n}"
        )
    };
    let quantiles = |prefix: &str, col: &str| {
        ["min", "p50", "p90", "p99", "max"]
            .iter()
            .map(|q| {
                let v = match *q {
                    "min" => format!("min({col})"),
                    "max" => format!("max({col})"),
                    p => format!("approx_percentile_cont({col}, 0.{})", &p[1..]),
                };
                one(
                    &format!("{prefix}_{q}"),
                    null,
                    &v,
                    &format!("WHERE {col} IS NOT NULL"),
                )
            })
            .collect::<Vec<_>>()
    };
    let page = "CASE WHEN path IS NULL OR path = '' THEN '/' ELSE path END";
    let class = "CASE WHEN status BETWEEN 100 AND 199 THEN '1xx' WHEN status BETWEEN 200 AND \
                 299 THEN '2xx' WHEN status BETWEEN 300 AND 399 THEN '3xx' WHEN status BETWEEN \
                 400 AND 499 THEN '4xx' WHEN status BETWEEN 500 AND 599 THEN '5xx' ELSE 'other' \
                 END";
    let mut parts = vec![
        one("requests", null, "count(*)", ""),
        one("bytes", null, "coalesce(sum(bytes), 0)", ""),
        one(
            "not_found",
            null,
            "sum(CASE WHEN status = 404 THEN 1 ELSE 0 END)",
            "",
        ),
        one(
            "server_errors",
            null,
            "sum(CASE WHEN status BETWEEN 500 AND 599 THEN 1 ELSE 0 END)",
            "",
        ),
        one(
            "unique_clients",
            null,
            "count(DISTINCT coalesce(client, '-'))",
            "",
        ),
        one(
            "status",
            "CAST(status AS VARCHAR)",
            "count(*)",
            "WHERE status IS NOT NULL",
        ),
        one("class", class, "count(*)", "WHERE status IS NOT NULL"),
        one("method", "coalesce(method, '-')", "count(*)", ""),
        ranked("top_page", page, "WHERE method IS NOT NULL"),
        ranked("top_client", "coalesce(client, '-')", ""),
    ];
    parts.extend(quantiles("size", "bytes"));
    parts.extend(quantiles("request_time_us", "request_time_us"));
    let sql = format!(
        "WITH r AS (SELECT {start} AS window_start, client, path, method, status, bytes, \
         request_time_us FROM requests WHERE time IS NOT NULL) {}",
        parts.join(" UNION ALL ")
    );
    let view = ctx.sql(&sql).await?.into_view();
    ctx.register_table(MERGED_VIEW, view)?;
    Ok(())
}

/// Parquet settings: dictionary encoding pays for columns with few distinct values (clients,
/// methods, agents, statuses); for nearly unique ones (the request line, URIs, query strings)
/// it only costs time, so they are written plain.
fn writer_properties(kind: TableKind) -> WriterProperties {
    let mut b = WriterProperties::builder().set_compression(Compression::SNAPPY);
    if kind == TableKind::Requests {
        for c in [
            "request",
            "uri",
            "query",
            "request_body",
            "x_forwarded_for",
            "extras",
            "offset",
        ] {
            b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
        }
        // Min/max statistics let readers skip files by time, day, status or client; on free
        // text nobody filters by range, and computing them compares every value.
        for c in [
            "ident",
            "user",
            "request",
            "uri",
            "path",
            "query",
            "protocol",
            "referer",
            "user_agent",
            "vhost",
            "host",
            "x_forwarded_for",
            "request_body",
            "upstream_time",
            "oddities",
            "extras",
        ] {
            b = b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
        }
    }
    b.build()
}

/// Adds the columns of `kind`'s schema that the table lacks (a lake written by an older
/// hitstream, before the lineage columns of `requests`), nullable and at the end of its
/// schema: the rows written before read them as null, Spark and the other Delta readers
/// alike. Only a write does this, so reading an old lake changes nothing.
async fn add_missing_columns(kind: TableKind, t: &mut DeltaTable) -> Result<(), DeltaTableError> {
    let want: StructType = kind.schema().as_ref().try_into_kernel()?;
    for attempt in 0..3 {
        let have = t.snapshot()?.schema();
        let missing: Vec<deltalake::kernel::StructField> = want
            .fields()
            .filter(|f| have.field(f.name()).is_none())
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        match t.clone().add_columns().with_fields(missing).await {
            Ok(evolved) => {
                *t = evolved;
                return Ok(());
            }
            // Another process sharing the lake added them first: look again.
            Err(_) if attempt < 2 => {
                t.update_state().await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `batches` to new Parquet files of `table` (not committed): their `add` actions.
async fn write_files(
    table: &DeltaTable,
    kind: TableKind,
    batches: Vec<RecordBatch>,
) -> Result<Vec<Add>, DeltaTableError> {
    let mut w =
        RecordBatchWriter::for_table(table)?.with_writer_properties(writer_properties(kind));
    for b in batches {
        match kind.partitions() {
            [] => w.write(b).await?,
            [col] => {
                for (values, part) in split_by(&b, col)? {
                    w.write_partition(part, &values, WriteMode::Default).await?;
                }
            }
            _ => unreachable!("tables have at most one partition column"),
        }
    }
    w.flush().await
}

/// Writes under this many rows stay in one task: splitting them only makes small files.
const MIN_SHARED_ROWS: usize = 64 * 1024;

/// `batches` in up to `n` runs of about equal rows, in order.
fn share_out(batches: Vec<RecordBatch>, n: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let n = if total < MIN_SHARED_ROWS { 1 } else { n.max(1) };
    let per = total.div_ceil(n);
    let mut out: Vec<Vec<RecordBatch>> = vec![Vec::new()];
    let mut rows = 0;
    for b in batches {
        if rows >= per && out.len() < n {
            out.push(Vec::new());
            rows = 0;
        }
        rows += b.num_rows();
        out.last_mut().expect("one group at least").push(b);
    }
    out
}

/// Delta's partition values of a file: column name → value.
type PartitionValues = IndexMap<String, Scalar>;

/// `batch` cut by the value of its text column `col`, with Delta's partition values for
/// each part. One value (the usual case) costs one pass over the column and no copy.
fn split_by(
    batch: &RecordBatch,
    col: &str,
) -> Result<Vec<(PartitionValues, RecordBatch)>, DeltaTableError> {
    let values = batch
        .column_by_name(col)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| DeltaTableError::generic(format!("partition column `{col}` is not text")))?;
    let part = |v: &str| IndexMap::from([(col.to_string(), Scalar::String(v.to_string()))]);
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let first = values.value(0);
    if values.iter().all(|v| v == Some(first)) {
        return Ok(vec![(part(first), batch.clone())]);
    }
    let distinct: BTreeSet<&str> = values.iter().flatten().collect();
    distinct
        .into_iter()
        .map(|v| {
            let mask: BooleanArray = values.iter().map(|x| Some(x == Some(v))).collect();
            let rows = filter_record_batch(batch, &mask)?;
            Ok((part(v), rows))
        })
        .collect()
}

fn is_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn dir_url(p: &Path) -> Result<Url, String> {
    std::fs::create_dir_all(p).map_err(|e| format!("cannot create it: {e}"))?;
    let abs = std::fs::canonicalize(p).map_err(|e| e.to_string())?;
    Url::from_directory_path(&abs).map_err(|_| "not an absolute path".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_writes_are_shared_out_in_order_and_small_ones_are_not() {
        use deltalake::arrow::array::Int32Array;
        use deltalake::arrow::datatypes::{DataType, Field, Schema};
        let schema =
            std::sync::Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false)]));
        let batch = |rows: usize| {
            let v: Int32Array = (0..rows as i32).collect();
            RecordBatch::try_new(schema.clone(), vec![std::sync::Arc::new(v)]).unwrap()
        };
        let rows = |g: &Vec<RecordBatch>| g.iter().map(|b| b.num_rows()).sum::<usize>();
        let groups = share_out((0..10).map(|_| batch(20_000)).collect(), 2);
        assert_eq!(
            groups.iter().map(rows).collect::<Vec<_>>(),
            [100_000, 100_000]
        );
        let groups = share_out((0..3).map(|_| batch(20_000)).collect(), 2);
        assert_eq!(groups.len(), 1, "under {MIN_SHARED_ROWS} rows: one file");
        let groups = share_out(vec![batch(200_000), batch(10)], 4);
        assert_eq!(groups.iter().map(rows).collect::<Vec<_>>(), [200_000, 10]);
        assert_eq!(share_out(Vec::new(), 2).len(), 1);
    }

    #[test]
    fn days_are_checked() {
        assert!(is_day("2024-01-31"));
        assert!(!is_day("2024-1-31"));
        assert!(!is_day("x' OR 1=1"));
    }

    #[test]
    fn unknown_schemes_are_refused_with_a_reason() {
        let e = Lake::open("ftp://h/x").unwrap_err().to_string();
        assert!(
            e.contains("ftp://h/x") && e.contains("unknown scheme"),
            "{e}"
        );
        let e = Lake::open("gs://b/x").unwrap_err().to_string();
        assert!(e.contains("gs://b/x") && e.contains("not built"), "{e}");
    }

    #[test]
    fn s3_urls_name_a_directory() {
        let l = Lake::open("s3://bucket/lake").unwrap();
        assert_eq!(l.root().as_str(), "s3://bucket/lake/");
        assert_eq!(
            l.inner.table_url(TableKind::Windows).as_str(),
            "s3://bucket/lake/windows/"
        );
    }
}
