//! Typed identifiers.
//!
//! Every id that crosses the API is a distinct type, so a job id can never be
//! passed where a todo id is expected. Prefixed ids (`imp_`, `todo_`, `entry_`,
//! `phs_`) wrap a [ULID](https://github.com/ulid/spec): sortable by creation
//! time, and unique without coordination between hosts. [`WorkspaceId`] is
//! chosen by the host and validated against the security default
//! `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`.
//!
//! All ids serialise as plain strings and refuse to parse anything else.
//!
//! ```
//! use todovault_core::{ImportJobId, TodoId, WorkspaceId};
//!
//! let ws: WorkspaceId = "ws_prod_42".parse().unwrap();
//! assert_eq!(ws.as_str(), "ws_prod_42");
//!
//! let job = ImportJobId::new();
//! assert!(job.to_string().starts_with("imp_"));
//! assert!("todo_not-a-ulid".parse::<TodoId>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Why a string was refused as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// The longest workspace id accepted (the security default).
pub const WORKSPACE_ID_MAX_LEN: usize = 128;

/// A workspace identifier chosen by the host, e.g. `ws_prod_42`.
///
/// Valid ids match `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`: they are safe in
/// URLs, object keys, file names and log lines without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// Validates and wraps a workspace id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bytes = s.as_bytes();
        let first_ok = bytes.first().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok = bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !first_ok || !rest_ok || bytes.len() > WORKSPACE_ID_MAX_LEN {
            return Err(IdError(format!(
                "workspace id must be 1 to {WORKSPACE_ID_MAX_LEN} characters of letters, digits, '_', '.' or '-', starting with a letter or digit"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WorkspaceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for WorkspaceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WorkspaceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! prefixed_ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            #[doc = concat!("The string every `", stringify!($name), "` starts with.")]
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id (monotonic within this process, unique across hosts).
            pub fn new() -> Self {
                Self(crate::ids::next_ulid())
            }

            /// Wraps an existing ULID.
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// The ULID inside the id.
            pub fn ulid(&self) -> Ulid {
                self.0
            }

            /// Parses `<prefix><ULID>`, refusing anything else.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let refuse = || {
                    IdError(format!(
                        concat!($what, " must look like '", $prefix, "' followed by a 26-character ULID, got {:?}"),
                        crate::ids::shorten(s)
                    ))
                };
                let rest = s.strip_prefix($prefix).ok_or_else(refuse)?;
                if rest.len() != 26 {
                    return Err(refuse());
                }
                Ulid::from_string(rest).map(Self).map_err(|_| refuse())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_ulid_id!(
    /// An import job, `imp_<ULID>`.
    ImportJobId, "imp_", "import job id"
);
prefixed_ulid_id!(
    /// A Master TODO document, `todo_<ULID>`. Its ULID names the vault key.
    TodoId, "todo_", "todo id"
);
prefixed_ulid_id!(
    /// An entry of a Master TODO, `entry_<ULID>`.
    EntryId, "entry_", "entry id"
);
prefixed_ulid_id!(
    /// A phase of a Master TODO, `phs_<ULID>`.
    PhaseId, "phs_", "phase id"
);

/// Ids made in one process sort in creation order even within a millisecond.
pub(crate) fn next_ulid() -> Ulid {
    use std::sync::Mutex;
    static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let mut guard = match GENERATOR.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // The generator only fails when 2^80 ids were made in one millisecond;
    // a fresh random ULID is still unique then.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// Keeps hostile input out of error messages at a readable length.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_ids_follow_the_security_default() {
        for ok in ["a", "ws_prod_42", "A.b-c_d", &"x".repeat(128)] {
            assert!(WorkspaceId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "_ws",
            "-ws",
            ".ws",
            "ws/../x",
            "ws 1",
            "wś",
            &"x".repeat(129),
        ] {
            assert!(WorkspaceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixed_ids_round_trip_and_refuse_other_shapes() {
        let id = TodoId::new();
        let text = id.to_string();
        assert!(text.starts_with("todo_"));
        assert_eq!(text.parse::<TodoId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert!(
            "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4"
                .parse::<ImportJobId>()
                .is_ok()
        );
        assert!("imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4".parse::<TodoId>().is_err());
        assert!("todo_".parse::<TodoId>().is_err());
        assert!(
            "todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5X"
                .parse::<TodoId>()
                .is_err()
        );
        let err = "entry_!!".parse::<EntryId>().unwrap_err();
        assert!(err.0.contains("entry id must look like 'entry_'"), "{err}");
    }

    #[test]
    fn ids_made_in_one_process_sort_by_creation() {
        let ids: Vec<PhaseId> = (0..1000).map(|_| PhaseId::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
