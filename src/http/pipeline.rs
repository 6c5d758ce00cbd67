//! The service every request passes through before the route table (`crate::http::router::Api`
//! puts it there, after the region rewrite), in this order:
//! 1. telemetry: the request id, the `request` span, and after the reply the access line and
//!    the metrics (`crate::http::telemetry`);
//! 2. a declared `Content-Length` over `--max-body-bytes`: 413 at once;
//! 3. authentication (`crate::http::auth`): the caller is resolved once and left in the
//!    request's extensions; after the reply, its effects on the credential cache and the
//!    `X-Elastic-Api-Key-Expiration` header;
//! 4. the request timeout (`--request-timeout`): 408, over authentication and the handler;
//! 5. a panic in authentication or the handler: 500.
//!
//! The operation a request is for (its metrics label, and what its reply does to the credential
//! cache) is found from its path before routing (`telemetry::operation_of`).
//!
//! Why one hand-written service instead of axum's `from_fn` middlewares and tower's layers: a
//! `from_fn` middleware boxes its future, clones the service below it into a `Next` and boxes
//! that too, on every request, and the authentication future is large (it holds the Basic and
//! directory paths), so moving it into its box was the largest single cost of a cached
//! `GET /account` (bench/RESULTS.md). Here a request whose credentials the cache decides, the
//! common case, allocates nothing of its own: only a cache miss boxes the future that awaits the
//! store, Argon2 or a directory.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceExt};

use crate::http::auth::{self, AuthState, Begun, Client, Effects};
use crate::http::error::{ApiError, Code};
use crate::http::telemetry::{self, Seen};
use crate::http::AppState;

/// Puts [`Pipeline`] in front of a route table's services.
#[derive(Clone)]
pub struct PipelineLayer {
    app: AppState,
}

impl PipelineLayer {
    pub fn new(app: AppState) -> Self {
        PipelineLayer { app }
    }
}

impl<S> Layer<S> for PipelineLayer {
    type Service = Pipeline<S>;

    fn layer(&self, inner: S) -> Pipeline<S> {
        Pipeline {
            inner,
            app: self.app.clone(),
            peer: None,
        }
    }
}

/// See the module documentation. One per connection (`crate::server` serves each connection
/// with its own copy, which knows the peer's address).
#[derive(Clone)]
pub struct Pipeline<S> {
    inner: S,
    app: AppState,
    peer: Option<SocketAddr>,
}

impl<S> Pipeline<S> {
    /// This pipeline for the requests of a connection from `peer`.
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }
}

type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<S> Service<Request> for Pipeline<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = PipelineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        self.serve(req)
    }
}

impl<S> Pipeline<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    /// [`Service::call`] through a shared reference: the inner service is cloned for the
    /// request (one reference count for a router), not the whole pipeline.
    pub fn serve(&self, req: Request) -> PipelineFuture<S::Future> {
        let (op, label) = telemetry::operation_of(&req);
        let seen = Seen::begin(&req, label);
        let started = {
            let _entered = seen.span().enter();
            std::panic::catch_unwind(AssertUnwindSafe(|| self.start(req, op)))
        };
        let stage = started.unwrap_or_else(|_| Stage::Answered {
            reply: Some(panicked()),
        });
        PipelineFuture {
            stage,
            deadline: None,
            app: self.app.clone(),
            seen: Some(seen),
        }
    }

    /// Everything up to the handler that needs no waiting.
    fn start(
        &self,
        mut req: Request,
        op: Option<&'static crate::domain::rbac::Operation>,
    ) -> Stage<S::Future> {
        let app = &self.app;
        if let Some(reply) =
            crate::http::json::refuse_declared_oversize(req.headers(), app.settings.max_body_bytes)
        {
            return Stage::Answered { reply: Some(reply) };
        }
        let (peer, source) = (self.peer, self.peer.map(|a| a.ip()));
        match auth::begin(app, req.headers(), source) {
            Begun::Decided(auth) => {
                let effects = Effects::of(&auth, op);
                req.extensions_mut().insert(Client { peer, auth });
                Stage::Handler {
                    future: self.inner.clone().call(req),
                    effects,
                }
            }
            Begun::Pending(pending) => {
                let (app, inner) = (self.app.clone(), self.inner.clone());
                Stage::Waiting {
                    future: Box::pin(async move {
                        let auth: AuthState = auth::finish(&app, pending, source).await;
                        let effects = Effects::of(&auth, op);
                        req.extensions_mut().insert(Client { peer, auth });
                        let Ok(mut res) = inner.oneshot(req).await;
                        effects.apply(&app, &mut res);
                        res
                    }),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The reply of [`Pipeline`].
    pub struct PipelineFuture<F> {
        #[pin]
        stage: Stage<F>,
        // Started when the request first has to wait: most replies are ready at the first
        // poll, and a timer costs a clock read and a place in the timer wheel.
        #[pin]
        deadline: Option<tokio::time::Sleep>,
        app: AppState,
        seen: Option<Seen>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        /// Decided before the handler: 413, or a panic.
        Answered { reply: Option<Response> },
        /// Authenticated from the cache; the handler runs.
        Handler { #[pin] future: F, effects: Effects },
        /// Authentication awaits the store, Argon2 or a directory, then the handler runs.
        Waiting { future: Boxed },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for PipelineFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let polled = {
            let _entered = this.seen.as_ref().map(|s| s.span().enter());
            let stage = this.stage.as_mut();
            std::panic::catch_unwind(AssertUnwindSafe(|| poll_stage(stage, this.app, cx)))
        };
        let mut res = match polled {
            Ok(Poll::Ready(res)) => res,
            Err(_) => panicked(),
            Ok(Poll::Pending) => {
                if this.deadline.is_none() {
                    let timeout = this.app.settings.request_timeout;
                    this.deadline.set(Some(tokio::time::sleep(timeout)));
                }
                if let Some(deadline) = this.deadline.as_mut().as_pin_mut() {
                    ready!(deadline.poll(cx));
                }
                // Dropping the handler's future cancels it; nothing after this point runs it.
                this.stage.set(Stage::Answered { reply: None });
                ApiError::new(Code::RequestTimeout, "The request took too long.").into_response()
            }
        };
        if let Some(seen) = this.seen.take() {
            seen.finish(&mut res);
        }
        Poll::Ready(Ok(res))
    }
}

fn poll_stage<F: Future<Output = Result<Response, Infallible>>>(
    stage: Pin<&mut Stage<F>>,
    app: &AppState,
    cx: &mut Context<'_>,
) -> Poll<Response> {
    match stage.project() {
        StageProj::Answered { reply } => Poll::Ready(reply.take().unwrap_or_else(|| {
            ApiError::internal("a request was polled after it ended").into_response()
        })),
        StageProj::Handler { future, effects } => {
            let Ok(mut res) = ready!(future.poll(cx));
            effects.apply(app, &mut res);
            Poll::Ready(res)
        }
        StageProj::Waiting { future } => future.as_mut().poll(cx),
    }
}

fn panicked() -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

#[cfg(test)]
mod tests;
