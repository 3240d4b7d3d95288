//! # todovault-http
//!
//! An axum [`Router`] serving todovault's REST contract: the five endpoints
//! under `/api/v1/workspaces/{workspaceID}/orchestration/…`, exactly the
//! contract's JSON shapes and error envelopes, and an OpenAPI 3.1 document
//! generated from the handlers at `/api/v1/openapi.json`.
//!
//! Mount it in your own app, or serve it alone with [`serve`]:
//!
//! ```no_run
//! # async fn demo(engine: todovault_core::Orchestrator) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use todovault_http::{Api, auth::BearerTokens};
//!
//! let tokens = BearerTokens::new().with_token("prod-token-0123456789", "ws_prod_42").unwrap();
//! let app = Api::new(engine, Arc::new(tokens)).router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! todovault_http::serve(listener, app, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Every request is authenticated by a pluggable [`auth::Authenticator`];
//! the path workspace must be the caller's (403 otherwise), and missing or
//! invalid credentials get 401 — both in the contract's named-error
//! envelope. Bodies are limited in size, requests in time, and each request
//! runs in a tracing span.

#![warn(missing_docs)]

pub mod auth;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use todovault_core::{Error, Orchestrator};
use utoipa::OpenApi;

use crate::auth::Authenticator;
use crate::routes::{ApiError, AppState};

/// The OpenAPI document of the API, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "todovault orchestration: vault & import",
        description = "Portable Master TODO state: import repositories, sync to the vault, discover and import snapshots."
    ),
    paths(
        routes::start_import,
        routes::import_status,
        routes::vault_sync,
        routes::vault_discover,
        routes::vault_import
    ),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document as JSON, with the version set to 3.1.0.
pub fn openapi_json() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["openapi"] = serde_json::Value::String("3.1.0".into());
    doc
}

/// Builds the router: an engine, an authenticator, and limits.
pub struct Api {
    state: AppState,
}

impl Api {
    /// The API over `engine`, authenticating with `auth`. The body limit
    /// comes from the engine's policy; requests time out after 30 s.
    pub fn new(engine: Orchestrator, auth: Arc<dyn Authenticator>) -> Self {
        let body_limit = engine.policy().limits.max_body_bytes;
        Self {
            state: AppState {
                engine,
                auth,
                body_limit,
                request_timeout: Duration::from_secs(30),
            },
        }
    }

    /// Sets the longest a request may take before it is answered with 503.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.state.request_timeout = timeout;
        self
    }

    /// Sets the largest accepted request body.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.state.body_limit = bytes;
        self
    }

    /// The router, ready to serve or to nest in a host's app.
    pub fn router(self) -> Router {
        let state = self.state;
        let limit = state.body_limit;
        Router::new()
            .route(
                "/api/v1/workspaces/{workspaceID}/orchestration/import",
                post(routes::start_import),
            )
            .route(
                "/api/v1/workspaces/{workspaceID}/orchestration/import/{jobID}",
                get(routes::import_status),
            )
            .route(
                "/api/v1/workspaces/{workspaceID}/orchestration/vault/sync",
                post(routes::vault_sync),
            )
            .route(
                "/api/v1/workspaces/{workspaceID}/orchestration/vault/discover",
                get(routes::vault_discover),
            )
            .route(
                "/api/v1/workspaces/{workspaceID}/orchestration/vault/import",
                post(routes::vault_import),
            )
            .route("/api/v1/openapi.json", get(openapi_handler))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(state.clone(), with_timeout))
            .layer(DefaultBodyLimit::max(limit))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(state)
    }
}

/// The document is the same for the life of the process: build it once.
async fn openapi_handler() -> axum::Json<serde_json::Value> {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(DOCUMENT.get_or_init(openapi_json).clone())
}

async fn not_found() -> ApiError {
    ApiError(Error::not_found("No such endpoint"))
}

async fn method_not_allowed() -> Response {
    let body = serde_json::json!({"name": "MethodNotAllowedError", "data": {"message": "This endpoint does not accept that method"}});
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

async fn with_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(Error::Unavailable {
            detail: format!("request took longer than {:?}", state.request_timeout),
        })
        .into_response(),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting connections and lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
