//! Opening the stores named on the command line and building the engine.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use todovault_core::policy::{Policy, RepoLocation, UrlPolicy};
use todovault_core::{Error, JobStore, Orchestrator, Result, RunnerConfig, TodoStore, VaultStore};
use todovault_git::{GitSource, GitSourceOptions};
use todovault_http::Api;
use todovault_http::auth::BearerTokens;
use todovault_object_store::ObjectStoreVault;
use todovault_postgres::{PostgresConfig, PostgresStore};
use todovault_sqlite::SqliteStore;

/// The stores behind `--db` and `--vault`.
pub struct Stores {
    jobs: Arc<dyn JobStore>,
    todos: Arc<dyn TodoStore>,
    vault: Arc<dyn VaultStore>,
}

/// Who the engine serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal: local paths and `file://` repositories, and
    /// vault imports between any workspaces.
    Local,
    /// Remote callers: the secure defaults.
    Server {
        /// Vault imports across workspaces are allowed.
        cross_workspace: bool,
    },
}

impl Stores {
    /// Opens the database (SQLite file, or `postgres://` URL with `schema`) and the vault
    /// (folder path or object-store URL).
    pub async fn open(db: &str, schema: &str, vault: &str) -> Result<Self> {
        let (jobs, todos): (Arc<dyn JobStore>, Arc<dyn TodoStore>) =
            if db.starts_with("postgres://") || db.starts_with("postgresql://") {
                let store =
                    Arc::new(PostgresStore::connect(PostgresConfig::new(db).schema(schema)).await?);
                (store.clone(), store)
            } else {
                let store = Arc::new(SqliteStore::open(db)?);
                (store.clone(), store)
            };
        let vault: Arc<dyn VaultStore> = if vault.contains("://") {
            Arc::new(ObjectStoreVault::from_url(
                vault,
                std::env::vars().filter(|(k, _)| is_store_option(k)),
            )?)
        } else {
            std::fs::create_dir_all(vault).map_err(|e| {
                Error::validation(
                    ["vault"],
                    format!("cannot create the vault folder {vault}: {e}"),
                )
            })?;
            Arc::new(ObjectStoreVault::local(vault)?)
        };
        Ok(Self { jobs, todos, vault })
    }

    /// The engine over these stores, with `workers` import workers.
    pub fn engine(self, mode: Mode, workers: usize) -> Result<Orchestrator> {
        let policy = match mode {
            Mode::Local => Policy::default()
                .with_urls(UrlPolicy {
                    allow_ssh: true,
                    allow_file: true,
                    allow_local_paths: true,
                    ..UrlPolicy::default()
                })
                .allow_cross_workspace_imports(),
            Mode::Server { cross_workspace } => {
                let policy = Policy::default();
                if cross_workspace {
                    policy.allow_cross_workspace_imports()
                } else {
                    policy
                }
            }
        };
        let source = GitSource::new(GitSourceOptions::from_url_policy(&policy.urls));
        Orchestrator::builder()
            .job_store(self.jobs)
            .todo_store(self.todos)
            .vault_store(self.vault)
            .source(Arc::new(source))
            .policy(policy)
            .runner(RunnerConfig {
                workers,
                // A command-line import polls every 100 ms; write progress as
                // often.
                progress_every: Duration::from_millis(100),
                poll_every: Duration::from_millis(200),
                ..RunnerConfig::default()
            })
            .build()
    }
}

/// Credentials and endpoints for object stores come from the usual
/// environment variables (AWS_*, GOOGLE_*, AZURE_*).
fn is_store_option(key: &str) -> bool {
    ["AWS_", "GOOGLE_", "AZURE_"]
        .iter()
        .any(|p| key.starts_with(p))
}

/// Local repository paths are stored absolute, so a job started here can be
/// run from anywhere. What counts as a local path is the engine's own URL
/// policy's call; anything else is passed on as it is.
pub fn absolute_if_local(urls: &UrlPolicy, repo: &str) -> String {
    let Ok(checked) = urls.check(repo) else {
        return repo.to_owned();
    };
    if checked.location != RepoLocation::LocalPath {
        return repo.to_owned();
    }
    let path = std::fs::canonicalize(&checked.url).unwrap_or_else(|_| PathBuf::from(&checked.url));
    let shown = path.to_string_lossy().into_owned();
    match checked.git_ref {
        Some(r) => format!("{shown}#{r}"),
        None => shown,
    }
}

/// `serve`'s settings.
pub struct ServeOptions {
    pub listen: String,
    pub tokens: Vec<String>,
    pub tokens_file: Option<PathBuf>,
    pub tokens_env: Option<String>,
    pub workers: usize,
    pub allow_cross_workspace: bool,
}

fn load_tokens(options: &ServeOptions) -> std::result::Result<BearerTokens, String> {
    let mut list = options.tokens.join(",");
    if let Some(path) = &options.tokens_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tokens file {}: {e}", path.display()))?;
        list.push('\n');
        list.push_str(&text);
    }
    if let Some(env) = &options.tokens_env {
        list.push(',');
        list.push_str(env);
    }
    let tokens = BearerTokens::parse_list(&list).map_err(|e| e.to_string())?;
    if tokens.is_empty() {
        return Err(
            "no tokens are configured, so every request would be refused; pass --token WORKSPACE=TOKEN, --tokens-file or TODOVAULT_TOKENS"
                .to_owned(),
        );
    }
    Ok(tokens)
}

/// Runs the server until Ctrl-C or SIGTERM, then drains requests and gives
/// running imports back.
pub async fn serve(stores: Stores, options: ServeOptions) -> std::result::Result<(), String> {
    let tokens = load_tokens(&options)?;
    let mode = Mode::Server {
        cross_workspace: options.allow_cross_workspace,
    };
    let engine = stores
        .engine(mode, options.workers)
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let workers = engine.start_workers();
    eprintln!(
        "todovault serving on http://{address} ({} tokens)",
        tokens.len()
    );
    let app = Api::new(engine, Arc::new(tokens)).router();
    let served = todovault_http::serve(listener, app, shutdown_signal()).await;
    workers.shutdown(Duration::from_secs(20)).await;
    served.map_err(|e| format!("the server stopped: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
