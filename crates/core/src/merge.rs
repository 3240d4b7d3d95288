//! Merging into a Master TODO: repository imports and vault snapshots.
//!
//! Both merges are pure functions from the current document to the next one;
//! the orchestrator stores the result with one compare-and-set, so a crash
//! never leaves half a merge.
//!
//! **Repository import.** An imported item's identity is its fingerprint
//! within its repository, never its line. Re-importing a commit already
//! imported changes nothing at all. Re-importing the same repository
//! keeps moved items' entries (only `origin.line` follows), adds new items,
//! marks vanished ones `completed`, and leaves alone entries made by users or
//! agents — and statuses they changed (tracked by `origin.imported_status`).
//!
//! **Vault snapshot.** Entries merge by id: the newer `updated_at` wins,
//! target-only entries stay, session-bound fields (`assigned_to`,
//! `session_ids`) are cleared on what comes in, and merging the same snapshot
//! twice changes nothing.

use std::collections::{HashMap, HashSet};

use crate::document::{
    CreatedBy, Entry, EntryStatus, ImportedFrom, MasterTodo, Origin, Source, Timestamp,
};
use crate::extract::WorkItem;
use crate::ids::{EntryId, ImportJobId};

/// What one repository import found.
#[derive(Debug, Clone)]
pub struct RepoImport<'a> {
    /// The job importing.
    pub job_id: ImportJobId,
    /// The repository, credentials redacted.
    pub repo_url: &'a str,
    /// The commit scanned.
    pub commit: &'a str,
    /// First paragraph of the README, if one was found.
    pub project_context: Option<&'a str>,
    /// The items, in the extractor's order (`parent` indexes into it).
    pub items: &'a [WorkItem],
    /// A committed `.todovault/master-todo.json`, merged in as it is.
    pub committed: Option<&'a MasterTodo>,
}

/// How many entries a merge touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Entries created.
    pub added: usize,
    /// Entries whose fields changed.
    pub updated: usize,
    /// Imported entries retired because their item vanished.
    pub completed: usize,
    /// Imported entries left as they were.
    pub unchanged: usize,
}

impl MergeReport {
    /// Whether any entry changed.
    pub fn changed_entries(&self) -> bool {
        self.added + self.updated + self.completed > 0
    }
}

