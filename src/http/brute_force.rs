//! The HTTP side of brute-force protection: asking the replica's throttle
//! (`crate::security::throttle`) before a password check, the 429 replies, and the audit events
//! of failed and abandoned checks. The throttle says what happened; this module writes it down.

use std::net::IpAddr;

use crate::http::audit::{self, Event, Outcome};
use crate::http::error::{ApiError, Code};
use crate::http::AppState;
use crate::security::throttle::{Attempt, Lockout, Throttled};

/// The 429 reply. The same message whether the name or the address is throttled.
impl From<Throttled> for ApiError {
    fn from(t: Throttled) -> Self {
        let secs = t.retry_after_secs();
        ApiError::new(
            Code::TooManyRequests,
            format!("Too many failed sign-in attempts. Retry in {secs} seconds."),
        )
        .with_header("retry-after", secs.to_string())
    }
}

/// The 429 reply to a sign-in check refused because the hashing queue is full
/// ([`crate::security::crypto::QueueFull`]): the server is busy, the caller did nothing wrong.
pub fn hashing_busy() -> ApiError {
    ApiError::new(
        Code::TooManyRequests,
        "Too many sign-in attempts are being checked. Retry in 1 second.",
    )
    .with_header("retry-after", "1")
}

/// Asks the app's throttle for a password check; a refusal becomes the 429 reply. `via`
/// (`password` or `basic`) is what an abandoned attempt is audited with.
pub fn begin(
    app: &AppState,
    user: &str,
    source: Option<IpAddr>,
    via: &'static str,
) -> Result<Attempt, Throttled> {
    let mut attempt = app.throttle.begin(user, source).inspect_err(|t| {
        crate::http::telemetry::login_throttled();
        tracing::debug!(user = %user, source = ?source, retry_after = t.retry_after_secs(), "sign-in attempt refused by brute-force protection");
    })?;
    let app = app.clone();
    attempt.on_abandon(Box::new(move |user, source, lockout| {
        crate::http::telemetry::login_failed();
        // Drop cannot wait for the audit write: it goes on in the background.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                record_failure(&app, &user, source, via, lockout, true).await;
            });
        }
    }));
    Ok(attempt)
}

/// [`crate::security::throttle::Throttle::begin_known`] on the app's throttle.
pub fn begin_known(app: &AppState, user: &str, source: Option<IpAddr>) -> Attempt {
    app.throttle.begin_known(user, source)
}

/// Counts the failure and writes it to the audit log, with the wait it imposed if any.
/// `via`: `password` (`_login`) or `basic`.
pub async fn failed(app: &AppState, attempt: Attempt, via: &'static str) {
    let (user, source) = (attempt.user().to_string(), attempt.source());
    let lockout = attempt.failed();
    record_failure(app, &user, source, via, lockout, false).await;
}

/// Writes a failed (or abandoned) password check to the audit log, and the waits it imposed.
async fn record_failure(
    app: &AppState,
    user: &str,
    source: Option<IpAddr>,
    via: &'static str,
    lockout: Lockout,
    abandoned: bool,
) {
    let event = |outcome| {
        let e = Event::anonymous("login", source)
            .target(user)
            .outcome(outcome)
            .detail("auth", via);
        if abandoned {
            e.detail("abandoned", true)
        } else {
            e
        }
    };
    audit::record(app, event(Outcome::Failure)).await;
    for (scope, wait) in [("user", lockout.user), ("address", lockout.address)] {
        if let Some(wait) = wait {
            tracing::warn!(user = %user, source = ?source, scope, wait_secs = wait.as_secs(), "brute-force protection: sign-in attempts throttled");
            let e = event(Outcome::Throttled)
                .detail("scope", scope)
                .detail("wait_seconds", wait.as_secs());
            audit::record(app, e).await;
        }
    }
}
