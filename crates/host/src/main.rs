//! `lode-host build` and `lode-host up`: see the crate docs of `lode_host`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use lode_host::http_server::HttpTrigger;
use lode_host::manifest::Manifest;
use lode_host::runtime::App;
use lode_host::stores::StateDir;
use lode_host::{build, redis_trigger};

#[derive(Parser)]
#[command(
    name = "lode-host",
    version,
    about = "Run a Spin application locally on wasmtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every component's build command, like `spin build`.
    Build {
        /// The application manifest.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
    },
    /// Pre-initialise a component (run its `wizer-initialize` export and
    /// snapshot it), as the embed step's build command does.
    Wizen {
        /// The component to initialise.
        input: PathBuf,
        /// Where to write the snapshot.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Serve the application, like `spin up`.
    Up {
        /// The application manifest.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
        /// Address to listen on (port 0 picks a free port; the real one is printed).
        #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Build the components first.
        #[arg(long)]
        build: bool,
        /// Where the SQLite and key-value files live (default: `.spin` beside the manifest).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Where the embedding model served as `all-minilm-l6-v2` lives (default: `models` beside the manifest).
        #[arg(long, env = "LODE_MODEL_DIR")]
        model_dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Build { manifest } => build::build_all(&Manifest::load(&manifest)?),
        Command::Wizen { input, output } => {
            let bytes =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let snapshot = lode_host::wizen::wizen(&bytes).await?;
            std::fs::write(&output, &snapshot)
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "wizened {} ({} bytes) -> {} ({} bytes)",
                input.display(),
                bytes.len(),
                output.display(),
                snapshot.len()
            );
            Ok(())
        }
        Command::Up {
            manifest,
            listen,
            build,
            state_dir,
            model_dir,
        } => up(manifest, listen, build, state_dir, model_dir).await,
    }
}

async fn up(
    manifest: PathBuf,
    listen: SocketAddr,
    build: bool,
    state_dir: Option<PathBuf>,
    model_dir: Option<PathBuf>,
) -> Result<()> {
    let started = Instant::now();
    let manifest = Manifest::load(&manifest)?;
    if build {
        build::build_all(&manifest)?;
    }
    let state_dir = state_dir.unwrap_or_else(|| manifest.dir.join(".spin"));
    let state = StateDir::create(&state_dir)?;
    eprintln!(
        "Storing default SQLite data to {:?}",
        state_dir.join(lode_host::stores::SQLITE_FILE)
    );
    eprintln!(
        "Storing default key-value data to {:?}",
        state_dir.join(lode_host::stores::KEY_VALUE_FILE)
    );
    let model_dir = model_dir.unwrap_or_else(|| manifest.dir.join("models"));
    let app = Arc::new(App::load(manifest, state, &model_dir, &|k| {
        std::env::var(k).ok()
    })?);

    let workers = redis_trigger::concurrency(std::env::var("LODE_REDIS_CONCURRENCY").ok());
    for (address, channels) in redis_trigger::subscriptions(&app)? {
        tokio::spawn(redis_trigger::run(
            app.clone(),
            address,
            channels,
            workers.clone(),
        ));
    }
    let http = Arc::new(HttpTrigger::new(app.clone()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("{listen} is already in use or cannot be bound"))?;
    let base = format!("http://{}", listener.local_addr()?);
    eprintln!("Serving {base}");
    start_sweeper(&app, listener.local_addr()?);
    http.print_routes(&base);
    eprintln!(
        "Ready in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    http.serve(listener, shutdown_signal()).await?;
    eprintln!("Shut down cleanly");
    Ok(())
}

/// Run the job sweep on an interval (`LODE_SWEEP_SECS`, default 15; 0 turns
/// it off) when the app serves the sweep route and has an admin key.
fn start_sweeper(app: &App, addr: SocketAddr) {
    let secs: u64 = std::env::var("LODE_SWEEP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let serves = app
        .manifest
        .trigger
        .http
        .iter()
        .any(|t| t.route == lode_host::sweeper::ROUTE);
    let key = app.variables.expand_app("{{ admin_api_key }}").ok();
    if let (true, Some(key), true) = (serves, key, secs > 0) {
        let addr = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        tokio::spawn(lode_host::sweeper::run(
            addr,
            key,
            std::time::Duration::from_secs(secs),
        ));
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish in-flight requests, exit 0.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
