//! The lake against real Delta tables on disk: idempotent commits, SQL, compaction and
//! retention, through the blocking `Lake` and the `AsyncLake`. (One test binary: every one
//! links DataFusion.)

use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_lake::{AsyncLake, Lake, RequestRows, TableKind};

fn rows(days: &[u32], per_day: usize) -> hitstream_lake::arrow::array::RecordBatch {
    let p = Parser::new(FormatSpec::from_str_any("common").unwrap());
    let mut rows = RequestRows::new();
    for d in days {
        for i in 0..per_day {
            let line = format!(
                "10.0.0.{} - - [{d:02}/Jul/1995:12:00:{:02} -0400] \"GET /p{} HTTP/1.0\" 200 {i}",
                i % 7,
                i % 60,
                i % 3
            );
            let mut rec = Record::new();
            assert!(p.parse(line.as_bytes(), &mut rec).is_usable());
            rows.push(&rec, &[], "t.log", Some(i as u64));
        }
    }
    rows.finish()
}

fn count(lake: &mut Lake, q: &str) -> i64 {
    first_count(&lake.sql(q).unwrap())
}

fn first_count(b: &[hitstream_lake::arrow::array::RecordBatch]) -> i64 {
    use hitstream_lake::arrow::array::AsArray;
    use hitstream_lake::arrow::datatypes::Int64Type;
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn commits_are_idempotent_per_app_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(lake.committed(TableKind::Requests, "app").unwrap(), None);
    assert!(lake
        .commit(TableKind::Requests, "app", 1, vec![rows(&[1], 10)])
        .unwrap());
    assert!(lake
        .commit(TableKind::Requests, "app", 2, vec![rows(&[2], 10)])
        .unwrap());
    // A replayed or stale version is skipped: delta-rs alone would append it again.
    assert!(!lake
        .commit(TableKind::Requests, "app", 2, vec![rows(&[2], 10)])
        .unwrap());
    assert!(!lake
        .commit(TableKind::Requests, "app", 1, vec![rows(&[1], 10)])
        .unwrap());
    assert_eq!(lake.committed(TableKind::Requests, "app").unwrap(), Some(2));
    // Another application has its own versions; empty input commits nothing.
    assert!(lake
        .commit(TableKind::Requests, "other", 1, vec![rows(&[3], 5)])
        .unwrap());
    assert!(!lake.commit(TableKind::Requests, "app", 3, vec![]).unwrap());
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 25);

    // A second handle (another process) sees the same versions.
    let mut again = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(
        again.committed(TableKind::Requests, "app").unwrap(),
        Some(2)
    );
}

#[test]
fn day_partitions_compaction_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    lake.create_tables().unwrap();
    for v in 1..=4 {
        lake.commit(TableKind::Requests, "app", v, vec![rows(&[1, 2, 3], 20)])
            .unwrap();
    }
    assert_eq!(lake.file_count(TableKind::Requests).unwrap(), 12);
    assert_eq!(
        count(
            &mut lake,
            "SELECT count(*) FROM requests WHERE day = '1995-07-02'"
        ),
        80
    );
    // Batches spanning days are cut by day: every row sits in the partition of its day.
    assert_eq!(
        count(
            &mut lake,
            "SELECT count(*) FROM requests WHERE CAST(time AS DATE) <> CAST(day AS DATE)"
        ),
        0
    );
    let s = lake.optimize().unwrap();
    assert_eq!(s.files_removed, 12);
    assert_eq!(lake.file_count(TableKind::Requests).unwrap(), 3);
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 240);
    // Compaction keeps the application's version.
    assert_eq!(lake.committed(TableKind::Requests, "app").unwrap(), Some(4));

    let s = lake.retain_from("1995-07-03").unwrap();
    assert_eq!(s.rows_deleted, 160);
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 80);
    let parquet = walk(dir.path().join("requests").as_path());
    assert_eq!(parquet, 1, "vacuum removed the files of the deleted days");
    assert!(lake.retain_from("1995-7-3").is_err());
    // Empty tables answer queries.
    assert_eq!(count(&mut lake, "SELECT count(*) FROM alerts"), 0);
}

fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "parquet"))
            }
        })
        .sum()
}

#[test]
fn a_large_write_is_encoded_by_several_tasks_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    lake.set_write_threads(2);
    let batch = rows(&[1, 2], 5000);
    let batches: Vec<_> = (0..10).map(|_| batch.clone()).collect();
    assert!(lake
        .commit(TableKind::Requests, "app", 1, batches.clone())
        .unwrap());
    assert!(!lake.commit(TableKind::Requests, "app", 1, batches).unwrap());
    assert_eq!(lake.committed(TableKind::Requests, "app").unwrap(), Some(1));
    // Two tasks, each writing both days: four files, in the table's first data version.
    assert_eq!(lake.file_count(TableKind::Requests).unwrap(), 4);
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 100_000);
    assert_eq!(
        count(
            &mut lake,
            "SELECT count(*) FROM requests WHERE day = '1995-07-02'"
        ),
        50_000
    );
    let log = dir.path().join("requests/_delta_log");
    assert!(log.join("00000000000000000001.json").exists());
    assert!(!log.join("00000000000000000002.json").exists());
}

