//! An `ObjectStore` wrapper that fails, delays or drops chosen calls and
//! counts every call, for fault tests and request accounting.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// The kinds of call a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `put_opts`.
    Put,
    /// `get_opts` with a body.
    Get,
    /// `get_opts` with `head: true`.
    Head,
    /// `list`.
    List,
}

/// What happens to a targeted call.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Fails without reaching the store.
    FailBefore,
    /// Reaches the store, then the caller sees an error (a lost response).
    DropResponse,
    /// Reaches the store after a pause.
    Delay(Duration),
}

#[derive(Debug)]
struct Rule {
    op: Op,
    key_contains: Option<String>,
    fault: Fault,
    remaining: usize,
}

/// Wraps a store; faults are injected with [`FaultStore::inject`].
pub struct FaultStore {
    inner: Arc<dyn ObjectStore>,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<HashMap<Op, usize>>,
}

impl fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

impl fmt::Display for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

fn injected(what: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultStore",
        source: format!("{what}: connection reset by peer (injected)").into(),
    }
}

impl FaultStore {
    /// Wraps `inner` with no faults.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
        })
    }

    /// The next `times` calls of `op` (on keys containing `key_contains`,
    /// if given) meet `fault`.
    pub fn inject(&self, op: Op, key_contains: Option<&str>, fault: Fault, times: usize) {
        self.rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Rule {
                op,
                key_contains: key_contains.map(str::to_owned),
                fault,
                remaining: times,
            });
    }

    /// Removes every pending fault.
    pub fn heal(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many calls of `op` were made so far.
    pub fn calls(&self, op: Op) -> usize {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&op)
            .unwrap_or(&0)
    }

    /// Resets the call counts.
    pub fn reset_calls(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn take(&self, op: Op, key: &str) -> Option<Fault> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default() += 1;
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let rule = rules.iter_mut().find(|r| {
            r.op == op
                && r.remaining > 0
                && r.key_contains.as_deref().is_none_or(|k| key.contains(k))
        })?;
        rule.remaining -= 1;
        Some(rule.fault)
    }

    async fn around<T, F>(&self, op: Op, key: &str, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        match self.take(op, key) {
            None => call.await,
            Some(Fault::FailBefore) => Err(injected(&format!("{op:?} {key}"))),
            Some(Fault::DropResponse) => {
                let _ = call.await;
                Err(injected(&format!("{op:?} {key} (response lost)")))
            }
            Some(Fault::Delay(pause)) => {
                tokio::time::sleep(pause).await;
                call.await
            }
        }
    }
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.around(
            Op::Put,
            location.as_ref(),
            self.inner.put_opts(location, payload, opts),
        )
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { Op::Head } else { Op::Get };
        self.around(
            op,
            location.as_ref(),
            self.inner.get_opts(location, options),
        )
        .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let key = prefix.map(|p| p.to_string()).unwrap_or_default();
        match self.take(Op::List, &key) {
            Some(Fault::FailBefore) | Some(Fault::DropResponse) => {
                futures::stream::once(async move { Err(injected(&format!("List {key}"))) }).boxed()
            }
            Some(Fault::Delay(pause)) => {
                let inner = self.inner.list(prefix);
                futures::stream::once(async move {
                    tokio::time::sleep(pause).await;
                    inner
                })
                .flatten()
                .boxed()
            }
            None => self.inner.list(prefix),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
