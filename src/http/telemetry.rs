//! Observability: Prometheus metrics, liveness/readiness endpoints and per-request tracing with a
//! request id.
//!
//! Metrics (rendered at `/metrics`, on the API port or on `--metrics-listen`):
//! - `ece_http_requests_total{operation,status}` and `ece_http_request_duration_seconds{operation}`
//!   (kept by [`durations`], in fixed buckets), labelled with the swagger operationId (`unmatched`
//!   for unknown routes) so cardinality stays fixed;
//! - `ece_login_failures_total`, `ece_login_throttled_total`, `ece_store_errors_total`;
//! - `ece_active_sessions`, read from the store at scrape time.
//!
//! Every request gets an `x-request-id` (the client's, if it sent a sane one), echoed in the reply
//! and written on its access line ([`access`]); `crate::http::pipeline` calls [`Seen`] around
//! each request. With debug logging on, the request also runs in a
//! `request` span carrying the id, so every line it logs names it.
//!
//! Per request this costs no allocation beyond the id's header value: the metric handles are
//! looked up once per thread and operation, the access line is written by hand, and the span is
//! only created when a subscriber listens at DEBUG.

pub mod access;
mod durations;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::domain::rbac::{self, Operation};
use crate::http::error::ApiError;
use crate::http::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The process-wide metrics recorder (installed once; tests start many servers in one process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // No histogram goes through it (`durations` keeps the one there is), so it holds no
        // values that would need draining.
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed, in which case that one is used.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The operation a request is for and its metrics label: its operationId, `other` for an API
/// path that is no operation (the swagger document, or a method the path does not serve), and
/// `unmatched` for anything else. Found from the path before routing (the pipeline runs in front
/// of the router, so the route it will match is not known yet), by `rbac::operations_at`.
pub fn operation_of(req: &Request) -> (Option<&'static Operation>, &'static str) {
    operation(req.method().as_str(), req.uri().path())
}

fn operation(method: &str, path: &str) -> (Option<&'static Operation>, &'static str) {
    let Some(path) = path.strip_prefix("/api/v1") else {
        return (None, "unmatched");
    };
    if path == "/api-docs/swagger.json" {
        return (None, "other");
    }
    match rbac::operations_at(path) {
        Some(ops) => {
            let op = rbac::with_method(ops, method);
            (op, op.map_or("other", |op| op.id))
        }
        None => (None, "unmatched"),
    }
}

/// A request id unique to this process and, with 72 random bits per process, across replicas:
/// a random prefix drawn once and a counter. Ids are labels, not secrets; the OS random source
/// is not worth a system call per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| crate::security::crypto::random_token(9));
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // 12 characters of prefix, a dash and 4 to 16 hex digits: built on the stack, not with
    // `format!`.
    let mut buf = [0u8; 64];
    let len = prefix.len();
    buf[..len].copy_from_slice(prefix.as_bytes());
    buf[len] = b'-';
    // At least 4 digits, so that every id is at least 17 characters long.
    let digits = ((16 - n.leading_zeros() / 4) as usize).max(4);
    for (i, slot) in buf[len + 1..len + 1 + digits].iter_mut().enumerate() {
        let shift = 4 * (digits - 1 - i);
        *slot = b"0123456789abcdef"[((n >> shift) & 15) as usize];
    }
    // The id's bytes are cut from a per-thread block instead of allocated one by one: the header
    // value shares the block (a reference count), and a new block is taken when it is used up.
    thread_local! {
        static BLOCK: RefCell<bytes::BytesMut> = RefCell::new(bytes::BytesMut::new());
    }
    let id = &buf[..len + 1 + digits];
    let shared = BLOCK.with(|block| {
        let mut block = block.borrow_mut();
        if block.capacity() < id.len() {
            *block = bytes::BytesMut::with_capacity(4096);
        }
        block.extend_from_slice(id);
        block.split().freeze()
    });
    HeaderValue::from_maybe_shared(shared).expect("base64url and hex are valid in a header")
}

/// The request counter and duration histogram of one operation and status.
struct Handles {
    requests: metrics::Counter,
    duration: std::sync::Arc<durations::Durations>,
}

/// Counts a request of `op` (one of the `&'static str` operation ids) with `status` that took
/// `elapsed`. Registering by name builds a label vector and hashes it into the recorder's
/// registry on every call; each worker thread does that once per (operation, status) and keeps
/// the handles, used in place (a clone would be two reference counts up and down per request).
fn count(op: &'static str, status: u16, elapsed: std::time::Duration) {
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, u16), Handles, foldhash::fast::FixedState>> =
            RefCell::new(HashMap::default());
    }
    // Operation ids are static strings from one table: their address identifies them.
    let key = (op.as_ptr() as usize, status);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let h = cache.entry(key).or_insert_with(|| Handles {
            requests: metrics::counter!("ece_http_requests_total", "operation" => op, "status" => status_label(status)),
            duration: durations::of(op),
        });
        h.requests.increment(1);
        h.duration.record(elapsed);
    })
}

