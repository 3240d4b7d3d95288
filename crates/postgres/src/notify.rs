//! LISTEN/NOTIFY: waking idle workers when a job becomes claimable.
//!
//! A trigger on the jobs table notifies the schema's channel whenever a job
//! is inserted, released or put back for an immediate retry (see
//! [`crate::migrate`]). Each store holds one dedicated connection that
//! LISTENs on that channel and bumps a counter per notification; idle workers
//! wait on the counter with a timeout instead of polling tightly. The
//! listener reconnects with backoff when its connection drops, and bumps the
//! counter after every (re)connect because notifications sent while it was
//! away are lost. Polling with the timeout stays the safety net, and is what
//! finds retries whose backoff ends later.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::config::{Redactor, quote_ident};

/// A worker's view of the work signal: [`WorkNotifications::wait`] returns
/// as soon as work may have become claimable since the last call.
///
/// Keep one per worker across iterations, so a notification that arrives
/// while the worker is busy is not missed: the next `wait` returns at once.
#[derive(Debug, Clone)]
pub struct WorkNotifications {
    rx: watch::Receiver<u64>,
}

impl WorkNotifications {
    pub(crate) fn new(rx: watch::Receiver<u64>) -> Self {
        Self { rx }
    }

    /// Waits until work may be claimable (`true`) or `timeout` passes
    /// (`false`). Returns `true` at once if a notification arrived since the
    /// previous call.
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        match tokio::time::timeout(timeout, self.rx.changed()).await {
            Ok(Ok(())) => {
                self.rx.borrow_and_update();
                true
            }
            Ok(Err(_)) => {
                // The store is gone; only the timeout is left to honour.
                tokio::time::sleep(timeout).await;
                false
            }
            Err(_) => false,
        }
    }

    /// Notifications received so far (a counter that only grows).
    pub fn count(&self) -> u64 {
        *self.rx.borrow()
    }
}

/// Starts the listener task for `channel`.
pub(crate) fn spawn_listener(
    pg: tokio_postgres::Config,
    channel: String,
    signal: Arc<watch::Sender<u64>>,
    redact: Redactor,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen_once(&pg, &channel, &signal).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    tracing::warn!("the PostgreSQL LISTEN connection closed; reconnecting");
                }
                Err(e) => tracing::warn!(
                    error = %redact.clean(&e.to_string()),
                    "the PostgreSQL LISTEN connection failed; idle workers fall back to polling"
                ),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

fn bump(signal: &watch::Sender<u64>) {
    signal.send_modify(|n| *n = n.wrapping_add(1));
}

/// Connects, LISTENs and forwards notifications until the connection ends.
async fn listen_once(
    pg: &tokio_postgres::Config,
    channel: &str,
    signal: &Arc<watch::Sender<u64>>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = pg.connect(NoTls).await?;
    let forward = Arc::clone(signal);
    // The connection must be polled for the client's LISTEN to be sent, so
    // it runs in its own task; it ends when the client is dropped or the
    // server goes away.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => bump(&forward),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    let listening = client
        .batch_execute(&format!("LISTEN {}", quote_ident(channel)))
        .await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    // Anything sent while no listener was connected is lost: let waiters
    // look for themselves.
    bump(signal);
    let ended = driver.await;
    drop(client);
    match ended {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
