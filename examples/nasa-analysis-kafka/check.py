"""The checks of examples/nasa-analysis-kafka: the NASA analysis set counted here from the
log itself (python, not hitstream), compared with the tables that `report range --tables`
stored and with the HTML page that `report range --output html` wrote.

Usage: check.py LOG HITSTREAM LAKE REPORT_NAME HTML TOP
Prints one line per check: `NAME ok` or `NAME <what differs>`, and `NAME.value <text>` lines
with the numbers for the reader.
"""
import collections
import datetime
import gzip
import html.parser
import json
import re
import subprocess
import sys

log, hitstream, lake, report, page, top = sys.argv[1:7]
top = int(top)

# Common Log Format as the NASA traces write it: host ident user [time] "request" status bytes
CLF = re.compile(rb'^(\S+) \S+ \S+ \[(\d\d)/(\w{3})/(\d{4}):(\d\d):\d\d:\d\d ([+-]\d{4})\] "(.*)" (\d{3}) (\S+)$')
MONTHS = {m: i for i, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
METHOD = re.compile(rb"^[A-Z_-]{1,24}$")


def endpoint(req):
    """The path of a request line without its query string; None without a method. An
    absolute URI (`GET http://host/x`) asks for its path; an empty path is `/`."""
    method, sep, rest = req.partition(b" ")
    if not sep or not METHOD.match(method):
        return None
    target = rest.strip(b" ")
    head, sep, last = target.rpartition(b" ")
    if sep and last.startswith(b"HTTP/"):
        target = head.rstrip(b" ")
    low = target.lower()
    for scheme in (b"http://", b"https://"):
        if low.startswith(scheme):
            rest = target[len(scheme):]
            cut = min([i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i >= 0] or [len(rest)])
            target = rest[cut:]
            break
    path = target.split(b"?", 1)[0]
    return path or b"/"


parsed = 0
sizes = []
status = collections.Counter()
hosts = collections.Counter()
endpoints = collections.Counter()
errors = collections.Counter()
non_200 = collections.Counter()
nf_endpoints = collections.Counter()
nf_hosts = collections.Counter()
day_requests = collections.Counter()
day_hosts = collections.defaultdict(set)
opener = gzip.open if log.endswith(".gz") else open
with opener(log, "rb") as f:
    for line in f:
        m = CLF.match(line.rstrip(b"\n"))
        if not m:
            continue
        parsed += 1
        host, d, mon, y, hh, off, req, st, size = m.groups()
        st = int(st)
        # Days are UTC days, as hitstream's reports, windows and dashboard count them.
        sign = -1 if off.startswith(b"-") else 1
        shift = datetime.timedelta(hours=int(off[1:3]), minutes=int(off[3:5])) * sign
        day = (datetime.datetime(int(y), MONTHS[mon], int(d), int(hh)) - shift).strftime("%Y-%m-%d")
        status[st] += 1
        hosts[host] += 1
        day_requests[day] += 1
        day_hosts[day].add(host)
        if size != b"-":
            sizes.append(int(size))
        ep = endpoint(req)
        if ep is not None:
            endpoints[ep] += 1
            if 400 <= st <= 599:
                errors[ep] += 1
            if st != 200:
                non_200[ep] += 1
            if st == 404:
                nf_endpoints[ep] += 1
        if st == 404:
            nf_hosts[host] += 1


def ranked(counter):
    """The top N as analyze ranks them: by count, ties by key (bytes)."""
    return [(k.decode("latin-1"), n) for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def sql(q):
    out = subprocess.run([hitstream, "sql", "--data", lake, "-o", "json", q],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def rows(cols, table, order):
    return [tuple(r[c] for c in cols) for r in sql(
        "SELECT %s FROM %s WHERE report = '%s' ORDER BY %s" % (", ".join(cols), table, report, order))]


def verdict(name, want, got):
    print(name, "ok" if want == got else "expected %s, got %s" % (want, got))


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


days = sorted(day_requests)
want_size = (min(sizes), sum(sizes) / len(sizes), max(sizes)) if sizes else (0, 0.0, 0)
want_status = sorted(status.items())
want_daily = [(d, len(day_hosts[d])) for d in days]
want_avg = [(d, day_requests[d] / len(day_hosts[d])) for d in days]
nf_count = status.get(404, 0)

print("rows.value", parsed)
got = sql("SELECT min, mean, max FROM analysis_content_size WHERE report = '%s'" % report)
got_size = (got[0]["min"], got[0]["mean"], got[0]["max"]) if got else None
print("content_size", "ok" if got_size and got_size[0] == want_size[0] and got_size[2] == want_size[2]
      and close(got_size[1], want_size[1]) else "expected %s, got %s" % (want_size, got_size))
print("content_size.value min %d, mean %.2f, max %d bytes (%d with a size, %d without)"
      % (want_size[0], want_size[1], want_size[2], len(sizes), parsed - len(sizes)))
verdict("status", want_status, rows(["status", "count"], "analysis_status", "status"))
verdict("top_hosts", ranked(hosts), rows(["host", "requests"], "analysis_hosts", "rank"))
verdict("top_endpoints", ranked(endpoints), rows(["endpoint", "requests"], "analysis_endpoints", "rank"))
verdict("top_error_endpoints", (ranked(errors), ranked(non_200)),
        (rows(["endpoint", "errors"], "analysis_error_endpoints", "rank"),
         rows(["endpoint", "non_200"], "analysis_non_200_endpoints", "rank")))
verdict("unique_hosts", [(len(hosts),)], rows(["unique_hosts"], "analysis_reports", "report"))
print("unique_hosts.value", len(hosts))
verdict("daily_hosts", want_daily, rows(["day", "unique_hosts"], "analysis_daily", "day"))
got_avg = rows(["day", "avg_requests_per_host"], "analysis_daily", "day")
print("avg_daily_requests", "ok" if len(got_avg) == len(want_avg) and all(
    g[0] == w[0] and close(g[1], w[1]) for g, w in zip(got_avg, want_avg))
    else "expected %s, got %s" % (want_avg, got_avg))
print("avg_daily_requests.value", ", ".join("%s %.2f" % a for a in want_avg))
got_nf = (rows(["not_found"], "analysis_reports", "report"),
          rows(["endpoint", "count"], "analysis_404_endpoints", "rank"),
          rows(["host", "count"], "analysis_404_hosts", "rank"))
verdict("not_found", ([(nf_count,)], ranked(nf_endpoints), ranked(nf_hosts)), got_nf)
print("not_found.value %d, the most: %s" % (nf_count, ranked(nf_endpoints)[:1]))


# The HTML page: each card's tables as rows of cell texts.
class Cards(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards = collections.defaultdict(list)
        self.title = None
        self.text = []
        self.in_h3 = False
        self.row = None
        self.cell = None
        self.leads = []
        self.in_lead = False

    def handle_starttag(self, tag, attrs):
        if tag == "h3":
            self.in_h3, self.title = True, ""
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""
        elif tag == "p" and ("class", "lead") in attrs:
            self.in_lead = True
            self.leads.append("")

    def handle_endtag(self, tag):
        if tag == "h3":
            self.in_h3 = False
        elif tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.cards[self.title].append(tuple(self.row))
            self.row = None
        elif tag == "p":
            self.in_lead = False

    def handle_data(self, data):
        if self.in_h3:
            self.title += data
        if self.cell is not None:
            self.cell += data
        if self.in_lead:
            self.leads[-1] += data


def thousands(n):
    return "{:,}".format(n)


def human_bytes(b):
    if b < 1024:
        return "%d B" % b
    v, i, units = float(b), 0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    while v >= 1024 and i < len(units) - 1:
        v /= 1024
        i += 1
    return ("%.2f %s" if v < 10 else "%.1f %s" if v < 100 else "%.0f %s") % (v, units[i])


def human_bytes_f(x):
    return "%.1f B" % x if x < 1024 else human_bytes(int(round(x)))


def avg(x):
    return "%.1f" % x if abs(x) < 100 else thousands(int(round(x)))


doc = Cards()
doc.feed(open(page, encoding="utf-8").read())
cards = doc.cards
missing = []


def shows(card, *cells):
    """The card has a row that starts with these cells."""
    if not any(r[:len(cells)] == cells for r in cards.get(card, [])):
        missing.append("%s: %s" % (card, " | ".join(cells)))


sizes_card = dict(r for r in cards.get("Response size", []) if len(r) == 2)
for label, want in (("Min", human_bytes(want_size[0])), ("Mean", human_bytes_f(want_size[1])),
                    ("Max", human_bytes(want_size[2]))):
    if sizes_card.get(label) != want:
        missing.append("Response size: %s %s (shows %s)" % (label, want, sizes_card.get(label)))
for st, n in want_status:
    shows("Status codes", str(st), thousands(n))
for i, (h, n) in enumerate(ranked(hosts), 1):
    shows("Top clients", str(i), h, thousands(n))
for i, (e, n) in enumerate(ranked(endpoints), 1):
    shows("Top endpoints", str(i), e, thousands(n))
for i, (e, n) in enumerate(ranked(errors), 1):
    shows("Top error endpoints (4xx and 5xx)", str(i), e, thousands(n))
for i, (e, n) in enumerate(ranked(non_200), 1):
    shows("Top non-200 endpoints (any status other than 200, 3xx included)", str(i), e, thousands(n))
for d in days:
    shows("Daily (UTC)", d, thousands(day_requests[d]))
    row = [r for r in cards.get("Daily (UTC)", []) if r[:1] == (d,)]
    if not row or row[0][3:5] != (thousands(len(day_hosts[d])), avg(day_requests[d] / len(day_hosts[d]))):
        missing.append("Daily (UTC): %s unique clients %s, %s req/client" % (
            d, thousands(len(day_hosts[d])), avg(day_requests[d] / len(day_hosts[d]))))
for e, n in ranked(nf_endpoints):
    shows("Endpoints most often not found", e, thousands(n))
for h, n in ranked(nf_hosts):
    shows("Clients with most 404s", h, thousands(n))
for lead in ("Distinct clients: %s." % thousands(len(hosts)),
             "Responses with status 404: %s (" % thousands(nf_count)):
    if not any(l.startswith(lead) for l in doc.leads):
        missing.append("the text `%s`" % lead)
print("html", "ok" if not missing else "; ".join(missing[:5]) + " (%d missing)" % len(missing))
