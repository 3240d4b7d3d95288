//! RepoSource over gix: URL policy, shallow fetch, progress, cancel.
