//! The `todovault` command: run the engine from a terminal or a script, or
//! serve the REST API.
//!
//! Every subcommand opens the same database (`--db`, default
//! `./todovault.db`) and vault (`--vault`, default `./vault`), so the command
//! line and a running server share their state.

mod engine;
mod render;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use todovault_core::api::{StartImportRequest, VaultImportRequest, WireJobStatus};
use todovault_core::{Error, Orchestrator};

use crate::engine::{Mode, Stores};

/// Keep a workspace's Master TODO portable.
///
/// todovault imports a git repository into a workspace as a Master TODO (the
/// TODO/FIXME/HACK/XXX/BUG comments and Markdown task items it holds), syncs
/// that Master TODO to a vault (a folder or an S3/GCS/Azure bucket), lists
/// what the vault holds, and imports a vault snapshot into another workspace.
///
/// A first run, on this repository:
///
///   todovault import . --workspace demo
///   todovault todo show --workspace demo
///   todovault vault sync --workspace demo
///   todovault vault discover
///
/// State lives in ./todovault.db and ./vault unless --db/--vault (or
/// TODOVAULT_DB/TODOVAULT_VAULT) say otherwise; `serve` shares them.
#[derive(Debug, Parser)]
#[command(name = "todovault", version, verbatim_doc_comment)]
struct Cli {
    /// The database: a SQLite file path, or a postgres:// URL.
    #[arg(
        long,
        global = true,
        env = "TODOVAULT_DB",
        default_value = "./todovault.db"
    )]
    db: String,

    /// The PostgreSQL schema todovault's tables live in (with a postgres:// --db).
    #[arg(
        long,
        global = true,
        env = "TODOVAULT_DB_SCHEMA",
        default_value = "todovault"
    )]
    db_schema: String,

    /// The vault: a folder path, or file:///…, s3://bucket/prefix, gs://…, az://…, memory:///.
    #[arg(
        long,
        global = true,
        env = "TODOVAULT_VAULT",
        default_value = "./vault"
    )]
    vault: String,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Log filter for diagnostics on stderr (e.g. info, debug, todovault_core=debug).
    #[arg(long, global = true, env = "TODOVAULT_LOG", default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API (see /api/v1/openapi.json) with import workers.
    ///
    /// Callers authenticate with `Authorization: Bearer <token>`; each token
    /// acts for one workspace. The server refuses local paths and hosts on
    /// private networks as repository URLs.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A token for a workspace, as WORKSPACE=TOKEN (repeatable; tokens need 16+ characters).
        #[arg(long = "token", value_name = "WS=TOKEN")]
        tokens: Vec<String>,
        /// A file of WORKSPACE=TOKEN lines.
        #[arg(long, value_name = "PATH")]
        tokens_file: Option<PathBuf>,
        /// Tokens as WORKSPACE=TOKEN, comma-separated.
        #[arg(
            long,
            env = "TODOVAULT_TOKENS",
            hide_env_values = true,
            value_name = "LIST"
        )]
        tokens_env: Option<String>,
        /// Import workers on this host.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Let any workspace import any other workspace's vault snapshot.
        #[arg(long)]
        allow_cross_workspace: bool,
    },
    /// Import a repository into a workspace's Master TODO and wait for it.
    ///
    /// REPO is a local path (opened in place) or a URL (https://, ssh://,
    /// file://). Append #REF for a branch, tag or commit.
    Import {
        /// The repository.
        repo: String,
        /// The workspace to import into.
        #[arg(long, short)]
        workspace: String,
        /// Start the import and return at once, printing its job id.
        #[arg(long)]
        detach: bool,
    },
    /// Show an import job's status.
    Status {
        /// The job id (imp_…).
        job: String,
        /// The workspace the job belongs to.
        #[arg(long, short)]
        workspace: String,
    },
    /// Work with the vault.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Work with a workspace's Master TODO.
    #[command(subcommand)]
    Todo(TodoCommand),
}

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Push the workspace's Master TODO to the vault.
    Sync {
        /// The workspace to sync.
        #[arg(long, short)]
        workspace: String,
    },
    /// List every Master TODO in the vault, newest first.
    Discover {
        /// The workspace asking (only used for scoping).
        #[arg(long, short, default_value = "cli")]
        workspace: String,
    },
    /// Merge the newest vault snapshot of SOURCE into a workspace.
    Import {
        /// The workspace performing the import (and the target by default).
        #[arg(long, short)]
        workspace: String,
        /// The workspace whose snapshot to import.
        #[arg(long, short)]
        source: String,
        /// Where to import it (default: --workspace).
        #[arg(long, short)]
        target: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TodoCommand {
    /// Print a workspace's Master TODO.
    Show {
        /// The workspace.
        #[arg(long, short)]
        workspace: String,
        /// Output format (`json` prints the Master TODO document).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// How `todo show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// The Master TODO document.
    Json,
    /// A Markdown task list.
    Markdown,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One sentence for the user, from any engine error.
fn say(e: Error) -> String {
    match e {
        Error::Storage { detail } => format!("storage error: {detail}"),
        Error::Internal { detail } => format!("internal error: {detail}"),
        Error::Unavailable { detail } => format!("unavailable: {detail}"),
        other => other.to_string(),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let json = cli.json;
    match cli.command {
        Command::Serve {
            listen,
            tokens,
            tokens_file,
            tokens_env,
            workers,
            allow_cross_workspace,
        } => {
            let stores = Stores::open(&cli.db, &cli.db_schema, &cli.vault)
                .await
                .map_err(say)?;
            let options = engine::ServeOptions {
                listen,
                tokens,
                tokens_file,
                tokens_env,
                workers,
                allow_cross_workspace,
            };
            engine::serve(stores, options).await
        }
        Command::Import {
            repo,
            workspace,
            detach,
        } => {
            let engine = Stores::open(&cli.db, &cli.db_schema, &cli.vault)
                .await
                .and_then(|s| s.engine(Mode::Local, 2))
                .map_err(say)?;
            import(&engine, &repo, &workspace, detach, json).await
        }
        Command::Status { job, workspace } => {
            let engine = local_engine(&cli.db, &cli.db_schema, &cli.vault).await?;
            let status = engine.import_status(&workspace, &job).await.map_err(say)?;
            render::print_json_or(json, &status, || render::status_line(&status));
            Ok(())
        }
        Command::Vault(VaultCommand::Sync { workspace }) => {
            let engine = local_engine(&cli.db, &cli.db_schema, &cli.vault).await?;
            let result = engine.vault_sync(&workspace).await.map_err(say)?;
            render::print_json_or(json, &result, || {
                format!("Synced the Master TODO of {workspace} to the vault.")
            });
            Ok(())
        }
        Command::Vault(VaultCommand::Discover { workspace }) => {
            let engine = local_engine(&cli.db, &cli.db_schema, &cli.vault).await?;
            let found = engine.vault_discover(&workspace).await.map_err(say)?;
            render::print_json_or(json, &found, || render::discover_table(&found));
            Ok(())
        }
        Command::Vault(VaultCommand::Import {
            workspace,
            source,
            target,
        }) => {
            let engine = local_engine(&cli.db, &cli.db_schema, &cli.vault).await?;
            let mut request = VaultImportRequest::new(source.clone());
            if let Some(t) = target {
                request = request.with_target(t);
            }
            let result = engine
                .vault_import(&workspace, request)
                .await
                .map_err(say)?;
            render::print_json_or(json, &result, || {
                format!(
                    "Imported the vault snapshot of {source} into {}.",
                    result.target_workspace_id
                )
            });
            Ok(())
        }
        Command::Todo(TodoCommand::Show { workspace, format }) => {
            let engine = local_engine(&cli.db, &cli.db_schema, &cli.vault).await?;
            let doc = engine
                .master_todo(&workspace)
                .await
                .map_err(say)?
                .ok_or_else(|| {
                    format!(
                        "workspace {workspace} has no Master TODO yet; import a repository first"
                    )
                })?;
            let format = if json { Format::Json } else { format };
            println!("{}", render::document(&doc, format));
            Ok(())
        }
    }
}

async fn local_engine(db: &str, schema: &str, vault: &str) -> Result<Orchestrator, String> {
    Stores::open(db, schema, vault)
        .await
        .and_then(|s| s.engine(Mode::Local, 2))
        .map_err(say)
}

async fn import(
    engine: &Orchestrator,
    repo: &str,
    workspace: &str,
    detach: bool,
    json: bool,
) -> Result<(), String> {
    let repo = engine::absolute_if_local(&engine.policy().urls, repo);
    let started = engine
        .start_import(workspace, StartImportRequest::new(repo.clone()))
        .await
        .map_err(say)?;
    if detach {
        render::print_json_or(json, &started, || {
            format!(
                "Started import {} into {} (todo {}).",
                started.import_job_id, workspace, started.todo_id
            )
        });
        return Ok(());
    }
    let workers = engine.start_workers();
    let job = started.import_job_id.to_string();
    let mut progress = render::ImportProgress::new(std::io::stderr().is_terminal() && !json);
    let outcome = loop {
        match engine.import_status(workspace, &job).await {
            Ok(status) => {
                progress.update(&status);
                if status.status != WireJobStatus::Running {
                    break Ok(status);
                }
            }
            Err(e) => break Err(say(e)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    progress.finish();
    workers.shutdown(Duration::from_secs(10)).await;
    let status = outcome?;
    if status.status == WireJobStatus::Failed {
        return Err(format!("the import of {repo} failed: {}", status.error));
    }
    let doc = engine
        .master_todo(workspace)
        .await
        .map_err(say)?
        .ok_or_else(|| "the import finished but left no Master TODO".to_owned())?;
    if json {
        let summary = serde_json::json!({
            "importJobID": started.import_job_id,
            "todoID": started.todo_id,
            "status": status.status,
            "summary": render::summary_json(&doc),
        });
        println!("{summary}");
    } else {
        println!("{}", render::summary(&doc, &repo));
    }
    Ok(())
}