/// Everything an HTTP handler would do, inside a multi-threaded runtime and in a spawned
/// task (so the futures are `Send`, as axum requires): no nested runtime, no panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_lake_works_inside_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut lake = AsyncLake::open(&root).await.unwrap();
        assert!(!lake.exists(TableKind::Requests).await.unwrap());
        lake.create_tables().await.unwrap();
        assert!(lake.exists(TableKind::Requests).await.unwrap());
        assert_eq!(
            lake.committed(TableKind::Requests, "app").await.unwrap(),
            None
        );
        assert!(lake
            .commit(TableKind::Requests, "app", 1, vec![rows(&[1, 2], 10)])
            .await
            .unwrap());
        assert!(!lake
            .commit(TableKind::Requests, "app", 1, vec![rows(&[1, 2], 10)])
            .await
            .unwrap());
        assert_eq!(
            lake.committed(TableKind::Requests, "app").await.unwrap(),
            Some(1)
        );
        let b = lake.sql("SELECT count(*) FROM requests").await.unwrap();
        assert_eq!(first_count(&b), 20);
        let mut n = 0;
        lake.sql_each("SELECT * FROM requests", |b| {
            n += b.num_rows();
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(n, 20);
        assert_eq!(lake.file_count(TableKind::Requests).await.unwrap(), 2);
        lake
    });
    let mut lake = task.await.unwrap();

    // A streamed result outlives the session it came from.
    use futures_util::StreamExt;
    let stream = lake
        .sql_stream("SELECT day FROM requests WHERE day = '1995-07-02'")
        .await
        .unwrap();
    let batches: Vec<_> = stream.collect().await;
    let n: usize = batches.into_iter().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, 10);

    // Upkeep, and a clone as a second handle.
    lake.commit(TableKind::Requests, "app", 2, vec![rows(&[1, 2], 10)])
        .await
        .unwrap();
    let s = lake.optimize().await.unwrap();
    assert_eq!(s.files_removed, 4);
    let mut other = lake.clone();
    let s = other.retain_from("1995-07-02").await.unwrap();
    assert_eq!(s.rows_deleted, 20);
    let b = lake.sql("SELECT count(*) FROM requests").await.unwrap();
    assert_eq!(first_count(&b), 20);
    lake.append(TableKind::Requests, vec![rows(&[3], 5)])
        .await
        .unwrap();
    assert_eq!(
        lake.committed(TableKind::Requests, "app").await.unwrap(),
        Some(2)
    );

    // The blocking lake from async code: on the blocking pool, where it may block (and drop
    // its runtime).
    let root = dir.path().to_str().unwrap().to_string();
    let n = tokio::task::spawn_blocking(move || {
        let mut lake = Lake::open(&root).unwrap();
        count(&mut lake, "SELECT count(*) FROM requests")
    })
    .await
    .unwrap();
    assert_eq!(n, 25);
}

/// Parquet encoding runs on the blocking pool, driven by a handle of the runtime: on a
/// current-thread runtime it still works (the runtime's thread drives the I/O meanwhile) and
/// leaves that thread free for other tasks.
#[tokio::test]
async fn the_async_lake_works_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = AsyncLake::open(dir.path().to_str().unwrap()).await.unwrap();
    lake.set_write_threads(2);
    let batch = rows(&[1, 2], 5000);
    let batches: Vec<_> = (0..10).map(|_| batch.clone()).collect();
    // A task sharing the runtime's one thread keeps running while the write encodes.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = tokio::spawn({
        let done = done.clone();
        async move {
            let mut last = std::time::Instant::now();
            let mut longest = std::time::Duration::ZERO;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::task::yield_now().await;
                longest = longest.max(last.elapsed());
                last = std::time::Instant::now();
            }
            longest
        }
    });
    tokio::task::yield_now().await;
    let start = std::time::Instant::now();
    assert!(lake
        .commit(TableKind::Requests, "app", 7, batches)
        .await
        .unwrap());
    let took = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let longest = ticker.await.unwrap();
    // Encoded on the runtime's thread (as `tokio::spawn` would), the write stalled the other
    // task for nearly all of it (1.1 s of 1.3 s); on the blocking pool, for some 50 ms.
    assert!(
        longest * 2 < took,
        "the runtime's thread was held for {longest:?} of the {took:?} commit"
    );
    assert_eq!(lake.file_count(TableKind::Requests).await.unwrap(), 4);
    let b = lake.sql("SELECT count(*) FROM requests").await.unwrap();
    assert_eq!(first_count(&b), 100_000);
}

