//! The lake against real Delta tables on disk: idempotent commits, SQL, compaction and
//! retention. (One test binary: every one links DataFusion.)

use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_lake::{Lake, RequestRows, TableKind};

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
    use hitstream_lake::arrow::array::AsArray;
    use hitstream_lake::arrow::datatypes::Int64Type;
    let b = lake.sql(q).unwrap();
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
