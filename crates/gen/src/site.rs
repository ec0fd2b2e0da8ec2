//! The web site whose traffic is generated: pages with Zipf popularity, their static assets,
//! the well-known files, and the JSON API that tools call. Or, with weighted paths, exactly
//! the user's paths.

use std::collections::HashSet;

use crate::config::{PathSource, WeightedPath};
use crate::pools::WORDS;
use crate::rng::{zipf_weights, Alias, Rng};

/// No page / no asset.
pub(crate) const NONE: u32 = u32::MAX;

/// What a page is, which decides its queries, methods and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    /// An ordinary document.
    Html,
    /// A list with pagination (`?page=3`).
    Listing,
    /// Site search (`?q=...`).
    Search,
    /// A page with a form that is sometimes POSTed to.
    Form,
    /// A file download: large, heavy-tailed, sometimes fetched by range (206).
    Download,
    /// A path given with `--paths`.
    Given,
}

/// A document of the site.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Request target without generated query (given paths may carry their own).
    pub path: Box<[u8]>,
    /// `https://host/path`, as referers write it.
    pub url: Box<[u8]>,
    pub kind: PageKind,
    /// Typical body size in bytes.
    pub size: u64,
    /// Removed content still linked from somewhere: always 404.
    pub dead: bool,
    /// An image shown on this page (index into [`Site::assets`]), or [`NONE`].
    pub image: u32,
}

/// A static file.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub path: Box<[u8]>,
    pub size: u64,
}

/// An endpoint of the JSON API: `prefix` then, when `id`, a number; `query` adds paging.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub prefix: &'static str,
    pub id: bool,
    pub query: bool,
    pub size: u64,
}

pub(crate) const API: &[(Endpoint, f64)] = &[
    (
        Endpoint {
            prefix: "/api/v1/products",
            id: false,
            query: true,
            size: 14_200,
        },
        20.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/products/",
            id: true,
            query: false,
            size: 1_850,
        },
        30.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/orders",
            id: false,
            query: true,
            size: 6_400,
        },
        10.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/orders/",
            id: true,
            query: false,
            size: 2_300,
        },
        15.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/users/me",
            id: false,
            query: false,
            size: 640,
        },
        12.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/cart",
            id: false,
            query: false,
            size: 1_100,
        },
        8.0,
    ),
    (
        Endpoint {
            prefix: "/api/v1/events",
            id: false,
            query: false,
            size: 48,
        },
        5.0,
    ),
];

/// Common assets every page links (the first page of a visit fetches them).
pub(crate) const COMMON_ASSETS: usize = 6;
/// Chance that the first page of a visit fetches each common asset (the rest are already
/// cached or not needed on that device).
pub(crate) const COMMON_ASSET_FETCH: [f64; COMMON_ASSETS] = [0.97, 0.97, 0.9, 0.75, 0.95, 0.55];

/// The site, ready to draw from.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub pages: Vec<Page>,
    /// Page popularity (Zipf over a shuffled rank, or the given weights).
    pub popularity: Alias,
    /// `assets[..COMMON_ASSETS]` are linked from every page; page images follow.
    pub assets: Vec<Asset>,
    pub robots: u32,
    pub sitemap: u32,
    pub feed: u32,
    pub health: u32,
    /// `/api/v1/events`, the analytics beacon pages post to.
    pub beacon: u32,
    pub api: Alias,
    /// Only the given paths: no assets, no well-known files.
    pub weighted: bool,
}

fn bytes(s: impl Into<String>) -> Box<[u8]> {
    s.into().into_bytes().into_boxed_slice()
}