#[test]
fn the_blocking_lake_reads_what_the_async_lake_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut lake = AsyncLake::open(root).await.unwrap();
        lake.commit(TableKind::Requests, "app", 3, vec![rows(&[4], 8)])
            .await
            .unwrap();
    });
    drop(rt);
    let mut lake = Lake::open(root).unwrap();
    assert_eq!(lake.committed(TableKind::Requests, "app").unwrap(), Some(3));
    assert!(!lake
        .commit(TableKind::Requests, "app", 3, vec![rows(&[4], 8)])
        .unwrap());
    assert!(lake
        .commit(TableKind::Requests, "app", 4, vec![rows(&[5], 2)])
        .unwrap());
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 10);
    let mut n = 0;
    lake.sql_each("SELECT * FROM requests", |b| {
        n += b.num_rows();
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 10);
}

#[test]
fn shared_part_positions_go_with_the_rows_and_are_read_back() {
    use hitstream_runtime::SharedPart;
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let part = |p: i32, next: i64, hwm: u64| SharedPart {
        key: format!("kafka/t/{p}"),
        next,
        state: Some(serde_json::json!({ "seen": { "h:f": hwm } })),
        after: None,
    };
    let info = serde_json::Map::new;
    // Two processes of a group commit under their own ids, each with its partitions.
    assert!(lake
        .commit_parts(
            TableKind::Requests,
            "a",
            1,
            vec![rows(&[1], 10)],
            &[part(0, 10, 100), part(1, 5, 50)],
            info()
        )
        .unwrap());
    assert!(lake
        .commit_parts(
            TableKind::Requests,
            "b",
            1,
            vec![rows(&[2], 10)],
            &[part(2, 7, 70)],
            info()
        )
        .unwrap());
    // A partition that moved: its next owner stores further; no rows but a position moves too
    // (lines that stored nothing, such as ones dropped as sent twice).
    assert!(lake
        .commit_parts(
            TableKind::Requests,
            "b",
            2,
            vec![],
            &[SharedPart {
                after: Some(10),
                ..part(0, 12, 120)
            }],
            info()
        )
        .unwrap());
    // A repeat of a held version stores nothing, positions included.
    assert!(!lake
        .commit_parts(
            TableKind::Requests,
            "a",
            1,
            vec![rows(&[1], 10)],
            &[part(0, 99, 1)],
            info()
        )
        .unwrap());
    let keys: Vec<String> = (0..4).map(|p| format!("kafka/t/{p}")).collect();
    let mut got = lake.stored_parts(TableKind::Requests, &keys).unwrap();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, vec![part(0, 12, 120), part(1, 5, 50), part(2, 7, 70)]);
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 20);
}

