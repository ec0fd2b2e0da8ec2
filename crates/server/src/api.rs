//! Routes: the embedded page, `/api/*` (JSON), `/api/events` (server-sent events) and
//! `/metrics`. All `GET`; a token, when set, guards every route.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde_json::json;

use crate::{history, metrics, AppState};

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// Script and styles come from this server only, and no inline script runs: a log line
/// that slipped through as markup still could not execute.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The server's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/style.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/status", get(status))
        .route("/api/windows", get(windows))
        .route("/api/alerts", get(alerts))
        .route("/api/traffic", get(traffic))
        .route("/api/history", get(history_range))
        .route("/api/history/bounds", get(bounds))
        .route("/api/events", get(events))
        .route("/metrics", get(metrics_text))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn page(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Equal without an early exit, so a wrong token's timing does not tell how much of it was
/// right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `%XX` decoded (RFC 3986), `+` kept as it is: a token is printable ASCII without spaces
/// ([`crate::token_problem`]), so a `+` in it is a `+`, as base64 writes it, whether the
/// URL was typed by hand or encoded with `encodeURIComponent`. A broken escape is kept as
/// text.
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]:port`), lower case, without
/// a final dot.
fn host_name(h: &str) -> String {
    let h = h.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        h.rsplit_once(':').map_or(h, |(n, port)| {
            if port.bytes().all(|c| c.is_ascii_digit()) {
                n
            } else {
                h
            }
        })
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` names this loopback server: `localhost`, a loopback address, or the
/// address it is bound to.
fn local_name(host: &str, bound: std::net::SocketAddr) -> bool {
    let name = host_name(host);
    if name == "localhost" {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => crate::is_loopback(ip) || ip == bound.ip(),
        Err(_) => false,
    }
}

/// The `Host` check (DNS rebinding), the token check and the security headers of every
/// response.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(bound) = st.local_host {
        // A browser always sends `Host`; the authority of an absolute URI wins over it.
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            });
        if let Some(h) = host {
            if !local_name(&h, bound) {
                st.stats
                    .foreign_hosts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return (
                    StatusCode::MISDIRECTED_REQUEST,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "this server answers only to localhost, a loopback address or the address \
                     it listens on when it has no --auth-token\n",
                )
                    .into_response();
            }
        }
    }
    if let Some(token) = &st.token {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.as_bytes().to_vec());
        // EventSource cannot set headers: the page passes the token in the query.
        let query = req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token=").map(percent_decoded))
        });
        let ok = [bearer, query]
            .into_iter()
            .flatten()
            .any(|t| same(&t, token.as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
            )
                .into_response();
        }
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn number(q: &HashMap<String, String>, key: &str, default: usize, max: usize) -> usize {
    q.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .min(max)
}

async fn status(State(st): State<AppState>) -> Json<serde_json::Value> {
    let mut v = st.live.status_json();
    if let Some(o) = v.as_object_mut() {
        // The page asks the lake for history only when there is one.
        o.insert("lake".into(), st.lake.is_some().into());
    }
    Json(v)
}

async fn windows(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    let n = number(&q, "last", 120, crate::live::KEEP_WINDOWS);
    Json(json!({ "windows": st.live.windows(n) }))
}

async fn alerts(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    let n = number(&q, "last", 50, crate::live::KEEP_ALERTS);
    Json(json!({ "alerts": st.live.alerts(n) }))
}

async fn traffic(State(st): State<AppState>) -> Json<serde_json::Value> {
    Json(json!(st.live.traffic()))
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    let status = st.live.status();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut body = metrics::render(&status, &st.live.traffic(), st.live.has_pipeline(), now);
    body.push_str(&metrics::render_server(&st.stats));
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}

/// A failure of the lake itself (a client's bad question is a 400 before any query): the
/// detail goes to the server's log, not to whoever asked.
fn failed(e: hitstream_lake::LakeError) -> Response {
    eprintln!("dashboard: a history query failed: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": "the lake could not answer; the server's log says why" })),
    )
        .into_response()
}

fn no_lake() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "no lake: start with --data DIR to read history" })),
    )
        .into_response()
}

async fn history_range(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(lake) = &st.lake else {
        return no_lake();
    };
    let range = match history::Range::from_query(&q) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    };
    // What the answer depends on, parsed: other parameters, and other spellings of the same
    // time, ask the same question.
    let key = format!(
        "history {} {} {} {:?}",
        range.from, range.to, range.top, range.vhost
    );
    let geo = st.geo.clone();
    from_lake(&st, lake, key, async move |lake| {
        history::range(lake, &range, geo.as_ref()).await
    })
    .await
}