fn url(host: &str, path: &str) -> Box<[u8]> {
    format!("https://{host}{path}")
        .into_bytes()
        .into_boxed_slice()
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

fn slug(rng: &mut Rng, words: u32) -> String {
    (0..words)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join("-")
}

impl Site {
    /// Builds the site for `source`; `rng` is consumed for setup only.
    pub(crate) fn new(source: &PathSource, host: &str, rng: &mut Rng) -> Site {
        let mut assets = vec![
            Asset {
                path: bytes(format!("/static/css/main.{}.css", hex(rng, 8))),
                size: 38_211,
            },
            Asset {
                path: bytes(format!("/static/js/app.{}.js", hex(rng, 8))),
                size: 184_532,
            },
            Asset {
                path: bytes(format!("/static/js/vendor.{}.js", hex(rng, 8))),
                size: 421_977,
            },
            Asset {
                path: bytes("/static/fonts/inter-var.woff2"),
                size: 96_120,
            },
            Asset {
                path: bytes("/static/img/logo.svg"),
                size: 4_318,
            },
            Asset {
                path: bytes("/favicon.ico"),
                size: 15_086,
            },
        ];
        debug_assert_eq!(assets.len(), COMMON_ASSETS);
        let mut special = |path: &str, size: u64| {
            assets.push(Asset {
                path: bytes(path),
                size,
            });
            (assets.len() - 1) as u32
        };
        let robots = special("/robots.txt", 312);
        let sitemap = special("/sitemap.xml", 48_775);
        let feed = special("/feed.xml", 61_904);
        let health = special("/health", 2);
        let beacon = special("/api/v1/events", 0);
        let api = Alias::new(&API.iter().map(|e| e.1).collect::<Vec<_>>());

        let (pages, popularity, weighted) = match source {
            PathSource::Weighted(list) => {
                let pages = list.iter().map(|w| given_page(w, host, rng)).collect();
                let weights: Vec<f64> = list.iter().map(|w| w.weight).collect();
                (pages, Alias::new(&weights), true)
            }
            PathSource::Site { pages: n, zipf } => {
                let pages = generate_pages(*n as usize, host, rng, &mut assets);
                let pop = Alias::new(&zipf_weights(pages.len(), *zipf));
                (pages, pop, false)
            }
        };
        Site {
            pages,
            popularity,
            assets,
            robots,
            sitemap,
            feed,
            health,
            beacon,
            api,
            weighted,
        }
    }
}

fn given_page(w: &WeightedPath, host: &str, rng: &mut Rng) -> Page {
    let bare = w.path.split('?').next().unwrap_or("/");
    Page {
        path: w.path.as_bytes().into(),
        url: url(host, bare),
        kind: PageKind::Given,
        size: rng.lognormal(18_000.0, 0.6).clamp(200.0, 5e6) as u64,
        dead: false,
        image: NONE,
    }
}

/// `n` pages in popularity order: the fixed pages of a typical site first, then generated
/// blog posts, products, categories, docs, tags and downloads in random order.
fn generate_pages(n: usize, host: &str, rng: &mut Rng, assets: &mut Vec<Asset>) -> Vec<Page> {
    const FIXED: &[(&str, PageKind, u64)] = &[
        ("/", PageKind::Html, 24_512),
        ("/products/", PageKind::Listing, 41_877),
        ("/blog/", PageKind::Listing, 33_408),
        ("/search", PageKind::Search, 21_960),
        ("/about", PageKind::Html, 12_045),
        ("/pricing", PageKind::Html, 17_322),
        ("/login", PageKind::Form, 8_731),
        ("/cart", PageKind::Form, 11_284),
        ("/docs/", PageKind::Listing, 19_650),
        ("/contact", PageKind::Form, 9_118),
    ];
    let mut pages = Vec::with_capacity(n);
    let mut seen = HashSet::new();
    for &(path, kind, size) in FIXED.iter().take(n) {
        seen.insert(path.to_string());
        pages.push(Page {
            path: path.as_bytes().into(),
            url: url(host, path),
            kind,
            size,
            dead: false,
            image: NONE,
        });
    }
    while pages.len() < n {
        let roll = rng.below(100);
        let (mut path, kind, size, image) = match roll {
            0..=34 => {
                let s = slug(rng, 3);
                let img = rng
                    .chance(0.6)
                    .then(|| format!("/static/img/blog/{s}.webp"));
                let p = format!(
                    "/blog/{}/{:02}/{s}",
                    rng.range(2019, 2025),
                    rng.range(1, 12)
                );
                (p, PageKind::Html, rng.lognormal(22_000.0, 0.5), img)
            }
            35..=69 => {
                let id = rng.range(1000, 99_999);
                let p = format!("/products/{id}-{}", slug(rng, 2));
                (
                    p,
                    PageKind::Html,
                    rng.lognormal(30_000.0, 0.4),
                    Some(format!("/static/img/products/{id}.jpg")),
                )
            }
            70..=75 => (
                format!("/category/{}", rng.pick(WORDS)),
                PageKind::Listing,
                rng.lognormal(38_000.0, 0.3),
                None,
            ),
            76..=89 => (
                format!("/docs/{}/{}", rng.pick(WORDS), rng.pick(WORDS)),
                PageKind::Html,
                rng.lognormal(16_000.0, 0.6),
                None,
            ),
            90..=94 => (
                format!("/tag/{}", rng.pick(WORDS)),
                PageKind::Listing,
                rng.lognormal(26_000.0, 0.3),
                None,
            ),
            _ => {
                let ext = rng.pick(&["tar.gz", "zip", "pdf", "deb", "dmg"]);
                let p = format!(
                    "/downloads/{}-{}.{}.{}.{ext}",
                    rng.pick(WORDS),
                    rng.range(0, 4),
                    rng.range(0, 20),
                    rng.range(0, 9)
                );
                // Pareto sizes: most files are a few hundred kB, some are gigabytes.
                (
                    p,
                    PageKind::Download,
                    rng.pareto(250_000.0, 1.1).min(4e9),
                    None,
                )
            }
        };
        if !seen.insert(path.clone()) {
            path = format!("{path}-{}", pages.len());
            seen.insert(path.clone());
        }
        let image = match image {
            Some(img) => {
                let size = rng.lognormal(85_000.0, 0.7).clamp(2_000.0, 3e6) as u64;
                assets.push(Asset {
                    path: bytes(img),
                    size,
                });
                (assets.len() - 1) as u32
            }
            None => NONE,
        };
        pages.push(Page {
            url: url(host, &path),
            path: path.into_bytes().into(),
            kind,
            size: size.max(200.0) as u64,
            dead: rng.chance(0.01),
            image,
        });
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_has_requested_pages_unique_and_well_formed() {
        let mut rng = Rng::new(5);
        let site = Site::new(
            &PathSource::Site {
                pages: 3000,
                zipf: 1.0,
            },
            "example.org",
            &mut rng,
        );
        assert_eq!(site.pages.len(), 3000);
        assert!(!site.weighted);
        let mut seen = HashSet::new();
        for p in &site.pages {
            assert!(
                seen.insert(p.path.clone()),
                "duplicate {:?}",
                String::from_utf8_lossy(&p.path)
            );
            assert!(p.path.starts_with(b"/"));
            assert!(p.url.starts_with(b"https://example.org/"));
            assert!(p.path.iter().all(|b| b.is_ascii_graphic() && *b != b'"'));
            assert!(p.size >= 200);
        }
        assert_eq!(&*site.pages[0].path, b"/");
        assert!(site.pages.iter().any(|p| p.kind == PageKind::Download));
        assert!(site.pages.iter().any(|p| p.dead));
        assert!(site.assets.len() > COMMON_ASSETS + 4);
    }

    #[test]
    fn tiny_site() {
        let mut rng = Rng::new(5);
        let site = Site::new(
            &PathSource::Site {
                pages: 1,
                zipf: 1.0,
            },
            "h",
            &mut rng,
        );
        assert_eq!(site.pages.len(), 1);
    }

    #[test]
    fn weighted_site_keeps_given_paths() {
        let mut rng = Rng::new(5);
        let list = vec![
            WeightedPath {
                path: "/a?x=1".into(),
                weight: 2.0,
            },
            WeightedPath {
                path: "/b".into(),
                weight: 1.0,
            },
        ];
        let site = Site::new(&PathSource::Weighted(list), "h", &mut rng);
        assert!(site.weighted);
        assert_eq!(&*site.pages[0].path, b"/a?x=1");
        assert_eq!(&*site.pages[0].url, b"https://h/a");
    }
}