#[test]
fn a_commit_going_on_from_a_position_another_process_moved_is_refused() {
    use hitstream_runtime::SharedPart;
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    // Process `app` commits its epoch `v` (10 rows of day `day`), storing partition 0 up
    // to `next`, going on from the stored position `after`.
    let mut commit = |app: &str, v: i64, day: u32, next: i64, after: Option<i64>| {
        let part = SharedPart {
            key: "kafka/t/0".into(),
            next,
            state: None,
            after,
        };
        let r = lake.commit_parts(
            TableKind::Requests,
            app,
            v,
            vec![rows(&[day], 10)],
            &[part],
            serde_json::Map::new(),
        );
        let n = count(&mut lake, "SELECT count(*) FROM requests");
        (r, n)
    };
    // `a` stores partition 0 up to 10; `b` takes it over from 10 and stores up to 20.
    assert!(commit("a", 1, 1, 10, None).0.unwrap());
    assert!(commit("b", 1, 2, 20, Some(10)).0.unwrap());
    // `a` repeats an epoch that went on from 10 (killed while committing it, or it had
    // stopped answering while `b` took over): the same lines would be stored twice.
    let (r, n) = commit("a", 2, 3, 20, Some(10));
    let e = r.unwrap_err();
    assert!(
        matches!(e, hitstream_lake::LakeError::PartMoved { stored: 20, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("kafka/t/0"), "{e}");
    assert_eq!(n, 20);
    // A process that knew of no stored position is refused as well.
    let (r, n) = commit("c", 1, 4, 30, None);
    assert!(r.is_err());
    assert_eq!(n, 20);
    // Going on from where the stored rows end commits.
    let (r, n) = commit("a", 2, 3, 30, Some(20));
    assert!(r.unwrap());
    assert_eq!(n, 30);
}

#[test]
fn the_merged_view_counts_every_window_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().to_str().unwrap();
    // Rows of two days, 10 and 20 a day, all in the minute 12:00 local, committed by two
    // processes whose commits say the windows their run makes.
    let mut lake = Lake::open(loc).unwrap();
    lake.create_tables().unwrap();
    let mut info = serde_json::Map::new();
    info.insert(
        "hitstreamWindow".into(),
        serde_json::json!({ "size": 60, "slide": 0, "offset": 0, "top": 2 }),
    );
    assert!(lake
        .commit_parts(
            TableKind::Requests,
            "a",
            1,
            vec![rows(&[1], 10)],
            &[],
            info.clone()
        )
        .unwrap());
    assert!(lake
        .commit_parts(TableKind::Requests, "b", 1, vec![rows(&[2], 20)], &[], info)
        .unwrap());
    let n = |q: &str, lake: &mut Lake| count(lake, q);
    assert_eq!(
        n(
            "SELECT count(DISTINCT window_start) FROM windows_merged",
            &mut lake
        ),
        2
    );
    assert_eq!(
        n(
            "SELECT sum(value) FROM windows_merged WHERE metric = 'requests'",
            &mut lake
        ),
        30
    );
    // Top lists as long as the run's, by count then key: /p0 and /p1 of the 20 rows.
    assert_eq!(
        n(
            "SELECT count(*) FROM windows_merged WHERE metric = 'top_page'",
            &mut lake
        ),
        4
    );
    assert_eq!(
        n(
            "SELECT count(*) FROM windows_merged WHERE metric = 'top_page' AND key IN ('/p0', \
             '/p1') AND window_start = (SELECT max(window_start) FROM windows_merged)",
            &mut lake
        ),
        2
    );
}

/// A lake written before the lineage columns of `requests` existed: a write adds them
/// (nullable, at the end), the old rows read them as null, and the new rows have them.
#[test]
fn a_lake_written_before_the_lineage_columns_takes_them_at_its_next_write() {
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    use deltalake::kernel::StructType;
    use hitstream_lake::{KafkaLineage, LINEAGE_COLUMNS};

    let dir = tempfile::tempdir().unwrap();
    let new = rows(&[1], 10);
    let old_cols = new.num_columns() - LINEAGE_COLUMNS.len();
    let old = new.project(&(0..old_cols).collect::<Vec<_>>()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(dir.path().join("requests")).unwrap();
        let url = url::Url::from_directory_path(dir.path().join("requests")).unwrap();
        let st: StructType = old.schema().as_ref().try_into_kernel().unwrap();
        let mut t = deltalake::DeltaTable::try_from_url(url)
            .await
            .unwrap()
            .create()
            .with_table_name("requests")
            .with_columns(st.fields().cloned())
            .with_partition_columns(["day"])
            .await
            .unwrap();
        let mut w = deltalake::writer::RecordBatchWriter::for_table(&t).unwrap();
        deltalake::writer::DeltaWriter::write(&mut w, old)
            .await
            .unwrap();
        deltalake::writer::DeltaWriter::flush_and_commit(&mut w, &mut t)
            .await
            .unwrap();
    });
    drop(rt);

    let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 10);
    // Rows of `run --kafka`: with their lineage.
    let p = Parser::new(FormatSpec::from_str_any("common").unwrap());
    let mut kafka = RequestRows::new();
    for i in 0..5u32 {
        let line = format!("10.0.0.1 - - [01/Jul/1995:12:00:0{i} -0400] \"GET / HTTP/1.0\" 200 1");
        let mut rec = Record::new();
        assert!(p.parse(line.as_bytes(), &mut rec).is_usable());
        let from = KafkaLineage {
            topic: "t",
            partition: 1,
            offset: 40 + i64::from(i),
            line: 0,
            origin: Some(("h:0123456789abcdef", u64::from(i) * 70)),
        };
        kafka.push_from(&rec, &[], "kafka:t", None, Some(from));
    }
    assert!(lake
        .commit(
            TableKind::Requests,
            "app",
            1,
            vec![kafka.finish(), rows(&[2], 3)]
        )
        .unwrap());
    assert_eq!(count(&mut lake, "SELECT count(*) FROM requests"), 18);
    assert_eq!(
        count(
            &mut lake,
            "SELECT count(*) FROM requests WHERE kafka_offset IS NULL"
        ),
        13
    );
    assert_eq!(
        count(
            &mut lake,
            "SELECT count(DISTINCT (kafka_partition, kafka_offset, kafka_line)) FROM requests \
             WHERE kafka_topic = 't' AND origin = 'h:0123456789abcdef'"
        ),
        5
    );
    // Another handle (a process started later) reads the evolved table the same way.
    let mut again = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(
        count(&mut again, "SELECT sum(origin_offset) FROM requests"),
        700
    );
}
