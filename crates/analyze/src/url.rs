//! What a request path and a referer say: static file or dynamic request, and which site a
//! visitor came from.

use std::net::Ipv6Addr;

/// Extensions (lower case) that make a request a static file. Pages (`.html`, `.php`, none) and
/// API-ish formats (`.json`, `.xml`: feeds and sitemaps are usually generated) count as dynamic.
pub const STATIC_EXTENSIONS: &[&str] = &[
    // Styles and scripts.
    "css", "js", "mjs", "map", // Images.
    "png", "jpg", "jpeg", "gif", "ico", "svg", "webp", "avif", "bmp", "tif", "tiff", "xbm",
    // Fonts.
    "woff", "woff2", "ttf", "otf", "eot", // Audio and video.
    "mp3", "mp4", "m4a", "m4v", "webm", "ogg", "ogv", "oga", "wav", "flac", "mov", "avi", "mpg",
    "mpeg", "flv", "swf", // Documents.
    "pdf", "txt", "csv", "doc", "docx", "xls", "xlsx", "ppt",
    "pptx", // Archives and packages.
    "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "iso", "deb", "rpm", "dmg", "exe",
    "msi",
];

/// The static-file extension of a request path or URI (lower case, from
/// [`STATIC_EXTENSIONS`]), or `None` for a dynamic request. The query string, a fragment and
/// `;` path parameters (`;jsessionid=...`) are ignored.
pub fn static_extension(path: &[u8]) -> Option<&'static str> {
    let end = path
        .iter()
        .position(|b| matches!(b, b'?' | b'#' | b';'))
        .unwrap_or(path.len());
    let path = &path[..end];
    let name = match memchr::memrchr(b'/', path) {
        Some(i) => &path[i + 1..],
        None => path,
    };
    let dot = memchr::memrchr(b'.', name)?;
    let ext = &name[dot + 1..];
    // Dotfiles (`/.env`) have a name, not an extension.
    if dot == 0 || ext.is_empty() || ext.len() > 5 {
        return None;
    }
    STATIC_EXTENSIONS
        .iter()
        .copied()
        .find(|e| e.as_bytes().eq_ignore_ascii_case(ext))
}

/// Whether a request path is a static file (see [`static_extension`]).
pub fn is_static(path: &[u8]) -> bool {
    static_extension(path).is_some()
}

/// Where a request came from, by its referer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referrer {
    /// No referer: `-` or empty (typed address, bookmark, privacy settings, bots).
    Direct,
    /// The referring site's host: lower case, without port, user info or trailing dot; IPv6
    /// addresses in brackets.
    Site(String),
    /// A referer without a host (`javascript:...`, `about:blank`, `data:...`, junk).
    NoHost,
}

