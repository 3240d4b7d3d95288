//! axum Router serving the todovault REST contract.