/// Merges a repository import into `doc` (the workspace's current document,
/// or a new empty one). Returns what changed; `doc.version` and `updated_at`
/// are left for the caller to bump.
pub fn merge_repo_import(
    doc: &mut MasterTodo,
    import: &RepoImport<'_>,
    now: Timestamp,
) -> MergeReport {
    let mut report = MergeReport::default();
    if let Some(committed) = import.committed {
        let r = merge_entries(doc, committed, false);
        report.added += r.added;
        report.updated += r.updated;
    }

    // Entries this repository created, by fingerprint.
    let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
    for (i, entry) in doc.entries.iter().enumerate() {
        if entry.created_by != CreatedBy::Import {
            continue;
        }
        if let Some(origin) = &entry.origin
            && origin.repo_url.as_deref() == Some(import.repo_url)
        {
            by_fingerprint
                .entry(origin.fingerprint.clone())
                .or_insert(i);
        }
    }

    let mut seen: HashSet<usize> = HashSet::new();
    let mut item_entries: Vec<Option<EntryId>> = Vec::with_capacity(import.items.len());
    let mut next_seq = doc.next_entry_seq();
    for item in import.items {
        let repo_status = match item.checked {
            Some(true) => EntryStatus::Completed,
            _ => EntryStatus::Pending,
        };
        match by_fingerprint.get(&item.fingerprint).copied() {
            Some(i) if seen.insert(i) => {
                let entry = &mut doc.entries[i];
                if update_imported_entry(entry, item, repo_status, now) {
                    report.updated += 1;
                } else {
                    report.unchanged += 1;
                }
                item_entries.push(Some(entry.id));
            }
            Some(_) => item_entries.push(None), // a duplicate fingerprint: keep the first
            None => {
                let entry = new_imported_entry(item, import.repo_url, repo_status, next_seq, now);
                next_seq += 1;
                item_entries.push(Some(entry.id));
                doc.entries.push(entry);
                report.added += 1;
            }
        }
    }

    for (_, &i) in by_fingerprint.iter().filter(|(_, i)| !seen.contains(i)) {
        let entry = &mut doc.entries[i];
        if import_owns_status(entry) && entry.status != EntryStatus::Completed {
            entry.status = EntryStatus::Completed;
            set_imported_status(entry, EntryStatus::Completed);
            entry.updated_at = now;
            report.completed += 1;
        }
    }

    // Nested task items become children of their parent's entry.
    let mut new_children: Vec<(EntryId, EntryId)> = Vec::new();
    for (idx, item) in import.items.iter().enumerate() {
        let Some(parent) = item.parent else { continue };
        if let (Some(Some(parent_id)), Some(Some(child_id))) =
            (item_entries.get(parent), item_entries.get(idx))
            && parent_id != child_id
        {
            new_children.push((*parent_id, *child_id));
        }
    }
    if !new_children.is_empty() {
        let position: HashMap<EntryId, usize> = doc
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i))
            .collect();
        for (parent_id, child_id) in new_children {
            if let Some(&p) = position.get(&parent_id) {
                let parent = &mut doc.entries[p];
                if !parent.children.contains(&child_id) {
                    parent.children.push(child_id);
                    parent.updated_at = now;
                    report.updated += 1;
                }
            }
        }
    }

    let mut context_changed = false;
    if let Some(context) = import.project_context
        && !context.is_empty()
        && doc.project_context != context
    {
        doc.project_context = context.to_owned();
        context_changed = true;
    }
    // Importing the commit the document already came from, with no entry
    // changed, leaves the document as it is (and its version with it).
    let same_commit = doc
        .source
        .as_ref()
        .is_some_and(|s| s.repo_url == import.repo_url && s.commit == import.commit);
    if same_commit && !context_changed && !report.changed_entries() {
        return report;
    }
    let extra = doc.source.take().map(|s| s.extra).unwrap_or_default();
    doc.source = Some(Source {
        repo_url: import.repo_url.to_owned(),
        commit: import.commit.to_owned(),
        import_job_id: import.job_id,
        extra,
    });
    report
}

fn import_owns_status(entry: &Entry) -> bool {
    let imported = entry
        .origin
        .as_ref()
        .and_then(|o| o.imported_status)
        .unwrap_or(EntryStatus::Pending);
    entry.status == imported
}

fn set_imported_status(entry: &mut Entry, status: EntryStatus) {
    if let Some(origin) = entry.origin.as_mut() {
        origin.imported_status = Some(status);
    }
}

fn update_imported_entry(
    entry: &mut Entry,
    item: &WorkItem,
    repo_status: EntryStatus,
    now: Timestamp,
) -> bool {
    let mut changed = false;
    if import_owns_status(entry) && entry.status != repo_status {
        entry.status = repo_status;
        set_imported_status(entry, repo_status);
        changed = true;
    }
    if let Some(origin) = entry.origin.as_mut() {
        if origin.line != item.line {
            origin.line = item.line;
            changed = true;
        }
        if origin.author != item.author {
            origin.author = item.author.clone();
            changed = true;
        }
        if origin.issue != item.issue {
            origin.issue = item.issue.clone();
            changed = true;
        }
    }
    if changed {
        entry.updated_at = now;
    }
    changed
}

