//! The `kovgis` binary: `serve`, `migrate`, `import`, `load-demo`, `audit` and `token`.
//!
//! Wiring only: configuration (flags with `KOVGIS_*` environment fallbacks, `DATABASE_URL`),
//! logging, and the calls into the library crates. `DATABASE_URL` is the service role
//! (`kovgis_service`: row-level security applies); only `migrate` connects as the owner role
//! (`--owner-url` / `KOVGIS_OWNER_DATABASE_URL`). The other commands check that the schema is
//! current and say which command to run when it is not.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kovgis_store::{Store, StoreConfig};

mod audit_cmd;
mod auth_args;
mod import_cmd;
mod serve_args;
mod tls_args;
mod token_cmd;

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
    /// PostgreSQL + PostGIS connection URL, as the service role (kovgis_service).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// The owner role's connection URL (kovgis_owner), for `migrate` (default: DATABASE_URL).
    #[arg(
        long,
        env = "KOVGIS_OWNER_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    owner_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "KOVGIS_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the gRPC services (the schema must be current: see `migrate`).
    Serve(Box<serve_args::ServeArgs>),
    /// Apply pending database migrations, as the owner role (--owner-url).
    Migrate,
    /// Check the audit chains, or print their heads for safekeeping.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
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
    /// Development keys and tokens: `token init-dev-key --dir D`, `token --key … --subject …`.
    Token(Box<token_cmd::TokenCommand>),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    // `token` needs no database.
    let command = match cli.command {
        Command::Token(cmd) => return token_cmd::run(*cmd),
        other => other,
    };
    let database_url = cli
        .database_url
        .clone()
        .context("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:54329/kovgis)")?;
    let connect = |max_connections| {
        let database_url = database_url.clone();
        async move {
            let store = Store::connect(&StoreConfig::new(database_url, max_connections))
                .await
                .context("cannot open the database")?;
            schema_current(&store).await?;
            anyhow::Ok(store)
        }
    };
    match command {
        Command::Token(_) => unreachable!("handled above"),
        Command::Migrate => {
            let url = cli
                .owner_url
                .clone()
                .unwrap_or_else(|| database_url.clone());
            let store = Store::connect(&StoreConfig::new(url, 2))
                .await
                .context("cannot open the database as the owner (KOVGIS_OWNER_DATABASE_URL)")?;
            let applied = store.migrate().await?;
            tracing::info!(applied = ?applied, "database schema is current");
        }
        Command::Import(cmd) => {
            let store = connect(2).await?;
            import_cmd::run(&store, *cmd).await?;
        }
        Command::Audit(cmd) => {
            let store = connect(2).await?;
            audit_cmd::run(&store, cmd).await?;
        }
        Command::LoadDemo {
            fixtures,
            municipalities_only,
        } => {
            let store = connect(2).await?;
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
        Command::Serve(args) => {
            let mut config = args.config()?;
            config.auth = args.auth.auth()?;
            config.tls = args.tls.tls()?;
            let store = Store::connect(&args.store_config(database_url)?)
                .await
                .context("cannot open the database")?;
            schema_current(&store).await?;
            if !store.bbox_operator_leakproof().await? {
                tracing::warn!(
                    "PostGIS's && is not marked LEAKPROOF in this database: under row-level \
                     security spatial queries cannot use their index and will scan (README: \
                     Database roles, row-level security and audit)"
                );
            }
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            serve(&args, listener, store, config).await?;
        }
    }
    Ok(())
}

/// Runs the services `args.service` names until Ctrl-C or SIGTERM.
async fn serve(
    args: &serve_args::ServeArgs,
    listener: tokio::net::TcpListener,
    store: Store,
    config: kovgis_spatial::Config,
) -> anyhow::Result<()> {
    use kovgis_procedures::{GrpcChecker, InProcessChecker, ProcedureApi, SystemNow};
    use serve_args::Service;
    let jobs = args.jobs_every()?;
    let (rechecks, recheck_config) = args.recheck()?;
    let procedures = |checker: std::sync::Arc<dyn kovgis_procedures::SpatialChecker>,
                      rechecks: Option<std::time::Duration>| {
        let api = ProcedureApi::new(
            store.clone(),
            checker,
            std::sync::Arc::new(SystemNow),
            config.limits,
            config.page_tokens.clone(),
            config.server.call_timeout,
        )
        .with_recheck(recheck_config.clone());
        if let Some(every) = jobs {
            // Runs as long as the process: the task ends with it.
            drop(api.spawn_jobs(every));
        }
        if let Some(every) = rechecks {
            drop(api.spawn_rechecks(every));
        }
        api
    };
    if args.service != Service::Spatial {
        // The messages to the authorities (the outbox), delivered to their webhooks; safe on
        // several instances at once.
        let deliverer =
            kovgis_outbox::Deliverer::new(store.clone(), kovgis_outbox::DelivererConfig::default())
                .map_err(|e| anyhow::anyhow!("outbox deliverer: {e}"))?;
        drop(deliverer.spawn(std::future::pending()));
    }
    match args.service {
        Service::Spatial => {
            kovgis_spatial::run(listener, store.clone(), config.clone(), shutdown_signal()).await?
        }
        Service::All => {
            let max = config.max_message_bytes;
            kovgis_spatial::run_with(
                listener,
                store.clone(),
                config.clone(),
                |spatial| {
                    let checker = std::sync::Arc::new(InProcessChecker::new(spatial.clone()));
                    Some(procedures(checker, rechecks).into_extra(max))
                },
                shutdown_signal(),
            )
            .await?
        }
        Service::Procedures => {
            let url = args.spatial_url.clone().context(
                "--service procedures checks geometries with a SpatialService: give --spatial-url",
            )?;
            let channel = tonic::transport::Endpoint::from_shared(url.clone())
                .with_context(|| format!("--spatial-url {url}"))?
                .connect_lazy();
            let mut checker = GrpcChecker::new(channel);
            if let Some(token) = &args.spatial_token {
                checker = checker
                    .with_background_token(token)
                    .map_err(|e| anyhow::anyhow!("--spatial-token: {e}"))?;
            } else if rechecks.is_some() {
                tracing::warn!(
                    "no --spatial-token: this process runs no re-checks (run them where the \
                     SpatialService runs in process, or give the service a token)"
                );
            }
            let rechecks = rechecks.filter(|_| checker.has_background_token());
            let extra = procedures(std::sync::Arc::new(checker), rechecks)
                .into_extra(config.max_message_bytes);
            kovgis_spatial::run_only(listener, config.clone(), extra, shutdown_signal()).await?
        }
    }
    Ok(())
}

/// Refuses to work on a schema older than this binary: migrations are the owner's
/// (`kovgis migrate`), not the service role's.
async fn schema_current(store: &Store) -> anyhow::Result<()> {
    let pending = store.pending_migrations().await?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is not current (pending: {}): run `kovgis migrate` with the owner \
             role's URL in KOVGIS_OWNER_DATABASE_URL (or --owner-url) first",
            pending.join(", ")
        );
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
