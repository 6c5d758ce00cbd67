//! The `ece-server` command: `serve` runs the API server, `migrate` applies database migrations,
//! `backup` copies the embedded SQLite store, `user` recovers accounts offline, `audit` prints the
//! audit log.

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ece_server::config::{DbArgs, ServeArgs};

/// A self-hosted server for the Elastic Cloud Enterprise identity API (/api/v1).
#[derive(Parser)]
#[command(name = "ece-server", version, about)]
struct Cli {
    /// Log format: human-readable `text` or one JSON object per line (`json`).
    #[arg(long, global = true, env = "ECE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (creates the account and built-in users on first start).
    // Boxed: the server's options are far larger than any other command's.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations, then exit.
    Migrate(DbArgs),
    /// Copy the embedded SQLite store to a file, online and consistent (VACUUM INTO).
    /// A PostgreSQL store is backed up with pg_dump instead.
    Backup(ece_server::cli::backup::BackupArgs),
    /// Recovery commands on a user, with the server stopped or running.
    #[command(subcommand)]
    User(ece_server::cli::user::UserCommand),
    /// Print audit events as JSON lines, oldest first.
    Audit(ece_server::cli::audit::AuditArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs go to stderr; the level comes from ECE_LOG (e.g. `info`, `ece_server=debug`). Lines are
    // written in batches (see ece_server::logwriter); `_logs` writes out the rest when main ends.
    let filter = EnvFilter::try_from_env("ECE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, _logs) = ece_server::logwriter::stderr();
    // Colour codes only for a terminal: in a log file or a pipe they are noise (and cost
    // formatting time on every request).
    let ansi = std::io::stderr().is_terminal();
    let access_writer = writer.clone();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if cli.log_format == "json" {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
    // Access lines are written by hand, in the same layout, into the same batches. Whether the
    // filter lets them through is asked once, here: it does not change while the server runs,
    // and asking per request went through the filter's directives every time.
    use ece_server::http::telemetry::access;
    if !ansi && tracing::enabled!(target: access::TARGET, tracing::Level::INFO) {
        access::install(cli.log_format == "json", move |line| {
            access_writer.write_line(line)
        });
    }
    match cli.command {
        Command::Serve(args) => {
            let config = args.config()?;
            if let Some(files) = ece_server::connguard::raise_open_file_limit() {
                tracing::info!(limit = files, "open file limit");
            }
            let app = ece_server::startup::Application::build(config).await?;
            app.run().await
        }
        Command::Migrate(db) => {
            let url = ece_server::cli::migrate::run(&db).await?;
            println!("migrations applied to {url}");
            Ok(())
        }
        Command::Backup(args) => {
            let bytes = ece_server::cli::backup::run(&args).await?;
            println!("backup written to {} ({bytes} bytes)", args.to.display());
            Ok(())
        }
        Command::User(cmd) => ece_server::cli::user::run(cmd).await,
        Command::Audit(args) => ece_server::cli::audit::run_cli(args).await,
    }
}