async fn bounds(State(st): State<AppState>) -> Response {
    let Some(lake) = &st.lake else {
        return no_lake();
    };
    from_lake(&st, lake, "bounds".into(), async |lake| {
        history::bounds(lake).await
    })
    .await
}

/// The lake's answer to the question `key`: the one given less than [`HISTORY_FOR`] ago,
/// or asked anew with `ask`. A request that waited for the lake while another asked the
/// same question takes that answer.
///
/// [`HISTORY_FOR`]: crate::HISTORY_FOR
async fn from_lake(
    st: &AppState,
    lake: &tokio::sync::Mutex<hitstream_lake::AsyncLake>,
    key: String,
    ask: impl AsyncFnOnce(
        &mut hitstream_lake::AsyncLake,
    ) -> Result<serde_json::Value, hitstream_lake::LakeError>,
) -> Response {
    if let Some(v) = st.history.get(&key, crate::HISTORY_FOR) {
        return Json(v).into_response();
    }
    let mut lake = lake.lock().await;
    if let Some(v) = st.history.get(&key, crate::HISTORY_FOR) {
        return Json(v).into_response();
    }
    st.stats
        .lake_queries
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match ask(&mut lake).await {
        Ok(v) => {
            st.history.put(key, v.clone());
            Json(v).into_response()
        }
        Err(e) => failed(e),
    }
}

/// One open event stream; the count goes down when the stream is dropped, however it ends.
struct StreamSlot(std::sync::Arc<crate::Stats>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0
            .streams_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A slot for one more event stream, if fewer than `max` are open.
fn stream_slot(st: &AppState) -> Option<StreamSlot> {
    use std::sync::atomic::Ordering;
    let open = &st.stats.streams_open;
    open.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n < st.max_streams as u64).then_some(n + 1)
    })
    .ok()
    .map(|_| StreamSlot(st.stats.clone()))
}

/// Pushes: `status` at least once a second, `window` and `alert` as they come, `end` when
/// the pipeline ends. The stream ends with the pipeline or the server. Each stream reads
/// the pushes from one bounded queue shared by all ([`crate::live`]): a stream that falls
/// behind skips what it missed (counted) and catches up with the next status; one whose
/// client reads nothing is closed by the write timeout.
async fn events(State(st): State<AppState>) -> Response {
    let Some(slot) = stream_slot(&st) else {
        st.stats
            .streams_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::RETRY_AFTER, "10"),
            ],
            format!(
                "too many open event streams (at most {}, --http-max-streams): try again later\n",
                st.max_streams
            ),
        )
            .into_response();
    };
    events_stream(st, slot).into_response()
}

