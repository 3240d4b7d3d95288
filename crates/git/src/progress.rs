//! Turning gix's own progress counters into the job's fetch fraction, and
//! stopping a fetch that was cancelled or grew too large.
//!
//! gix reports through a tree of `prodash`-style progress nodes and hands
//! their counters to worker threads, which bump them directly. So a
//! [`Tracker`] only records the nodes, and a [`Watcher`] thread reads them a
//! few dozen times a second: it maps the phases (the server counting and
//! compressing, objects received and indexed, deltas resolved) onto the
//! fraction, raises the interrupt flag gix polls when the job's cancel flag
//! is raised, and when the bytes received pass the fetch limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gix::progress::{Id, MessageLevel, Step, StepShared, UNKNOWN, Unit};
use todovault_core::source::{CancelFlag, Progress};

/// Where the network part of a fetch ends within the fetch band; the rest
/// is listing the commit's tree.
pub(crate) const FETCH_DONE: f64 = 0.9;

const NO_MAX: usize = usize::MAX;

// Ids gix gives its progress nodes (see gix-protocol, gix-pack).
const REMOTE_PROGRESS: Id = *b"FERP";
const READ_PACK_BYTES: Id = *b"BWRB";
const INDEX_OBJECTS: Id = *b"IWIO";
const RESOLVE_OBJECTS: Id = *b"IWRO";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct Node {
    id: Id,
    name: Mutex<String>,
    max: AtomicUsize,
    step: StepShared,
}

impl Node {
    fn new(name: String, id: Id) -> Arc<Self> {
        Arc::new(Self {
            id,
            name: Mutex::new(name),
            max: AtomicUsize::new(NO_MAX),
            step: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn max(&self) -> Option<usize> {
        Some(self.max.load(Ordering::Relaxed)).filter(|m| *m != NO_MAX)
    }

    fn step(&self) -> usize {
        self.step.load(Ordering::Relaxed)
    }
}

/// A gix progress implementation that records its nodes for the
/// [`Watcher`].
#[derive(Clone)]
pub(crate) struct Tracker {
    nodes: Arc<Mutex<Vec<Arc<Node>>>>,
    node: Arc<Node>,
}

impl Tracker {
    pub(crate) fn new() -> Self {
        let node = Node::new("fetch".to_owned(), UNKNOWN);
        Self {
            nodes: Arc::new(Mutex::new(vec![Arc::clone(&node)])),
            node,
        }
    }

    /// The fraction of the network part done, from what the nodes say.
    fn fraction(&self) -> f64 {
        let nodes = lock(&self.nodes);
        let ratio = |n: &Node| {
            n.max()
                .filter(|m| *m > 0)
                .map(|m| (n.step() as f64 / m as f64).min(1.0))
        };
        let mut fraction: f64 = 0.02;
        for node in nodes.iter() {
            let Some(r) = ratio(node) else { continue };
            let phase = match node.id {
                REMOTE_PROGRESS => {
                    let name = lock(&node.name).to_ascii_lowercase();
                    if name.contains("counting") || name.contains("enumerating") {
                        0.02 + 0.04 * r
                    } else if name.contains("compressing") {
                        0.06 + 0.04 * r
                    } else {
                        continue;
                    }
                }
                INDEX_OBJECTS => 0.10 + 0.60 * r,
                RESOLVE_OBJECTS => 0.70 + 0.30 * r,
                _ => continue,
            };
            fraction = fraction.max(phase);
        }
        fraction
    }

    /// Bytes of pack data read from the server so far.
    fn bytes_received(&self) -> u64 {
        lock(&self.nodes)
            .iter()
            .filter(|n| n.id == READ_PACK_BYTES)
            .map(|n| n.step() as u64)
            .max()
            .unwrap_or(0)
    }
}

impl gix::Count for Tracker {
    fn set(&self, step: Step) {
        self.node.step.store(step, Ordering::Relaxed);
    }
    fn step(&self) -> Step {
        self.node.step()
    }
    fn inc_by(&self, step: Step) {
        self.node.step.fetch_add(step, Ordering::Relaxed);
    }
    fn counter(&self) -> StepShared {
        Arc::clone(&self.node.step)
    }
}

impl gix::Progress for Tracker {
    fn init(&mut self, max: Option<Step>, _unit: Option<Unit>) {
        self.node
            .max
            .store(max.unwrap_or(NO_MAX), Ordering::Relaxed);
        self.node.step.store(0, Ordering::Relaxed);
    }
    fn set_max(&mut self, max: Option<Step>) -> Option<Step> {
        let previous = self.node.max();
        self.node
            .max
            .store(max.unwrap_or(NO_MAX), Ordering::Relaxed);
        previous
    }
    fn max(&self) -> Option<Step> {
        self.node.max()
    }
    fn set_name(&mut self, name: String) {
        *lock(&self.node.name) = name;
    }
    fn name(&self) -> Option<String> {
        Some(lock(&self.node.name).clone())
    }
    fn id(&self) -> Id {
        self.node.id
    }
    fn message(&self, _level: MessageLevel, message: String) {
        // Server messages may echo the URL; they are only traced.
        tracing::trace!(target: "todovault_git::progress", %message);
    }
}

impl gix::NestedProgress for Tracker {
    type SubProgress = Tracker;

    fn add_child(&mut self, name: impl Into<String>) -> Self::SubProgress {
        self.add_child_with_id(name, UNKNOWN)
    }

    fn add_child_with_id(&mut self, name: impl Into<String>, id: Id) -> Self::SubProgress {
        let node = Node::new(name.into(), id);
        lock(&self.nodes).push(Arc::clone(&node));
        Tracker {
            nodes: Arc::clone(&self.nodes),
            node,
        }
    }
}

/// Why the watcher interrupted a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// Not interrupted.
    None,
    /// The job's cancel flag was raised.
    Cancelled,
    /// More than the fetch limit was received.
    TooLarge,
}

/// State shared between a fetch and its watcher thread.
pub(crate) struct Watch<'a> {
    /// The flag gix polls.
    pub(crate) interrupt: AtomicBool,
    reason: Mutex<Interruption>,
    done: AtomicBool,
    tracker: Tracker,
    cancel: &'a CancelFlag,
    progress: &'a Progress,
    max_fetch_bytes: u64,
}

impl<'a> Watch<'a> {
    pub(crate) fn new(
        tracker: Tracker,
        cancel: &'a CancelFlag,
        progress: &'a Progress,
        max_fetch_bytes: u64,
    ) -> Self {
        Self {
            interrupt: AtomicBool::new(cancel.is_cancelled()),
            reason: Mutex::new(if cancel.is_cancelled() {
                Interruption::Cancelled
            } else {
                Interruption::None
            }),
            done: AtomicBool::new(false),
            tracker,
            cancel,
            progress,
            max_fetch_bytes,
        }
    }

