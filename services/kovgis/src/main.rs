//! The `kovgis` binary: `serve`, `migrate` and `load-demo`.
//!
//! Wiring only: configuration (flags with `KOVGIS_*` environment fallbacks, `DATABASE_URL`),
//! logging, and the calls into the library crates.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kovgis_core::InputLimits;
use kovgis_spatial::PageTokenKey;
use kovgis_store::{Store, StoreConfig};

mod import_cmd;

/// mimalloc: the import moves millions of small allocations between reader threads and the
/// runtime, where glibc's arenas contend (measured: a quarter of the import's CPU in malloc/free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "kovgis",
    version,
    about = "Shared geo-information procedure backend for Estonia's local governments"
)]
struct Cli {
    /// PostgreSQL + PostGIS connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "KOVGIS_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the gRPC services (applies pending migrations first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "KOVGIS_LISTEN", default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Most vertices accepted in one client geometry.
        #[arg(long, env = "KOVGIS_MAX_VERTICES", default_value_t = InputLimits::default().max_vertices)]
        max_vertices: usize,
        /// Most database connections.
        #[arg(long, env = "KOVGIS_DB_CONNECTIONS", default_value_t = 16)]
        db_connections: usize,
        /// Secret (16+ bytes) that page tokens are signed with; give every instance behind one
        /// address the same. Unset: a random key of this process, whose tokens end with it.
        #[arg(long, env = "KOVGIS_PAGE_TOKEN_KEY", hide_env_values = true)]
        page_token_key: Option<String>,
        /// Seconds an `ImportFeatures` stream may stay silent before it is abandoned.
        #[arg(long, env = "KOVGIS_IMPORT_IDLE_SECS", default_value_t = kovgis_spatial::Config::default().import_idle_timeout.as_secs())]
        import_idle_secs: u64,
        /// Seconds an `ImportFeatures` stream may take in all before it is abandoned.
        #[arg(long, env = "KOVGIS_IMPORT_TOTAL_SECS", default_value_t = kovgis_spatial::Config::default().import_total_timeout.as_secs())]
        import_total_secs: u64,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Bulk-import a file (cadastre or layer) as a new dataset version.
    #[command(subcommand)]
    Import(Box<import_cmd::ImportCommand>),
    /// Load (or refresh) the demo data from the fixtures folder; unchanged files are skipped.
    LoadDemo {
        #[arg(long, env = "KOVGIS_FIXTURES", default_value = "fixtures")]
        fixtures: PathBuf,
        /// Load only the municipalities (e.g. before importing a national cadastre).
        #[arg(long)]
        municipalities_only: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let database_url = cli
        .database_url
        .clone()
        .context("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:54329/kovgis)")?;
    let connect = |max_connections| async move {
        Store::connect(&StoreConfig {
            database_url,
            max_connections,
        })
        .await
        .context("cannot open the database")
    };
    match cli.command {
        Command::Migrate => {
            let store = connect(2).await?;
            let applied = store.migrate().await?;
            tracing::info!(applied = ?applied, "database schema is current");
        }
        Command::Import(cmd) => {
            let store = connect(2).await?;
            store.migrate().await?;
            import_cmd::run(&store, *cmd).await?;
        }
        Command::LoadDemo {
            fixtures,
            municipalities_only,
        } => {
            let store = connect(2).await?;
            store.migrate().await?;
            let report = if municipalities_only {
                store.load_demo_municipalities(&fixtures).await
            } else {
                store.load_demo(&fixtures).await
            };
            let report =
                report.with_context(|| format!("loading demo data from {}", fixtures.display()))?;
            for (file, rows) in &report.loaded {
                tracing::info!(%file, rows, "loaded");
            }
            for file in &report.unchanged {
                tracing::info!(%file, "unchanged, skipped");
            }
        }
        Command::Serve {
            listen,
            max_vertices,
            db_connections,
            page_token_key,
            import_idle_secs,
            import_total_secs,
        } => {
            let page_tokens = match page_token_key {
                Some(secret) => PageTokenKey::new(secret.as_bytes())
                    .map_err(anyhow::Error::msg)
                    .context("--page-token-key / KOVGIS_PAGE_TOKEN_KEY")?,
                None => {
                    tracing::warn!(
                        "no --page-token-key (KOVGIS_PAGE_TOKEN_KEY): page tokens are signed with \
                         a random key of this process; another instance or a restart refuses them"
                    );
                    PageTokenKey::random()
                }
            };
            let store = connect(db_connections).await?;
            store.migrate().await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let config = kovgis_spatial::Config {
                limits: InputLimits { max_vertices },
                page_tokens,
                import_idle_timeout: std::time::Duration::from_secs(import_idle_secs.max(1)),
                import_total_timeout: std::time::Duration::from_secs(import_total_secs.max(1)),
                ..Default::default()
            };
            kovgis_spatial::run(listener, store, config, shutdown_signal()).await?;
        }
    }
    Ok(())
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested; finishing in-flight calls");
}
