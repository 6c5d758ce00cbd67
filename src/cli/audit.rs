//! `ece-server audit`: prints the stored audit events as JSON lines, oldest first.

use chrono::Utc;
use clap::Args;

use crate::config::DbArgs;
use crate::domain::audit::to_json;
use crate::domain::model::Timestamp;
use crate::store::AuditFilter;

fn parse_time(s: &str) -> Result<Timestamp, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2024-05-01T00:00:00Z: {e}"))
}

/// Options of `ece-server audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Only events whose actor or target is this user.
    #[arg(long)]
    pub user: Option<String>,

    /// Only this event (e.g. `login`, `user.password_change`).
    #[arg(long)]
    pub event: Option<String>,

    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,

    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,

    /// At most this many events: the most recent ones, printed oldest first.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

/// `ece-server audit`: prints the matching events as JSON lines, oldest first.
pub async fn run_cli(args: AuditArgs) -> anyhow::Result<()> {
    let store = super::user::open_existing(&args.db).await?;
    let filter = AuditFilter {
        user: args.user,
        event: args.event,
        since: args.since,
        until: args.until,
        limit: Some(args.limit),
    };
    let events = store.list_audit(&filter).await?;
    let mut out = std::io::stdout().lock();
    for e in &events {
        std::io::Write::write_all(&mut out, format!("{}\n", to_json(e)).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339() {
        assert!(parse_time("2024-05-01T00:00:00Z").is_ok());
        assert!(parse_time("2024-05-01T02:00:00+02:00").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
