//! MaxMind-format databases (`--geoip FILE.mmdb`) for the country and AS panels of
//! `analyze` and the dashboard: read into memory once, one look-up per distinct client.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use hitstream_analyze::GeoInfo;
use maxminddb::{path, LookupResult, Reader};

/// Open databases, consulted in order.
pub struct Mmdb {
    dbs: Vec<(String, Reader<Vec<u8>>)>,
}

impl Mmdb {
    /// Reads each file into memory and checks that it is a MaxMind DB.
    pub fn open(paths: &[PathBuf]) -> anyhow::Result<Mmdb> {
        let mut dbs = Vec::new();
        for p in paths {
            let r = Reader::open_readfile(p).with_context(|| {
                format!(
                    "--geoip `{}`: cannot read it as a MaxMind database (.mmdb)",
                    p.display()
                )
            })?;
            let kind = &r.metadata().database_type;
            let name = if kind.is_empty() {
                p.display().to_string()
            } else {
                format!("{} ({kind})", p.display())
            };
            dbs.push((name, r));
        }
        Ok(Mmdb { dbs })
    }

    /// The databases, as the report names them.
    pub fn names(&self) -> Vec<String> {
        self.dbs.iter().map(|(n, _)| n.clone()).collect()
    }

    /// What the databases know about `ip`. Addresses they do not hold, IPv6 addresses in an
    /// IPv4 database and records of another shape give nothing, never an error.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let mut info = GeoInfo::default();
        for (_, db) in &self.dbs {
            let Ok(found) = db.lookup(ip) else { continue };
            if !found.has_data() {
                continue;
            }
            if info.country.is_none() {
                info.country = country(&found);
            }
            if info.asn.is_none() {
                info.asn = found
                    .decode_path::<AnyNumber>(&path!["autonomous_system_number"])
                    .ok()
                    .flatten()
                    .and_then(|n| u32::try_from(n.0).ok());
            }
            if info.as_org.is_none() {
                info.as_org = string(&found, &path!["autonomous_system_organization"]);
            }
        }
        info
    }
}

/// A number stored as any unsigned or signed integer type, or as text (`15169`, `AS15169`):
/// the decoder asks for the exact MaxMind type, and writers pick the smallest one.
struct AnyNumber(u64);