fn events_stream(
    st: AppState,
    slot: StreamSlot,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let skipped = move |n: u64| {
        slot.0
            .stream_skipped
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let rx = st.live.subscribe();
    let first = SseEvent::default()
        .event("status")
        .data(st.live.status_json().to_string());
    let ended = st.live.ended();
    let state = (rx, st.shutdown.clone(), Some(first), ended, false, skipped);
    let stream = futures_util::stream::unfold(
        state,
        |(mut rx, mut sd, first, ended, mut closing, skipped)| async move {
            if let Some(ev) = first {
                return Some((Ok(ev), (rx, sd, None, ended, closing, skipped)));
            }
            if ended {
                return None;
            }
            loop {
                if closing {
                    // The server stops: what was queued goes out, then `end`, even when the
                    // pipeline's own `end` has not reached the queue yet (it is relayed by
                    // another thread), so a client always learns that the stream ended.
                    use tokio::sync::broadcast::error::TryRecvError;
                    return match rx.try_recv() {
                        Ok(p) => {
                            let done = p.kind == "end";
                            let ev = SseEvent::default().event(p.kind).data(&*p.data);
                            Some((Ok(ev), (rx, sd, None, done, true, skipped)))
                        }
                        Err(TryRecvError::Lagged(n)) => {
                            skipped(n);
                            continue;
                        }
                        Err(_) => {
                            let ev = SseEvent::default().event("end").data("true");
                            Some((Ok(ev), (rx, sd, None, true, true, skipped)))
                        }
                    };
                }
                let got = tokio::select! {
                    // Pushes first: the pipeline's `end` that came before the stop is sent.
                    biased;
                    r = rx.recv() => Some(r),
                    _ = sd.wait_for(|s| *s) => None,
                };
                match got {
                    Some(Ok(p)) => {
                        let done = p.kind == "end";
                        let ev = SseEvent::default().event(p.kind).data(&*p.data);
                        return Some((Ok(ev), (rx, sd, None, done, closing, skipped)));
                    }
                    // A slow client skips what it missed; the next status catches it up.
                    Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                        skipped(n);
                        continue;
                    }
                    Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                    None => closing = true,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(st.keep_alive).text("keep-alive"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use std::time::Duration;
    use tower::ServiceExt;

    fn state(token: Option<&str>) -> AppState {
        AppState {
            live: crate::Live::none(),
            lake: None,
            token: token.map(Into::into),
            geo: None,
            shutdown: tokio::sync::watch::channel(false).1,
            keep_alive: crate::KEEP_ALIVE,
            history: std::sync::Arc::default(),
            local_host: None,
            max_streams: crate::MAX_STREAMS,
            stats: std::sync::Arc::default(),
        }
    }

    async fn get(app: Router, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
        let r = app
            .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), headers)
    }

    #[tokio::test]
    async fn the_page_and_the_api_answer_with_security_headers() {
        let app = router(state(None));
        let (s, body, h) = get(app.clone(), "/").await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("<script src=\"app.js\""), "{body}");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let (s, body, _) = get(app.clone(), "/api/status").await;
        assert_eq!(s, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["live"], false);
        let (s, body, h) = get(app.clone(), "/metrics").await;
        assert_eq!(s, StatusCode::OK);
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert!(body.contains("hitstream_up 0"), "{body}");
        let (s, _, _) = get(app, "/api/history").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_token_guards_every_route() {
        let app = router(state(Some("s3cret")));
        for uri in ["/", "/api/status", "/metrics", "/api/events"] {
            let (s, _, _) = get(app.clone(), uri).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        }
        let (s, _, _) = get(app.clone(), "/api/status?token=wrong").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = get(app.clone(), "/api/status?token=s3cret").await;
        assert_eq!(s, StatusCode::OK);
        let r = app
            .oneshot(
                Request::builder()
                    .uri("/metrics")
                    .header("authorization", "Bearer s3cret")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn events_are_a_stream_that_ends_with_the_pipeline() {
        // No pipeline: the first status, then the stream ends (a live one would go on).
        let (s, body, h) = get(router(state(None)), "/api/events").await;
        assert_eq!(s, StatusCode::OK);
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        assert!(body.starts_with("event: status\ndata: {"), "{body}");
        let data = body.lines().nth(1).unwrap().strip_prefix("data: ").unwrap();
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["live"], false);
    }

    #[tokio::test]
    async fn a_stream_cut_by_the_server_stopping_still_ends_with_end() {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        // Held here as the running server holds it: the stream outlives the request's router.
        let live = crate::Live::idle();
        let st = AppState {
            live: live.clone(),
            shutdown,
            ..state(None)
        };
        let req = get(router(st), "/api/events");
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.send(true).unwrap();
        };
        let ((s, body, _), ()) = tokio::join!(req, stopper);
        assert_eq!(s, StatusCode::OK);
        assert!(body.starts_with("event: status\n"), "{body}");
        assert!(
            body.trim_end().ends_with("event: end\ndata: true"),
            "{body}"
        );
    }

    #[test]
    fn lake_answers_are_served_again_for_a_while_then_asked_anew() {
        let c = crate::HistoryCache::default();
        c.put("history?from=1&to=2".into(), json!({ "n": 1 }));
        let fresh = crate::HISTORY_FOR;
        assert_eq!(c.get("history?from=1&to=2", fresh), Some(json!({ "n": 1 })));
        assert_eq!(c.get("history?from=1&to=3", fresh), None);
        // Older than asked for: the lake is asked again.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            c.get("history?from=1&to=2", Duration::from_millis(10)),
            None
        );
    }

    #[tokio::test]
    async fn a_quiet_stream_gets_keep_alive_comments() {
        // A pipeline that has not ended and pushes nothing: after the first status, only the
        // keep-alive can come.
        let every = Duration::from_millis(200);
        // Both held here as the running server holds them: without the pushes' sender or the
        // stop's, the stream ends.
        let live = crate::Live::idle();
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let st = AppState {
            live: live.clone(),
            shutdown,
            keep_alive: every,
            ..state(None)
        };
        let r = router(st)
            .oneshot(
                Request::builder()
                    .uri("/api/events")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let mut body = r.into_body();
        let t = tokio::time::Instant::now();
        let mut seen = String::new();
        let mut comments = Vec::new();
        // Two comments: the timer restarts after each, so this is an interval, not a one-off.
        while comments.len() < 2 {
            let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .unwrap_or_else(|_| panic!("no keep-alive within 5 s; the stream so far: {seen:?}"))
                .expect("the stream ended")
                .unwrap();
            if let Some(d) = frame.data_ref() {
                let text = String::from_utf8_lossy(d);
                if text.starts_with(':') {
                    comments.push((text.to_string(), t.elapsed()));
                }
                seen.push_str(&text);
            }
        }
        assert!(seen.starts_with("event: status\n"), "{seen:?}");
        assert_eq!(comments[0].0, ": keep-alive\n\n", "{seen:?}");
        // Not sooner than the interval, and well before the 10 s default.
        assert!(
            comments[0].1 >= every - Duration::from_millis(20),
            "{comments:?}"
        );
        assert!(
            comments[1].1 >= 2 * every - Duration::from_millis(20),
            "{comments:?}"
        );
        assert!(comments[1].1 < Duration::from_secs(5), "{comments:?}");
    }

    #[tokio::test]
    async fn writes_are_not_routes() {
        let app = router(state(None));
        let r = app
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri("/api/status")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn query_tokens_are_percent_decoded_and_plus_is_plus() {
        assert_eq!(percent_decoded("q+3/Zw9="), b"q+3/Zw9=");
        assert_eq!(percent_decoded("q%2B3%2FZw9%3D"), b"q+3/Zw9=");
        assert_eq!(percent_decoded("a%2"), b"a%2");
        assert_eq!(percent_decoded("a%zz%41"), b"a%zzA");
        assert_eq!(percent_decoded(""), b"");
    }

    #[tokio::test]
    async fn a_base64_token_is_taken_in_every_spelling_of_a_url() {
        let token = "q+3/Zw9=Ab+/x0Yk8+Lm/A==";
        let app = router(state(Some(token)));
        for q in [
            "q+3/Zw9=Ab+/x0Yk8+Lm/A==",
            "q%2B3%2FZw9%3DAb%2B%2Fx0Yk8%2BLm%2FA%3D%3D",
            "q%2b3/Zw9=Ab+/x0Yk8+Lm/A%3d%3d",
        ] {
            let (s, _, _) = get(app.clone(), &format!("/api/status?token={q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}");
        }
        for q in ["q%203/Zw9=Ab+/x0Yk8+Lm/A==", "q+3/Zw9=Ab+/x0Yk8+Lm/A=", ""] {
            let (s, _, _) = get(app.clone(), &format!("/api/status?token={q}")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{q}");
        }
    }

    #[test]
    fn host_names_of_this_machine() {
        let bound: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for h in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:8080",
            "127.0.0.1:8080",
            "127.9.9.9",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(local_name(h, bound), "{h}");
        }
        for h in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[fe80::1]:8080",
            "",
        ] {
            assert!(!local_name(h, bound), "{h}");
        }
    }

    #[tokio::test]
    async fn without_a_token_a_foreign_host_is_misdirected() {
        let st = AppState {
            local_host: Some("127.0.0.1:8080".parse().unwrap()),
            ..state(None)
        };
        let app = router(st);
        let ask = |host: &'static str| {
            let app = app.clone();
            async move {
                app.oneshot(
                    Request::builder()
                        .uri("/api/status")
                        .header("host", host)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
                .status()
            }
        };
        assert_eq!(
            ask("attacker.example").await,
            StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(ask("localhost:8080").await, StatusCode::OK);
    }

    #[test]
    fn tokens_that_guard_nothing_are_refused() {
        let mut cfg = crate::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            auth_token: Some(String::new()),
            insecure_no_auth: false,
            lake: None,
            geo: None,
            limits: crate::Limits::default(),
        };
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("--auth-token is empty"), "{e}");
        cfg.auth_token = Some("s3cret".into());
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("at least 16"), "{e}");
        cfg.auth_token = Some("sixteen chars ok".into());
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("printable ASCII"), "{e}");
        cfg.auth_token = Some("q+3/Zw9=Ab+/x0Yk8+Lm/A==".into());
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let mut cfg = crate::ServerConfig {
            addr: "0.0.0.0:8080".parse().unwrap(),
            auth_token: None,
            insecure_no_auth: false,
            lake: None,
            geo: None,
            limits: crate::Limits::default(),
        };
        assert!(cfg.check().is_err());
        cfg.insecure_no_auth = true;
        assert!(cfg.check().is_ok());
        cfg.insecure_no_auth = false;
        cfg.auth_token = Some("a-token-of-16-ch".into());
        assert!(cfg.check().is_ok());
        cfg.addr = "127.0.0.1:0".parse().unwrap();
        cfg.auth_token = None;
        assert!(cfg.check().is_ok());
    }
}
