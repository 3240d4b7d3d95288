//! The engine's error type and its wire shapes.
//!
//! Each [`Error`] variant maps to exactly one HTTP status and one JSON
//! envelope of the API contract, so a transport layer translates errors with
//! [`Error::status_code`] and [`Error::to_wire`] and never invents its own.
//! Storage and internal failures carry their detail for logs ([`Error::detail`])
//! but show callers only a generic sentence: no internals leak.
//!
//! ```
//! use todovault_core::Error;
//!
//! let err = Error::validation(["repoUrl"], "repoUrl must be a non-empty string");
//! assert_eq!(err.status_code(), 400);
//! assert_eq!(
//!     err.to_wire().to_string(),
//!     r#"{"data":{},"errors":[{"propertyNames":["repoUrl"],"message":"repoUrl must be a non-empty string"}],"success":false}"#
//! );
//! ```

use serde::{Deserialize, Serialize};

/// The message of [`Error::NotEligible`], word for word from the contract.
pub const NOT_ELIGIBLE_MESSAGE: &str = "Workspace not eligible for vault sync";

/// Everything the engine can refuse or fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad input: which properties, and a sentence saying what is wrong.
    #[error("{message}")]
    Validation {
        /// The request properties the message is about (`repoUrl`, …).
        property_names: Vec<String>,
        /// What is wrong, in words a user can act on.
        message: String,
    },
    /// The workspace has nothing that can be synced to the vault.
    #[error("Workspace not eligible for vault sync")]
    NotEligible,
    /// The thing asked for does not exist (or is not the caller's to see).
    #[error("{message}")]
    NotFound {
        /// E.g. `Import job not found`.
        message: String,
    },
    /// The caller is known but may not do this.
    #[error("{message}")]
    Forbidden {
        /// Why, without naming anything the caller may not see.
        message: String,
    },
    /// The caller could not be identified.
    #[error("{message}")]
    Unauthorized {
        /// What credentials are expected.
        message: String,
    },
    /// A concurrent writer won, or the stored state is newer than this write.
    #[error("{message}")]
    Conflict {
        /// What conflicted.
        message: String,
    },
    /// A backing store failed; retrying later may succeed.
    #[error("storage error: {detail}")]
    Storage {
        /// For logs only; never sent to callers.
        detail: String,
    },
    /// The engine is shutting down or overloaded.
    #[error("service unavailable: {detail}")]
    Unavailable {
        /// For logs only; never sent to callers.
        detail: String,
    },
    /// A bug or an invariant broken; never caused by input.
    #[error("internal error: {detail}")]
    Internal {
        /// For logs only; never sent to callers.
        detail: String,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A validation error on the given request properties.
    pub fn validation<I, S>(property_names: I, message: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Error::Validation {
            property_names: property_names.into_iter().map(Into::into).collect(),
            message: message.into(),
        }
    }

    /// A not-found error with the given message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound {
            message: message.into(),
        }
    }

    /// A conflict error with the given message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
        }
    }

    /// A forbidden error with the given message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden {
            message: message.into(),
        }
    }

    /// An unauthorized error with the given message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::Unauthorized {
            message: message.into(),
        }
    }

    /// A storage failure; `detail` goes to logs, never to callers.
    pub fn storage(detail: impl std::fmt::Display) -> Self {
        Error::Storage {
            detail: detail.to_string(),
        }
    }

    /// An internal failure; `detail` goes to logs, never to callers.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal {
            detail: detail.to_string(),
        }
    }

    /// The HTTP status code of this error.
    pub fn status_code(&self) -> u16 {
        match self {
            Error::Validation { .. } | Error::NotEligible => 400,
            Error::Unauthorized { .. } => 401,
            Error::Forbidden { .. } => 403,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Storage { .. } | Error::Internal { .. } => 500,
            Error::Unavailable { .. } => 503,
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Storage { .. } | Error::Unavailable { .. } | Error::Conflict { .. }
        )
    }

    /// Full detail for logs (includes storage/internal causes).
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// The JSON body of this error, exactly as the contract shapes it.
    pub fn to_wire(&self) -> serde_json::Value {
        let body = match self {
            Error::Validation {
                property_names,
                message,
            } => WireError::Validation(ValidationEnvelope::new(
                property_names.clone(),
                message.clone(),
            )),
            Error::NotEligible => WireError::Validation(ValidationEnvelope::new(
                vec!["workspaceID".to_owned()],
                NOT_ELIGIBLE_MESSAGE.to_owned(),
            )),
            Error::NotFound { message } => {
                WireError::Named(NamedError::new("NotFoundError", message))
            }
            Error::Forbidden { message } => {
                WireError::Named(NamedError::new("ForbiddenError", message))
            }
            Error::Unauthorized { message } => {
                WireError::Named(NamedError::new("UnauthorizedError", message))
            }
            Error::Conflict { message } => {
                WireError::Named(NamedError::new("ConflictError", message))
            }
            Error::Storage { .. } | Error::Internal { .. } => WireError::Named(NamedError::new(
                "InternalError",
                "The server could not complete the request; try again later",
            )),
            Error::Unavailable { .. } => WireError::Named(NamedError::new(
                "InternalError",
                "The service is temporarily unavailable; try again later",
            )),
        };
        serde_json::to_value(body).unwrap_or_else(|_| serde_json::Value::Null)
    }
}

