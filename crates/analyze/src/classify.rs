//! Who is behind a user agent: a crawler, a tool or script, or a person's browser.

/// The kind of client a user agent string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Search-engine crawlers, monitors, scanners that say so (`Googlebot`, `bingbot`, `zgrab`).
    Bot,
    /// HTTP libraries and command-line tools (`curl`, `Wget`, `python-requests`, `Go-http-client`).
    Tool,
    /// Everything else, mostly browsers.
    Other,
}

// Lower-case needles; matched case-insensitively. Order does not matter.
const BOT_NEEDLES: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "archiver",
    "facebookexternalhit",
    "mediapartners",
    "bingpreview",
    "yandex",
    "baidu",
    "semrush",
    "ahrefs",
    "mj12",
    "dotbot",
    "petalbot",
    "zgrab",
    "masscan",
    "nmap",
    "censys",
    "expanse",
    "nuclei",
    "scanner",
    "monitor",
    "prtg",
    "pingdom",
    "uptime",
    "feedfetcher",
    "headlesschrome",
    "lighthouse",
    "python-urllib",
];

const TOOL_NEEDLES: &[&str] = &[
    "curl/",
    "wget/",
    "python-requests",
    "python/",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww-perl",
    "apache-httpclient",
    "axios",
    "node-fetch",
    "ruby",
    "php/",
    "httpie",
    "powershell",
    "postmanruntime",
    "apt-http",
    "urlgrabber",
    "chef client",
    "winhttp",
    "dalvik",
    "cfnetwork",
];

/// Classifies user agents; build one and use it for every distinct agent of a report.
#[derive(Debug, Clone)]
pub struct Classifier {
    bots: aho_corasick::AhoCorasick,
    tools: aho_corasick::AhoCorasick,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Classifier {
    /// A classifier with the built-in needle lists.
    pub fn new() -> Classifier {
        let build = |needles: &[&str]| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(needles)
                .expect("static needle lists build")
        };
        Classifier {
            bots: build(BOT_NEEDLES),
            tools: build(TOOL_NEEDLES),
        }
    }

    /// Classifies a user agent. `-` and empty agents count as tools: browsers always send one.
    pub fn classify(&self, ua: &[u8]) -> AgentKind {
        if ua.is_empty() || ua == b"-" {
            AgentKind::Tool
        } else if self.bots.is_match(ua) {
            AgentKind::Bot
        } else if self.tools.is_match(ua) {
            AgentKind::Tool
        } else {
            AgentKind::Other
        }
    }
}

impl Classifier {
    /// Classifies a user agent together with the device category woothee gave it: an agent
    /// is a bot when either the needles or woothee say so (woothee knows feed readers and
    /// link checkers by name; the needles know scanners and monitors woothee does not). Both
    /// the "Clients by user agent" and the "Device categories" panels count bots with this, so
    /// their bot and crawler numbers are the same number.
    pub fn classify_with_category(&self, ua: &[u8], category: &str) -> AgentKind {
        match self.classify(ua) {
            AgentKind::Bot => AgentKind::Bot,
            _ if category == CRAWLER => AgentKind::Bot,
            k => k,
        }
    }
}

/// The device category of bots in the platform panel.
pub const CRAWLER: &str = "crawler";

/// Classifies one user agent (builds a [`Classifier`]; use one directly for many agents).
pub fn classify(ua: &[u8]) -> AgentKind {
    Classifier::new().classify(ua)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            classify(b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            AgentKind::Bot
        );
        assert_eq!(
            classify(b"Mozilla/5.0 (compatible; bingbot/2.0)"),
            AgentKind::Bot
        );
        assert_eq!(
            classify(b"curl/7.19.7 (x86_64-redhat-linux-gnu)"),
            AgentKind::Tool
        );
        assert_eq!(classify(b"Wget/1.15 (linux-gnu)"), AgentKind::Tool);
        assert_eq!(classify(b"-"), AgentKind::Tool);
        assert_eq!(
            classify(
                b"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 Chrome/32.0 Safari/537.36"
            ),
            AgentKind::Other
        );
    }
}