impl<'de> serde::Deserialize<'de> for AnyNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AnyNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AnyNumber, E> {
                Ok(AnyNumber(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AnyNumber, E> {
                u64::try_from(v)
                    .map(AnyNumber)
                    .map_err(|_| E::custom("negative AS number"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AnyNumber, E> {
                let t = v.trim();
                let t = t
                    .strip_prefix("AS")
                    .or_else(|| t.strip_prefix("as"))
                    .unwrap_or(t);
                t.parse().map(AnyNumber).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

fn string(r: &LookupResult<'_, Vec<u8>>, p: &[maxminddb::PathElement<'_>]) -> Option<String> {
    r.decode_path::<String>(p)
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

/// GeoLite2/GeoIP2 keep the code under `country` (or only `registered_country` for some
/// networks); flat databases (ip-location-db, DB-IP lite) have `country_code`.
fn country(r: &LookupResult<'_, Vec<u8>>) -> Option<String> {
    string(r, &path!["country", "iso_code"])
        .or_else(|| string(r, &path!["country_code"]))
        .or_else(|| string(r, &path!["registered_country", "iso_code"]))
}

impl hitstream_analyze::GeoLookup for Mmdb {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        Mmdb::lookup(self, ip)
    }
}

#[cfg(test)]
mod tests {
    use super::Mmdb;
    use hitstream_analyze::GeoInfo;

    fn s(v: &str) -> Vec<u8> {
        // Sizes from 29 to 284 take one more byte.
        let mut o = if v.len() < 29 {
            vec![0x40 | v.len() as u8]
        } else {
            vec![0x40 | 29, (v.len() - 29) as u8]
        };
        o.extend_from_slice(v.as_bytes());
        o
    }
    fn u16v(v: u16) -> Vec<u8> {
        let mut o = vec![0xA0 | 2];
        o.extend_from_slice(&v.to_be_bytes());
        o
    }
    fn u32v(v: u32) -> Vec<u8> {
        let mut o = vec![0xC0 | 4];
        o.extend_from_slice(&v.to_be_bytes());
        o
    }
    fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut o = vec![0xE0 | entries.len() as u8];
        for (k, v) in entries {
            o.extend(s(k));
            o.extend_from_slice(v);
        }
        o
    }

    /// A MaxMind DB (IPv4, 24-bit records) holding one record for 8.0.0.0/8, written by hand
    /// so that each record shape can be tested without shipping a database.
    fn mmdb(kind: &str, record: Vec<u8>) -> Vec<u8> {
        let nodes = 8u32;
        let data_ptr = nodes + 16;
        let mut out = Vec::new();
        for (depth, bit) in [0u8, 0, 0, 0, 1, 0, 0, 0].iter().enumerate() {
            let next = if depth == 7 {
                data_ptr
            } else {
                depth as u32 + 1
            };
            let (l, r) = if *bit == 0 {
                (next, nodes)
            } else {
                (nodes, next)
            };
            out.extend_from_slice(&l.to_be_bytes()[1..]);
            out.extend_from_slice(&r.to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0; 16]);
        out.extend(record);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let mut epoch = vec![0x08, 0x02];
        epoch.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        out.extend(map(&[
            ("binary_format_major_version", u16v(2)),
            ("binary_format_minor_version", u16v(0)),
            ("build_epoch", epoch),
            ("database_type", s(kind)),
            ("description", map(&[])),
            ("ip_version", u16v(4)),
            ("languages", vec![0x00, 0x04]),
            ("node_count", u32v(nodes)),
            ("record_size", u16v(24)),
        ]));
        out
    }

    fn open(dbs: &[(&str, Vec<u8>)]) -> Mmdb {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<std::path::PathBuf> = dbs
            .iter()
            .enumerate()
            .map(|(i, (kind, record))| {
                let p = dir.path().join(format!("{i}.mmdb"));
                std::fs::write(&p, mmdb(kind, record.clone())).unwrap();
                p
            })
            .collect();
        Mmdb::open(&paths).unwrap()
    }

    #[test]
    fn record_shapes() {
        let ip = "8.8.8.8".parse().unwrap();
        let city = (
            "GeoLite2-City",
            map(&[("country", map(&[("iso_code", s("US"))]))]),
        );
        // AS numbers as the smallest integer type that holds them, as some writers do.
        let asn = (
            "GeoLite2-ASN",
            map(&[
                ("autonomous_system_number", u16v(15169)),
                ("autonomous_system_organization", s("GOOGLE")),
            ]),
        );
        let both = open(&[city.clone(), asn.clone()]);
        assert_eq!(
            both.lookup(ip),
            GeoInfo {
                country: Some("US".into()),
                asn: Some(15169),
                as_org: Some("GOOGLE".into()),
            }
        );
        assert_eq!(both.names().len(), 2);
        assert!(both.names()[0].contains("GeoLite2-City"));
        // Outside the network, and IPv6 in an IPv4 database: nothing, no error.
        assert_eq!(both.lookup("9.9.9.9".parse().unwrap()), GeoInfo::default());
        assert_eq!(
            both.lookup("2001:db8::1".parse().unwrap()),
            GeoInfo::default()
        );

        let asn32 = (
            "ASN",
            map(&[("autonomous_system_number", u32v(4_200_000_000))]),
        );
        assert_eq!(open(&[asn32]).lookup(ip).asn, Some(4_200_000_000));
        let text = ("ASN", map(&[("autonomous_system_number", s("AS13335"))]));
        assert_eq!(open(&[text]).lookup(ip).asn, Some(13335));
        let registered = (
            "GeoIP2-Country",
            map(&[("registered_country", map(&[("iso_code", s("AU"))]))]),
        );
        assert_eq!(
            open(&[registered]).lookup(ip).country.as_deref(),
            Some("AU")
        );
        let flat = ("geo-whois-asn-country", map(&[("country_code", s("NL"))]));
        assert_eq!(open(&[flat]).lookup(ip).country.as_deref(), Some("NL"));
        // A field of an unexpected type is skipped, not an error.
        let odd = (
            "odd",
            map(&[("country", s("US")), ("country_code", u16v(7))]),
        );
        assert_eq!(open(&[odd]).lookup(ip), GeoInfo::default());
    }
}
