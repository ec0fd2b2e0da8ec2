"""Reads a hitstream lake with two Delta implementations that share no code with it:
PyPI `deltalake` (delta-rs, a newer release) and DuckDB's `delta` extension (delta-kernel-rs).
Prints one JSON object; crates/cli/tests/lake.rs compares it with counts of the log itself.

usage: python3 scripts/interop_check.py LAKE_DIR
"""
import json
import pathlib
import sys

import deltalake
import duckdb
import duckdb_extension_delta

lake = pathlib.Path(sys.argv[1]).resolve()
out = {}

# delta-rs (Python)
req = deltalake.DeltaTable(str(lake / "requests"))
t = req.to_pyarrow_dataset().to_table(columns=["day"])
per_day = {}
for d in t.column("day").to_pylist():
    per_day[d] = per_day.get(d, 0) + 1
win = deltalake.DeltaTable(str(lake / "windows")).to_pyarrow_dataset()
import pyarrow.compute as pc  # noqa: E402

w = win.to_table(columns=["metric", "value"], filter=pc.field("metric") == "requests")
out["deltalake"] = {
    "version": deltalake.__version__,
    "partition_columns": req.metadata().partition_columns,
    "requests_per_day": per_day,
    "window_requests": pc.sum(w.column("value")).as_py(),
    "run_epoch": req.transaction_version("hitstream-run"),
    "files_one_day": len(req.file_uris(partition_filters=[("day", "=", "1995-07-02")])),
}

# DuckDB with its own Delta reader
ext = next(pathlib.Path(duckdb_extension_delta.__file__).parent.glob("extensions/*/delta.duckdb_extension"))
con = duckdb.connect()
con.execute(f"LOAD '{ext}'")
rows = con.sql(f"SELECT day, count(*) FROM delta_scan('{lake / 'requests'}') GROUP BY day").fetchall()
(wsum,) = con.sql(
    f"SELECT sum(value) FROM delta_scan('{lake / 'windows'}') WHERE metric = 'requests'"
).fetchone()
plan = con.sql(
    f"EXPLAIN ANALYZE SELECT count(*) FROM delta_scan('{lake / 'requests'}') WHERE day = '1995-07-02'"
).fetchall()[0][1]
files = None
for line in plan.splitlines():
    if "Scanning Files" in line:
        # "Scanning Files: 1/4"
        files = int(line.split(":")[1].strip().split("/")[0].strip(" │"))
out["duckdb"] = {
    "version": duckdb.__version__,
    "requests_per_day": {d: n for d, n in rows},
    "window_requests": int(wsum),
    "files_one_day": files,
}
print(json.dumps(out))