/// Either of the contract's two error envelopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireError {
    /// `{"data":{},"errors":[…],"success":false}`
    Validation(ValidationEnvelope),
    /// `{"name":"…Error","data":{"message":"…"}}`
    Named(NamedError),
}

/// The contract's validation envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidationEnvelope {
    /// Always `{}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// One entry per problem.
    pub errors: Vec<PropertyError>,
    /// Always `false`.
    pub success: bool,
}

impl ValidationEnvelope {
    fn new(property_names: Vec<String>, message: String) -> Self {
        Self {
            data: serde_json::Map::new(),
            errors: vec![PropertyError {
                property_names,
                message,
            }],
            success: false,
        }
    }
}

/// One problem inside a [`ValidationEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertyError {
    /// The request properties concerned.
    #[serde(rename = "propertyNames")]
    pub property_names: Vec<String>,
    /// What is wrong.
    pub message: String,
}

/// The contract's named error: `{"name":"NotFoundError","data":{"message":"…"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NamedError {
    /// `NotFoundError`, `ForbiddenError`, …
    pub name: String,
    /// Carries the message.
    pub data: NamedErrorData,
}

impl NamedError {
    fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            data: NamedErrorData {
                message: message.into(),
            },
        }
    }
}

/// The `data` of a [`NamedError`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NamedErrorData {
    /// A sentence for the user.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_variant_has_the_contract_shape() {
        assert_eq!(
            Error::NotEligible.to_wire(),
            json!({"data":{},"errors":[{"propertyNames":["workspaceID"],"message":"Workspace not eligible for vault sync"}],"success":false})
        );
        assert_eq!(
            Error::not_found("Import job not found").to_wire(),
            json!({"name":"NotFoundError","data":{"message":"Import job not found"}})
        );
        assert_eq!(
            Error::forbidden("no").to_wire()["name"],
            json!("ForbiddenError")
        );
        assert_eq!(
            Error::unauthorized("no").to_wire()["name"],
            json!("UnauthorizedError")
        );
        assert_eq!(
            Error::conflict("x").to_wire()["name"],
            json!("ConflictError")
        );
        assert_eq!(Error::conflict("x").status_code(), 409);
    }

    #[test]
    fn internal_details_never_reach_the_wire() {
        let err = Error::storage("disk /var/lib/secret full at row 42");
        let wire = err.to_wire().to_string();
        assert!(!wire.contains("secret"), "{wire}");
        assert_eq!(err.status_code(), 500);
        assert!(err.detail().contains("secret"));
        assert_eq!(
            Error::Unavailable {
                detail: "shutting down".into()
            }
            .status_code(),
            503
        );
    }
}