    /// Why the fetch was interrupted, if it was.
    pub(crate) fn reason(&self) -> Interruption {
        *lock(&self.reason)
    }

    /// Bytes received so far.
    pub(crate) fn bytes_received(&self) -> u64 {
        self.tracker.bytes_received()
    }

    fn interrupt(&self, why: Interruption) {
        let mut reason = lock(&self.reason);
        if *reason == Interruption::None {
            *reason = why;
        }
        self.interrupt.store(true, Ordering::SeqCst);
    }

    /// Ends [`Watch::run`].
    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
    }

    /// Polls until [`Watch::finish`]: progress, cancel and the byte limit.
    pub(crate) fn run(&self) {
        while !self.done.load(Ordering::SeqCst) {
            self.poll();
            std::thread::sleep(Duration::from_millis(20));
        }
        self.poll();
    }

    fn poll(&self) {
        if self.cancel.is_cancelled() {
            self.interrupt(Interruption::Cancelled);
        }
        if self.tracker.bytes_received() > self.max_fetch_bytes {
            self.interrupt(Interruption::TooLarge);
        }
        self.progress
            .set_fraction(self.tracker.fraction() * FETCH_DONE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gix::{Count, NestedProgress, Progress as _};

    #[test]
    fn phases_map_onto_a_growing_fraction() {
        let mut root = Tracker::new();
        assert!((root.fraction() - 0.02).abs() < 1e-9);
        let mut remote = root.add_child_with_id("remote", REMOTE_PROGRESS);
        remote.set_name("Counting objects".into());
        remote.init(Some(10), None);
        remote.set(10);
        assert!((root.fraction() - 0.06).abs() < 1e-9);
        let mut index = root.add_child_with_id("indexing", INDEX_OBJECTS);
        index.init(Some(100), None);
        index.counter().store(50, Ordering::Relaxed);
        assert!((root.fraction() - 0.40).abs() < 1e-9);
        let mut resolve = root.add_child_with_id("resolving", RESOLVE_OBJECTS);
        resolve.init(Some(4), None);
        resolve.inc_by(4);
        assert!((root.fraction() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_watcher_interrupts_on_cancel_and_on_the_byte_limit() {
        let mut root = Tracker::new();
        let bytes = root.add_child_with_id("read pack", READ_PACK_BYTES);
        let cancel = CancelFlag::new();
        let progress = Progress::new();
        let watch = Watch::new(root.clone(), &cancel, &progress, 1000);
        watch.poll();
        assert_eq!(watch.reason(), Interruption::None);
        bytes.inc_by(1001);
        watch.poll();
        assert_eq!(watch.reason(), Interruption::TooLarge);
        assert!(watch.interrupt.load(Ordering::SeqCst));

        let watch = Watch::new(Tracker::new(), &cancel, &progress, u64::MAX);
        cancel.cancel();
        watch.poll();
        assert_eq!(watch.reason(), Interruption::Cancelled);
    }
}
