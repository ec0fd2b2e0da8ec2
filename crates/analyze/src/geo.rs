//! Countries and autonomous systems of the clients, through a look-up the caller provides (this
//! crate opens no database: `hitstream analyze --geoip` reads a MaxMind-format file and hands a
//! [`GeoLookup`] to [`GeoReport::build`]).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::partial::Partial;
use crate::platform::UNKNOWN;

/// What a database knows about one address. Fields it does not have stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code (`US`).
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub as_org: Option<String>,
}

/// Looks addresses up. Called once per distinct client address of a report; an address the
/// database does not hold, or a failed look-up, gives the default (all `None`).
pub trait GeoLookup {
    /// What the database says about `ip`.
    fn lookup(&self, ip: IpAddr) -> GeoInfo;
}

impl<F: Fn(IpAddr) -> GeoInfo> GeoLookup for F {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        self(ip)
    }
}

/// The IP address a client field holds, if it holds one: `1.2.3.4`, `2001:db8::1`, `[::1]`,
/// `fe80::1%eth0`; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4. Host names and redacted
/// clients (`X.X.X.X`) give `None`.
pub fn client_ip(client: &[u8]) -> Option<IpAddr> {
    let c = client.trim_ascii();
    let c = c
        .strip_prefix(b"[")
        .and_then(|c| c.strip_suffix(b"]"))
        .unwrap_or(c);
    let c = match memchr::memchr(b'%', c) {
        Some(i) => &c[..i],
        None => c,
    };
    // Cheap refusal of host names before the parser looks at them.
    if c.is_empty()
        || c.len() > 45
        || !c
            .iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':'))
    {
        return None;
    }
    let ip: IpAddr = std::str::from_utf8(c).ok()?.parse().ok()?;
    Some(ip.to_canonical())
}

/// One country.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountryRow {
    /// ISO country code, or `unknown` (not an IP address, or not in the database).
    pub country: String,
    /// Requests from clients in that country.
    pub requests: u64,
    /// requests / all requests.
    pub share: f64,
    /// Distinct clients.
    pub clients: u64,
}

/// One autonomous system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AsnRow {
    /// The AS number; `null` for the `unknown` row.
    pub asn: Option<u32>,
    /// `AS15169`, or `unknown`.
    pub name: String,
    /// Organisation, when the database names it.
    pub organization: Option<String>,
    /// Requests from clients in that AS.
    pub requests: u64,
    /// requests / all requests.
    pub share: f64,
    /// Distinct clients.
    pub clients: u64,
}

/// Clients by country and autonomous system (with `--geoip`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeoReport {
    /// The database(s) used, as given.
    pub databases: Vec<String>,
    /// Requests counted (all requests of the report).
    pub requests: u64,
    /// Distinct clients.
    pub clients: u64,
    /// Requests whose client has no known country.
    pub unknown_country_requests: u64,
    /// Distinct clients with no known country.
    pub unknown_country_clients: u64,
    /// Top countries by requests (`unknown` is a row like the others).
    pub countries: Vec<CountryRow>,
    /// Top autonomous systems by requests; `null` when no client resolved to one (a
    /// country-only database).
    pub asns: Option<Vec<AsnRow>>,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    clients: u64,
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

impl GeoReport {
    /// Looks every distinct client of `p` up once and counts its requests.
    pub fn build(
        p: &Partial,
        lookup: &dyn GeoLookup,
        top: usize,
        databases: Vec<String>,
    ) -> GeoReport {
        let mut countries: HashMap<String, Tally> = HashMap::new();
        let mut asns: HashMap<Option<u32>, (Tally, Option<String>)> = HashMap::new();
        let mut any_asn = false;
        let (mut requests, mut clients) = (0, 0);
        for (client, h) in &p.hosts {
            let info = client_ip(client)
                .map(|ip| lookup.lookup(ip))
                .unwrap_or_default();
            requests += h.hits;
            clients += 1;
            let code = info
                .country
                .filter(|c| !c.trim().is_empty())
                .map_or_else(|| UNKNOWN.to_string(), |c| c.trim().to_ascii_uppercase());
            let t = countries.entry(code).or_default();
            t.requests += h.hits;
            t.clients += 1;
            any_asn |= info.asn.is_some();
            let (t, org) = asns.entry(info.asn).or_default();
            t.requests += h.hits;
            t.clients += 1;
            if org.is_none() {
                *org = info.as_org.filter(|o| !o.is_empty());
            }
        }
        let unknown = countries.get(UNKNOWN);
        let unknown_country_requests = unknown.map_or(0, |t| t.requests);
        let unknown_country_clients = unknown.map_or(0, |t| t.clients);
        let mut country_rows: Vec<CountryRow> = countries
            .into_iter()
            .map(|(country, t)| CountryRow {
                country,
                requests: t.requests,
                share: share(t.requests, requests),
                clients: t.clients,
            })
            .collect();
        country_rows.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.country.cmp(&b.country))
        });
        country_rows.truncate(top);
        let asns = any_asn.then(|| {
            let mut rows: Vec<AsnRow> = asns
                .into_iter()
                .map(|(asn, (t, org))| AsnRow {
                    asn,
                    name: asn.map_or_else(|| UNKNOWN.to_string(), |n| format!("AS{n}")),
                    organization: org,
                    requests: t.requests,
                    share: share(t.requests, requests),
                    clients: t.clients,
                })
                .collect();
            // `None` (unknown) sorts after every number on ties.
            rows.sort_by(|a, b| {
                b.requests
                    .cmp(&a.requests)
                    .then_with(|| a.asn.is_none().cmp(&b.asn.is_none()))
                    .then_with(|| a.asn.cmp(&b.asn))
            });
            rows.truncate(top);
            rows
        });
        GeoReport {
            databases,
            requests,
            clients,
            unknown_country_requests,
            unknown_country_clients,
            countries: country_rows,
            asns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses() {
        let v4: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(client_ip(b"8.8.8.8"), Some(v4));
        assert_eq!(client_ip(b" 8.8.8.8 "), Some(v4));
        assert_eq!(client_ip(b"::ffff:8.8.8.8"), Some(v4));
        assert_eq!(client_ip(b"[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(client_ip(b"fe80::1%eth0"), "fe80::1".parse().ok());
        for not_ip in [
            &b"piweba3y.prodigy.com"[..],
            b"X.X.X.X",
            b"-",
            b"",
            b"1.2.3",
            b"256.1.1.1",
            b"deadbeef",
            b"\xff",
            b"1.2.3.4:80",
        ] {
            assert_eq!(client_ip(not_ip), None, "{not_ip:?}");
        }
    }
}