fn is_scheme(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// The referring site of a referer header value.
///
/// `https://User@WWW.Example.com:8443/a?b` → `www.example.com`; `//cdn.example/x` and a schemeless
/// `www.example.com/page` (some clients send those) → their host; `http://[2001:DB8::1]:80/` →
/// `[2001:db8::1]`; `-` → [`Referrer::Direct`]; `javascript:alert(1)` → [`Referrer::NoHost`].
pub fn referring_site(referer: &[u8]) -> Referrer {
    let r = referer.trim_ascii();
    if r.is_empty() || r == b"-" {
        return Referrer::Direct;
    }
    let (rest, schemeless) = if let Some(rest) = r.strip_prefix(b"//") {
        (rest, false)
    } else {
        match memchr::memchr(b':', r) {
            Some(i) if is_scheme(&r[..i]) && r[i + 1..].starts_with(b"//") => (&r[i + 3..], false),
            // `host:8080/x` is a host and port, not a scheme.
            Some(i) if is_scheme(&r[..i]) && !r.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                return Referrer::NoHost
            }
            _ => (r, true),
        }
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let mut auth = &rest[..end];
    if let Some(at) = memchr::memrchr(b'@', auth) {
        auth = &auth[at + 1..];
    }
    let host = if let Some(inner) = auth.strip_prefix(b"[") {
        let Some(close) = memchr::memchr(b']', inner) else {
            return Referrer::NoHost;
        };
        let after = &inner[close + 1..];
        if !(after.is_empty() || after.first() == Some(&b':')) {
            return Referrer::NoHost;
        }
        return match bracketed_v6(&inner[..close]) {
            Some(h) => Referrer::Site(h),
            None => Referrer::NoHost,
        };
    } else if memchr::memchr_iter(b':', auth).count() > 1 {
        // A bare IPv6 address (not valid in a URL, but written by some clients).
        return match bracketed_v6(auth) {
            Some(h) => Referrer::Site(h),
            None => Referrer::NoHost,
        };
    } else {
        match memchr::memchr(b':', auth) {
            Some(i) if auth[i + 1..].iter().all(u8::is_ascii_digit) => &auth[..i],
            Some(_) => return Referrer::NoHost,
            None => auth,
        }
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || *b >= 0x80)
        && !host.starts_with(b".")
        && !host.contains(&b'\x7f');
    // Without a scheme only something that looks like a domain name counts.
    if !valid || (schemeless && !(host.contains(&b'.') || host.eq_ignore_ascii_case(b"localhost")))
    {
        return Referrer::NoHost;
    }
    match std::str::from_utf8(host) {
        Ok(h) => Referrer::Site(h.to_ascii_lowercase()),
        Err(_) => Referrer::NoHost,
    }
}

fn bracketed_v6(s: &[u8]) -> Option<String> {
    // A zone (`fe80::1%eth0`) is local and says nothing about the site.
    let s = match memchr::memchr(b'%', s) {
        Some(i) => &s[..i],
        None => s,
    };
    let a: Ipv6Addr = std::str::from_utf8(s).ok()?.parse().ok()?;
    Some(format!("[{a}]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn site(s: &str) -> Referrer {
        referring_site(s.as_bytes())
    }

    fn host(s: &str) -> Referrer {
        Referrer::Site(s.to_string())
    }

    #[test]
    fn static_paths() {
        for p in [
            "/style.css",
            "/a/b/app.JS",
            "/img/logo.png?v=3",
            "/images/KSC-logosmall.gif",
            "/f/font.woff2",
            "/x.jpeg#top",
            "/dl/file.tar.gz",
            "/video.mp4",
            "/robots.txt",
            "/app.js;jsessionid=ABC.html",
            "favicon.ico",
        ] {
            assert!(is_static(p.as_bytes()), "{p} is static");
        }
        for p in [
            "/",
            "",
            "/index.html",
            "/page.php?file=a.css",
            "/api/v1/users",
            "/.env",
            "/a.css/",
            "/sitemap.xml",
            "/data.json",
            "/dir.css/page",
            "/x.",
            "/logo.pngx",
            "/a.verylongext",
            "/search?q=x.png",
        ] {
            assert!(!is_static(p.as_bytes()), "{p} is dynamic");
        }
        assert_eq!(static_extension(b"/A.PNG"), Some("png"));
        assert_eq!(static_extension(b"/a.tar.gz"), Some("gz"));
    }

    #[test]
    fn referer_hosts() {
        assert_eq!(site("-"), Referrer::Direct);
        assert_eq!(site(""), Referrer::Direct);
        assert_eq!(site("  "), Referrer::Direct);
        assert_eq!(
            site("http://www.Example.com/a/b?c=d"),
            host("www.example.com")
        );
        assert_eq!(site("https://example.com"), host("example.com"));
        assert_eq!(site("https://example.com:8443/x"), host("example.com"));
        assert_eq!(site("http://user:pw@Example.COM:80/"), host("example.com"));
        assert_eq!(site("https://example.com./"), host("example.com"));
        assert_eq!(site("https://example.com?q=1"), host("example.com"));
        assert_eq!(site("https://example.com#frag"), host("example.com"));
        assert_eq!(site("//cdn.example.org/lib.js"), host("cdn.example.org"));
        assert_eq!(site("www.google.com/search?q=x"), host("www.google.com"));
        assert_eq!(site("localhost:8080/admin"), host("localhost"));
        assert_eq!(site("http://localhost:3000/"), host("localhost"));
        assert_eq!(site("http://10.0.0.1:8080/x"), host("10.0.0.1"));
        assert_eq!(site("http://[2001:DB8::1]:8080/x"), host("[2001:db8::1]"));
        assert_eq!(site("http://[::1]/"), host("[::1]"));
        assert_eq!(site("http://[fe80::1%25eth0]/"), host("[fe80::1]"));
        assert_eq!(site("2001:db8::2"), host("[2001:db8::2]"));
        assert_eq!(
            site("android-app://com.google.android.gm"),
            host("com.google.android.gm")
        );
        assert_eq!(site("http://bücher.example/"), host("bücher.example"));
        assert_eq!(site("HTTP://EXAMPLE.ORG"), host("example.org"));
        for junk in [
            "javascript:alert(1)",
            "about:blank",
            "data:text/html,<script>x</script>",
            "mailto:a@b.c",
            "http://",
            "https:///path",
            "http://[::1",
            "http://[zz::1]/",
            "http://[::1]x/",
            "http://exa mple.com",
            "http://example.com:port/",
            "http://<script>/",
            "http://.example.com/",
            "nohost",
            "/relative/path",
            "?q=1",
            "%20",
            "\"",
        ] {
            assert_eq!(site(junk), Referrer::NoHost, "{junk:?}");
        }
        assert_eq!(referring_site(b"http://\xff\xfe/"), Referrer::NoHost);
    }

    proptest! {
        #[test]
        fn never_panics_and_hosts_are_clean(r in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Referrer::Site(h) = referring_site(&r) {
                prop_assert!(!h.is_empty());
                prop_assert!(!h.contains(['/', ':', '@', '?', '#', ' ']) || h.starts_with('['));
                prop_assert_eq!(h.to_ascii_lowercase(), h);
            }
            let _ = static_extension(&r);
        }

        #[test]
        fn port_and_path_do_not_change_the_host(
            h in "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){1,3}",
            port in proptest::option::of(1u16..),
            path in "(/[a-zA-Z0-9._-]{0,8}){0,3}(\\?[a-z=&]{0,8})?",
            scheme in "(https?|ftp)",
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}://{}{port}{path}", h.to_uppercase());
            prop_assert_eq!(site(&url), Referrer::Site(h));
        }

        #[test]
        fn query_never_changes_static(
            name in "[a-z]{1,8}",
            ext in proptest::sample::select(STATIC_EXTENSIONS),
            q in "[a-z=&./]{0,12}",
        ) {
            let p = format!("/d/{name}.{ext}?{q}");
            prop_assert_eq!(static_extension(p.as_bytes()), Some(ext));
        }
    }
}
