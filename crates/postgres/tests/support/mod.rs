//! What the PostgreSQL tests share: the server's address, a schema per test
//! that is dropped when the test ends (pass or fail), and connecting with a
//! clear failure when the server is not there.

#![allow(dead_code)]

use std::time::Duration;

use todovault_postgres::{PostgresConfig, PostgresStore};

/// The script that installs and starts the server the tests use.
pub const SETUP_SCRIPT: &str = ".ci/setup.d/30-postgres.sh";

/// The test database: `TODOVAULT_TEST_PG_URL`, or the local server with
/// trust authentication.
pub fn database_url() -> String {
    std::env::var("TODOVAULT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test, dropped with everything in it when the
/// guard goes out of scope, also when the test panics.
pub struct TestSchema {
    pub name: String,
}

impl TestSchema {
    /// `tv_test_<label>_<ulid>`; `label` is a few lowercase letters.
    pub fn new(label: &str) -> Self {
        let name = format!("tv_test_{label}_{}", ulid::Ulid::new()).to_ascii_lowercase();
        assert!(
            name.len() <= todovault_postgres::MAX_SCHEMA_LEN,
            "label {label:?} too long"
        );
        Self { name }
    }

    /// Settings for a store in this schema.
    pub fn config(&self) -> PostgresConfig {
        PostgresConfig::new(database_url())
            .schema(&self.name)
            .connect_timeout(Duration::from_secs(5))
    }

    /// A store in this schema; fails the test with a clear message when the
    /// server cannot be reached.
    pub async fn store(&self) -> PostgresStore {
        self.store_with(self.config()).await
    }

    /// A store with custom settings.
    pub async fn store_with(&self, config: PostgresConfig) -> PostgresStore {
        PostgresStore::connect(config).await.unwrap_or_else(|e| {
            panic!(
                "cannot use the test PostgreSQL server at {} ({}). Run `bash {SETUP_SCRIPT}` \
                 (it installs and starts PostgreSQL with trust authentication on 127.0.0.1:5432 \
                 and creates the `test` database), or point TODOVAULT_TEST_PG_URL at a server.",
                database_url(),
                e.detail()
            )
        })
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime (or while unwinding), where a
        // blocking wait is not allowed: the drop gets a thread and a runtime
        // of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let client = admin_client().await?;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

/// A plain connection for checks the store's API does not offer.
pub async fn admin_client() -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            format!(
                "cannot connect to {}: {e}; run `bash {SETUP_SCRIPT}`",
                database_url()
            )
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// [`admin_client`], failing the test when the server is not there.
pub async fn admin() -> tokio_postgres::Client {
    admin_client().await.unwrap_or_else(|e| panic!("{e}"))
}
