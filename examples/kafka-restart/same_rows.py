"""Whether the lake's `requests` rows are the log file's lines one for one: the multiset of
(client, time, status) from the file, read here with a regular expression, equals the
lake's. (Requests are left out: odd request lines are split in more than one reasonable way.) Prints `ok`, or what is missing and what is extra."""
import collections, csv, datetime, io, re, subprocess, sys

log, lake = sys.argv[1], sys.argv[2]
clf = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(.*)" (\d{3}) \S+\s*$')
want = collections.Counter()
with open(log, encoding="latin-1") as f:
    for line in f:
        m = clf.match(line)
        if not m:
            continue
        client, t, _request, status = m.groups()
        ts = datetime.datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").astimezone(datetime.timezone.utc)
        want[(client, ts.strftime("%Y-%m-%dT%H:%M:%SZ"), status)] += 1
out = subprocess.run(
    ["hitstream", "sql", "--data", lake, "-o", "csv",
     "SELECT client, time, status FROM requests"],
    capture_output=True, text=True, check=True, encoding="utf-8", errors="replace").stdout
# hitstream's CSV puts a `'` before a text cell that a spreadsheet would take for a formula
# (`@.scimaging.com` in the NASA log); the log has none that begin with `'`.
def cell(c):
    return c[1:] if len(c) > 1 and c[0] == "'" and c[1] in "=+-@\t\r" else c
got = collections.Counter(tuple(cell(c) for c in r) for r in list(csv.reader(io.StringIO(out)))[1:])
missing, extra = want - got, got - want
if not missing and not extra:
    print("ok")
else:
    print(f"{sum(missing.values())} missing, {sum(extra.values())} extra; "
          f"missing e.g. {list(missing.items())[:2]}, extra e.g. {list(extra.items())[:2]}")
