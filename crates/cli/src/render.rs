//! How results are shown: tables, Markdown, JSON, and the import progress.

use std::collections::{HashMap, HashSet};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use todovault_core::api::{ImportStatusResponse, VaultDiscoverResponse, WireJobStatus};
use todovault_core::document::format_timestamp;
use todovault_core::{Entry, EntryId, EntryStatus, MasterTodo};

use crate::Format;

/// Prints `value` as JSON when `json`, else the text `text()` makes.
pub fn print_json_or<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
    } else {
        println!("{}", text());
    }
}

/// `imp_… running 42%` or `imp_… failed: why`.
pub fn status_line(s: &ImportStatusResponse) -> String {
    match s.status {
        WireJobStatus::Running => format!("{} running {}%", s.id, s.progress),
        WireJobStatus::Completed => format!("{} completed", s.id),
        WireJobStatus::Failed => format!("{} failed: {}", s.id, s.error),
    }
}

/// The vault's contents as aligned columns.
pub fn discover_table(found: &VaultDiscoverResponse) -> String {
    if found.todos.is_empty() {
        return "The vault is empty.".to_owned();
    }
    let rows: Vec<[String; 4]> = found
        .todos
        .iter()
        .map(|t| {
            [
                t.key.clone(),
                t.workspace_id.to_string(),
                t.size_bytes.to_string(),
                format_timestamp(&t.updated_at),
            ]
        })
        .collect();
    table(&["KEY", "WORKSPACE", "BYTES", "UPDATED"], &rows)
}

fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

fn status_word(s: EntryStatus) -> &'static str {
    match s {
        EntryStatus::Pending => "pending",
        EntryStatus::InProgress => "in_progress",
        EntryStatus::Completed => "completed",
        EntryStatus::Blocked => "blocked",
        EntryStatus::Cancelled => "cancelled",
        EntryStatus::Failed => "failed",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let head: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

fn location(e: &Entry) -> String {
    e.origin
        .as_ref()
        .map(|o| format!("{}:{}", o.path, o.line))
        .unwrap_or_default()
}

/// A Master TODO in the requested format.
pub fn document(doc: &MasterTodo, format: Format) -> String {
    match format {
        Format::Json => {
            serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("cannot print JSON: {e}"))
        }
        Format::Table => {
            let mut entries: Vec<&Entry> = doc.entries.iter().collect();
            entries.sort_by_key(|e| e.seq);
            let rows: Vec<[String; 6]> = entries
                .iter()
                .map(|e| {
                    [
                        e.seq.to_string(),
                        status_word(e.status).to_owned(),
                        format!("{:?}", e.priority).to_lowercase(),
                        e.origin.as_ref().map(|o| o.tag.clone()).unwrap_or_default(),
                        truncate(&e.content, 72),
                        location(e),
                    ]
                })
                .collect();
            let head = format!(
                "Master TODO {} of {} (version {}, {} entries)",
                doc.id,
                doc.workspace_id,
                doc.version,
                doc.entries.len()
            );
            if rows.is_empty() {
                return format!("{head}\n(no entries)");
            }
            format!(
                "{head}\n{}",
                table(
                    &["SEQ", "STATUS", "PRIORITY", "TAG", "CONTENT", "WHERE"],
                    &rows
                )
            )
        }
        Format::Markdown => markdown(doc),
    }
}

fn markdown(doc: &MasterTodo) -> String {
    let by_id: HashMap<EntryId, &Entry> = doc.entries.iter().map(|e| (e.id, e)).collect();
    let children: HashSet<EntryId> = doc
        .entries
        .iter()
        .flat_map(|e| e.children.iter().copied())
        .collect();
    let mut roots: Vec<&Entry> = doc
        .entries
        .iter()
        .filter(|e| !children.contains(&e.id))
        .collect();
    roots.sort_by_key(|e| e.seq);
    let mut out = vec![
        format!("# Master TODO of {}", doc.workspace_id),
        String::new(),
    ];
    if !doc.project_context.is_empty() {
        out.push(format!("> {}", doc.project_context));
        out.push(String::new());
    }
    let mut seen = HashSet::new();
    fn walk<'a>(
        e: &'a Entry,
        depth: usize,
        by_id: &HashMap<EntryId, &'a Entry>,
        seen: &mut HashSet<EntryId>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(e.id) {
            return;
        }
        let mark = if e.status == EntryStatus::Completed {
            "x"
        } else {
            " "
        };
        let mut line = format!("{}- [{mark}] {}", "  ".repeat(depth), e.content);
        let loc = location(e);
        if !loc.is_empty() {
            line.push_str(&format!(" (`{loc}`)"));
        }
        if !matches!(e.status, EntryStatus::Pending | EntryStatus::Completed) {
            line.push_str(&format!(" — {}", status_word(e.status)));
        }
        out.push(line);
        for child in &e.children {
            if let Some(c) = by_id.get(child) {
                walk(c, depth + 1, by_id, seen, out);
            }
        }
    }
    for root in roots {
        walk(root, 0, &by_id, &mut seen, &mut out);
    }
    if doc.entries.is_empty() {
        out.push("(no entries)".to_owned());
    }
    out.join("\n")
}

fn counts(doc: &MasterTodo) -> (usize, usize, usize) {
    let done = doc
        .entries
        .iter()
        .filter(|e| e.status == EntryStatus::Completed)
        .count();
    let open = doc
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EntryStatus::Pending | EntryStatus::InProgress | EntryStatus::Blocked
            )
        })
        .count();
    (doc.entries.len(), open, done)
}

/// One paragraph about an imported Master TODO.
pub fn summary(doc: &MasterTodo, repo: &str) -> String {
    let (total, open, done) = counts(doc);
    let commit = doc
        .source
        .as_ref()
        .map(|s| s.commit.as_str())
        .unwrap_or("?");
    let short = commit.get(..12).unwrap_or(commit);
    format!(
        "Imported {repo} at {short} into workspace {}.\nMaster TODO {} (version {}): {total} entries, {open} open, {done} completed.",
        doc.workspace_id, doc.id, doc.version
    )
}

/// The same as JSON.
pub fn summary_json(doc: &MasterTodo) -> serde_json::Value {
    let (total, open, done) = counts(doc);
    serde_json::json!({
        "workspaceID": doc.workspace_id,
        "todoID": doc.id,
        "version": doc.version,
        "entries": total,
        "open": open,
        "completed": done,
    })
}

/// A progress bar on a terminal; plain lines every 10% otherwise.
pub struct ImportProgress {
    bar: Option<ProgressBar>,
    last_line: Option<u8>,
}

impl ImportProgress {
    /// A bar when `interactive`, plain lines on stderr otherwise.
    pub fn new(interactive: bool) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(100);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} importing [{bar:40}] {pos:>3}% {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            last_line: None,
        }
    }

    /// Shows the latest status.
    pub fn update(&mut self, status: &ImportStatusResponse) {
        let stage = match status.progress {
            0..60 => "fetching",
            60..95 => "scanning",
            _ => "merging",
        };
        match &self.bar {
            Some(bar) => {
                bar.set_position(u64::from(status.progress));
                bar.set_message(stage);
            }
            None => {
                let decile = status.progress / 10;
                if self.last_line != Some(decile) {
                    self.last_line = Some(decile);
                    eprintln!("import {}: {}% ({stage})", status.id, status.progress);
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