fn new_imported_entry(
    item: &WorkItem,
    repo_url: &str,
    status: EntryStatus,
    seq: u64,
    now: Timestamp,
) -> Entry {
    let content = if item.text.trim().is_empty() {
        item.tag.clone()
    } else {
        item.text.clone()
    };
    Entry {
        id: EntryId::new(),
        seq,
        kind: "task".to_owned(),
        content,
        status,
        priority: item.priority,
        depends_on: Vec::new(),
        children: Vec::new(),
        phase_id: None,
        created_by: CreatedBy::Import,
        created_at: now,
        updated_at: now,
        assigned_to: None,
        session_ids: Vec::new(),
        origin: Some(Origin {
            path: item.path.clone(),
            line: item.line,
            tag: item.tag.clone(),
            author: item.author.clone(),
            issue: item.issue.clone(),
            fingerprint: item.fingerprint.clone(),
            repo_url: Some(repo_url.to_owned()),
            imported_status: Some(status),
            extra: Default::default(),
        }),
        extra: Default::default(),
    }
}

/// Merges a vault snapshot into `target`: entries by id (newer `updated_at`
/// wins), session-bound fields cleared on what comes in, and
/// `imported_from` recorded. Returns whether `target` changed.
pub fn merge_snapshot(target: &mut MasterTodo, snapshot: &MasterTodo, key: &str) -> bool {
    let report = merge_entries(target, snapshot, true);
    let mut changed = report.changed_entries();
    let from = ImportedFrom {
        todo_id: snapshot.id,
        workspace_id: snapshot.workspace_id.clone(),
        key: key.to_owned(),
        version: snapshot.version,
        extra: Default::default(),
    };
    let same_origin = target.imported_from.as_ref().is_some_and(|f| {
        f.todo_id == from.todo_id
            && f.workspace_id == from.workspace_id
            && f.key == from.key
            && f.version == from.version
    });
    if !same_origin {
        let extra = target
            .imported_from
            .take()
            .map(|f| f.extra)
            .unwrap_or_default();
        target.imported_from = Some(ImportedFrom { extra, ..from });
        changed = true;
    }
    if target.project_context.is_empty() && !snapshot.project_context.is_empty() {
        target.project_context = snapshot.project_context.clone();
        changed = true;
    }
    if target.source.is_none() && snapshot.source.is_some() {
        target.source = snapshot.source.clone();
        changed = true;
    }
    changed
}

/// Merges `other`'s phases and entries into `target` by id.
fn merge_entries(target: &mut MasterTodo, other: &MasterTodo, clear_sessions: bool) -> MergeReport {
    let mut report = MergeReport::default();
    let mut phase_seqs: HashSet<u64> = target.phases.iter().map(|p| p.seq).collect();
    let phase_ids: HashSet<_> = target.phases.iter().map(|p| p.id).collect();
    let mut next_phase_seq = target.phases.iter().map(|p| p.seq + 1).max().unwrap_or(0);
    for phase in &other.phases {
        if phase_ids.contains(&phase.id) {
            continue;
        }
        let mut phase = phase.clone();
        if !phase_seqs.insert(phase.seq) {
            phase.seq = take_free_seq(&mut phase_seqs, &mut next_phase_seq);
        }
        target.phases.push(phase);
    }

    let position: HashMap<EntryId, usize> = target
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id, i))
        .collect();
    let mut seqs: HashSet<u64> = target.entries.iter().map(|e| e.seq).collect();
    let mut next_seq = target.next_entry_seq();
    for incoming in &other.entries {
        let mut entry = incoming.clone();
        if clear_sessions {
            entry.assigned_to = None;
            entry.session_ids.clear();
        }
        match position.get(&entry.id) {
            Some(&i) => {
                let current = &mut target.entries[i];
                if entry.updated_at > current.updated_at {
                    entry.seq = current.seq;
                    *current = entry;
                    report.updated += 1;
                } else {
                    report.unchanged += 1;
                }
            }
            None => {
                if !seqs.insert(entry.seq) {
                    entry.seq = take_free_seq(&mut seqs, &mut next_seq);
                }
                target.entries.push(entry);
                report.added += 1;
            }
        }
    }
    report
}

/// The lowest unused `seq` at or above `next`, marked as used.
fn take_free_seq(used: &mut HashSet<u64>, next: &mut u64) -> u64 {
    while used.contains(next) {
        *next += 1;
    }
    used.insert(*next);
    *next
}
