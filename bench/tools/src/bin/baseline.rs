//! The baseline of every ratio: a minimal axum server answering `GET /api/v1/account` with a fixed
//! JSON body (the one the real server returns), with no authentication, no store, no middleware.
//!
//! Usage: `baseline ADDR BODY_JSON`. Uses the same runtime setup as the server (`#[tokio::main]`,
//! one worker per core it may run on) and sets TCP_NODELAY as the server does.

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:12499".into());
    let body = args
        .next()
        .unwrap_or_else(|| r#"{"id":"baseline","trust":{"trust_all":true}}"#.into());
    // Parse once so the handler serialises a value, as the server's handler does.
    let value: serde_json::Value = serde_json::from_str(&body).expect("BODY_JSON must be JSON");
    let app = Router::new().route(
        "/api/v1/account",
        get(move || {
            let value = value.clone();
            async move {
                (
                    [(CONTENT_TYPE, "application/json")],
                    serde_json::to_vec(&value).expect("a JSON value serialises"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("cannot bind")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    eprintln!("baseline listening on http://{addr}/api/v1/account");
    axum::serve(listener, app).await.expect("serve failed");
}