/// The `status` label of a status code, without allocating per request: every code from 100 to
/// 999 is rendered once and kept.
fn status_label(status: u16) -> &'static str {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..1000u16).map(|c| c.to_string()).collect());
    // StatusCode only holds 100..=999.
    &labels[usize::from(status.clamp(100, 999) - 100)]
}

/// What the access line and the metrics need of a request, taken before its handler runs
/// (the request itself moves into the handler).
pub struct Seen {
    id: HeaderValue,
    method: Method,
    /// A copy of the path, inline when short: cloning the `Uri` cost an allocation (its bytes
    /// become shared on the first clone) and a reference count.
    path: smallvec::SmallVec<[u8; 64]>,
    op: &'static str,
    start: Instant,
    /// Disabled (no allocation, no formatting) unless a subscriber listens at DEBUG.
    span: tracing::Span,
}

impl Seen {
    /// Takes the request's id (the client's, if sane, else a new one) and starts the clock.
    /// `op` is the metrics label of [`operation_of`].
    pub fn begin(req: &Request, op: &'static str) -> Seen {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| v.len() <= 128 && v.as_bytes().iter().all(u8::is_ascii_graphic))
            .cloned()
            .unwrap_or_else(new_request_id);
        let (method, path) = (req.method().clone(), req.uri().path());
        let span =
            tracing::debug_span!("request", id = %id.to_str().unwrap_or(""), %method, path, op);
        Seen {
            id,
            method,
            path: path.as_bytes().into(),
            op,
            start: Instant::now(),
            span,
        }
    }

    /// The request's span, entered while its handler runs.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Writes the access line, counts the request and echoes its id on `res`.
    pub fn finish(self, res: &mut Response) {
        let status = res.status().as_u16();
        let elapsed = self.start.elapsed();
        let record = access::Record {
            id: self.id.as_bytes(),
            method: self.method.as_str(),
            path: &self.path,
            op: self.op,
            status,
            elapsed,
        };
        if !access::write(&record) && tracing::enabled!(tracing::Level::INFO) {
            // A copy of a `&str`, so this cannot fail.
            let path = std::str::from_utf8(&self.path).unwrap_or_default();
            self.span.in_scope(|| {
                tracing::info!(
                    id = %self.id.to_str().unwrap_or(""),
                    method = %self.method,
                    path,
                    op = self.op,
                    status,
                    ms = elapsed.as_secs_f64() * 1000.0,
                    "request finished"
                )
            });
        }
        count(self.op, status, elapsed);
        res.headers_mut().insert(REQUEST_ID, self.id);
    }
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn routes(with_metrics: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if with_metrics {
        router.route("/metrics", get(render))
    } else {
        router
    }
}

/// A router with only `/metrics`, for `--metrics-listen`.
pub fn metrics_only(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the store answers.
async fn readyz(State(app): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    app.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

async fn render(State(app): State<AppState>) -> Response {
    match app.store.count_active_sessions(chrono::Utc::now()).await {
        Ok(n) => metrics::gauge!("ece_active_sessions").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count sessions for /metrics"),
    }
    let mut body = handle().render();
    durations::render(&mut body);
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

/// Counts a failed password check (login or Basic).
pub fn login_failed() {
    metrics::counter!("ece_login_failures_total").increment(1);
}

/// Counts a request refused by brute-force protection.
pub fn login_throttled() {
    metrics::counter!("ece_login_throttled_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_from_the_route() {
        fn label(method: &str, path: &str) -> &'static str {
            operation(method, path).1
        }
        assert_eq!(label("GET", "/api/v1/users/alice"), "get-user");
        assert_eq!(label("PATCH", "/api/v1/users/alice"), "update-user");
        assert_eq!(
            label("GET", "/api/v1/users/alice/auth/keys"),
            "get-user-api-keys"
        );
        assert_eq!(label("GET", "/api/v1/users/auth/keys"), "get-api-keys");
        assert_eq!(label("GET", "/api/v1/users/auth/keys/k1"), "get-api-key");
        assert_eq!(
            label("GET", "/api/v1/users/alice/auth/keys/k1"),
            "get-user-api-key"
        );
        assert_eq!(label("POST", "/api/v1/users/auth/_login"), "login");
        assert_eq!(label("PUT", "/api/v1/users/alice"), "other");
        assert_eq!(label("GET", "/api/v1/api-docs/swagger.json"), "other");
        assert_eq!(label("GET", "/api/v1/nothing"), "unmatched");
        assert_eq!(label("GET", "/healthz"), "unmatched");
        // Every operation is found at its own path, whatever its parameters are called.
        for op in rbac::OPERATIONS {
            let path = format!("/api/v1{}", op.path.replace('{', "x").replace('}', ""));
            assert_eq!(label(op.method, &path), op.id, "{}", op.path);
        }
    }

    #[test]
    fn request_ids_are_distinct_and_status_labels_are_the_codes() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(
            a.to_str().unwrap().rsplit_once('-').unwrap().0,
            b.to_str().unwrap().rsplit_once('-').unwrap().0
        );
        for code in [100, 200, 404, 503, 999] {
            assert_eq!(status_label(code), code.to_string());
        }
    }
}
