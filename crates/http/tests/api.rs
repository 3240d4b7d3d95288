//! The REST contract over a real TCP listener with a real HTTP client:
//! every endpoint's success and error shapes, 401/403, oversized and
//! malformed JSON, unknown jobs, polling to completion, concurrent pollers,
//! and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use todovault_core::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault_core::policy::{Policy, UrlPolicy};
use todovault_core::source::{FixtureSource, MemorySnapshot};
use todovault_core::testkit::TagExtractor;
use todovault_core::{Orchestrator, RunnerConfig, Workers};
use todovault_http::Api;
use todovault_http::auth::BearerTokens;

const REPO: &str = "https://example.com/org/app.git";
const PROD: &str = "prod-token-0123456789";
const STAGING: &str = "staging-token-0123456789";

struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Option<Workers>,
}

impl Server {
    async fn start(policy: Policy, delay: Option<Duration>) -> Self {
        let mut source = FixtureSource::new().with_repo(
            REPO,
            MemorySnapshot::new(
                "c1",
                vec![(
                    "src/lib.rs".into(),
                    b"// TODO: one\n// FIXME: two\n".to_vec(),
                )],
            ),
        );
        if let Some(d) = delay {
            source = source.with_delay(d);
        }
        let engine = Orchestrator::builder()
            .job_store(Arc::new(MemoryJobStore::new()))
            .todo_store(Arc::new(MemoryTodoStore::new()))
            .vault_store(Arc::new(MemoryVaultStore::new()))
            .source(Arc::new(source))
            .extractor(Arc::new(TagExtractor))
            .policy(policy)
            .runner(RunnerConfig::fast())
            .build()
            .unwrap_or_else(|e| panic!("engine: {e}"));
        let workers = engine.start_workers();
        let tokens = BearerTokens::new()
            .with_token(PROD, "ws_prod_42")
            .and_then(|t| t.with_token(STAGING, "ws_staging_07"))
            .unwrap_or_else(|e| panic!("{e}"));
        let app = Api::new(engine, Arc::new(tokens)).router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(todovault_http::serve(listener, app, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop: Some(tx),
            task,
            workers: Some(workers),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = match method {
            "GET" => self.client.get(self.url(path)),
            "POST" => self.client.post(self.url(path)),
            other => self.client.request(
                reqwest::Method::from_bytes(other.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
                self.url(path),
            ),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_else(|e| panic!("{e}"));
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} answered non-JSON {text:?}: {e}"));
        (status, value)
    }

    async fn stop(mut self) {
        if let Some(w) = self.workers.take() {
            w.shutdown(Duration::from_secs(5)).await;
        }
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn test_policy() -> Policy {
    Policy::default().with_urls(UrlPolicy {
        allow_private_hosts: true,
        ..UrlPolicy::default()
    })
}

const WS: &str = "/api/v1/workspaces/ws_prod_42/orchestration";

fn validation(property: &str, message: &str) -> Value {
    json!({"data":{},"errors":[{"propertyNames":[property],"message":message}],"success":false})
}

async fn poll_until_done(server: &Server, job: &str) -> Value {
    let mut last = 0;
    for _ in 0..400 {
        let (code, body) = server
            .call("GET", &format!("{WS}/import/{job}"), Some(PROD), None)
            .await;
        assert_eq!(code, 200, "{body}");
        let progress = body["progress"]
            .as_u64()
            .unwrap_or_else(|| panic!("no progress in {body}"));
        assert!(progress >= last, "progress went back: {last} -> {progress}");
        last = progress;
        if body["status"] != "running" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {job} never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_with_the_contract_shapes() {
    let server = Server::start(
        test_policy().allow_cross_workspace_imports(),
        Some(Duration::from_millis(400)),
    )
    .await;

    // Start import: success shape.
    let (code, started) = server
        .call(
            "POST",
            &format!("{WS}/import"),
            Some(PROD),
            Some(&json!({"repoUrl": REPO}).to_string()),
        )
        .await;
    assert_eq!(code, 200, "{started}");
    let keys: Vec<&String> = started
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["importJobID", "todoID"]);
    let job = started["importJobID"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        job.starts_with("imp_")
            && started["todoID"]
                .as_str()
                .is_some_and(|t| t.starts_with("todo_"))
    );

    // Status: running first, then completed.
    let (code, first) = server
        .call("GET", &format!("{WS}/import/{job}"), Some(PROD), None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(first["status"], "running");
    assert_eq!(first["error"], "");
    let done = poll_until_done(&server, &job).await;
    assert_eq!(
        done,
        json!({"id": job, "status": "completed", "progress": 100, "error": ""})
    );

    // Sync, discover, import.
    let (code, body) = server
        .call("POST", &format!("{WS}/vault/sync"), Some(PROD), None)
        .await;
    assert_eq!((code, body), (200, json!({"synced": true})));
    let (code, body) = server
        .call("GET", &format!("{WS}/vault/discover"), Some(PROD), None)
        .await;
    assert_eq!(code, 200);
    let todos = body["todos"].as_array().cloned().unwrap_or_default();
    assert_eq!(todos.len(), 1);
    let entry = &todos[0];
    let keys: Vec<&String> = entry
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["key", "workspaceID", "sizeBytes", "updatedAt"]);
    assert_eq!(entry["workspaceID"], "ws_prod_42");
    assert!(
        entry["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("vault/todo/") && k.ends_with(".json"))
    );
    assert!(entry["sizeBytes"].as_u64().is_some_and(|n| n > 0));
    let updated = entry["updatedAt"].as_str().unwrap_or_default();
    assert_eq!(updated.len(), "2026-01-12T18:24:55.812Z".len(), "{updated}");
    assert!(updated.ends_with('Z'));

    let (code, body) = server
        .call(
            "POST",
            "/api/v1/workspaces/ws_staging_07/orchestration/vault/import",
            Some(STAGING),
            Some(&json!({"sourceWorkspaceID": "ws_prod_42"}).to_string()),
        )
        .await;
    assert_eq!(
        (code, body),
        (
            200,
            json!({"imported": true, "targetWorkspaceID": "ws_staging_07"})
        )
    );

    // Error shapes, word for word.
    let (code, body) = server
        .call("POST", &format!("{WS}/import"), Some(PROD), Some("{}"))
        .await;
    assert_eq!(
        (code, body),
        (
            400,
            validation("repoUrl", "repoUrl must be a non-empty string")
        )
    );
    let (code, body) = server
        .call(
            "POST",
            &format!("{WS}/import"),
            Some(PROD),
            Some(r#"{"repoUrl": ""}"#),
        )
        .await;
    assert_eq!(
        (code, body),
        (
            400,
            validation("repoUrl", "repoUrl must be a non-empty string")
        )
    );
    let (code, body) = server
        .call("POST", &format!("{WS}/import"), Some(PROD), None)
        .await;
    assert_eq!(
        (code, body),
        (
            400,
            validation("repoUrl", "repoUrl must be a non-empty string")
        )
    );
    let (code, body) = server
        .call(
            "POST",
            &format!("{WS}/vault/import"),
            Some(PROD),
            Some("{}"),
        )
        .await;
    assert_eq!(
        (code, body),
        (
            400,
            validation(
                "sourceWorkspaceID",
                "sourceWorkspaceID must be a non-empty string"
            )
        )
    );
    let (code, body) = server
        .call(
            "GET",
            &format!("{WS}/import/imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4"),
            Some(PROD),
            None,
        )
        .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"name":"NotFoundError","data":{"message":"Import job not found"}})
        )
    );
    let (code, body) = server
        .call("GET", &format!("{WS}/import/garbage"), Some(PROD), None)
        .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"name":"NotFoundError","data":{"message":"Import job not found"}})
        )
    );
    let (code, body) = server
        .call(
            "POST",
            "/api/v1/workspaces/ws_staging_07/orchestration/vault/sync",
            Some(STAGING),
            None,
        )
        .await;
    assert_eq!(code, 200, "staging has an imported Master TODO: {body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_an_empty_workspace_is_not_eligible() {
    let server = Server::start(test_policy(), None).await;
    let (code, body) = server
        .call("POST", &format!("{WS}/vault/sync"), Some(PROD), None)
        .await;
    assert_eq!(
        (code, body),
        (
            400,
            validation("workspaceID", "Workspace not eligible for vault sync")
        )
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_authenticated_and_confined_to_their_workspace() {
    let server = Server::start(test_policy(), None).await;
    let paths = [
        (
            "POST",
            format!("{WS}/import"),
            Some(r#"{"repoUrl":"https://example.com/x.git"}"#),
        ),
        (
            "GET",
            format!("{WS}/import/imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4"),
            None,
        ),
        ("POST", format!("{WS}/vault/sync"), None),
        ("GET", format!("{WS}/vault/discover"), None),
        (
            "POST",
            format!("{WS}/vault/import"),
            Some(r#"{"sourceWorkspaceID":"ws_prod_42"}"#),
        ),
    ];
    for (method, path, body) in &paths {
        let (code, resp) = server.call(method, path, None, *body).await;
        assert_eq!(code, 401, "{method} {path} without a token: {resp}");
        assert_eq!(resp["name"], "UnauthorizedError");
        assert!(
            resp["data"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        let (code, resp) = server
            .call(method, path, Some("wrong-token-0123456789"), *body)
            .await;
        assert_eq!(
            (code, resp["name"].clone()),
            (401, json!("UnauthorizedError")),
            "{method} {path} with a bad token"
        );
        let (code, resp) = server.call(method, path, Some(STAGING), *body).await;
        assert_eq!(
            (code, resp["name"].clone()),
            (403, json!("ForbiddenError")),
            "{method} {path} with another workspace's token"
        );
    }
    // Cross-workspace vault import needs a policy; the default has none.
    let (code, resp) = server
        .call(
            "POST",
            &format!("{WS}/vault/import"),
            Some(PROD),
            Some(r#"{"sourceWorkspaceID":"ws_staging_07"}"#),
        )
        .await;
    assert_eq!((code, resp["name"].clone()), (403, json!("ForbiddenError")));
    // Path parameters are validated.
    let (code, resp) = server
        .call(
            "GET",
            "/api/v1/workspaces/bad%20ws/orchestration/vault/discover",
            Some(PROD),
            None,
        )
        .await;
    assert_eq!(code, 400, "{resp}");
    assert_eq!(resp["errors"][0]["propertyNames"], json!(["workspaceID"]));
    // The server's default URL policy refuses local and loopback repositories.
    let (code, resp) = server
        .call(
            "POST",
            &format!("{WS}/import"),
            Some(PROD),
            Some(r#"{"repoUrl":"/etc"}"#),
        )
        .await;
    assert_eq!(code, 400, "{resp}");
    assert_eq!(resp["errors"][0]["propertyNames"], json!(["repoUrl"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_are_refused_cleanly() {
    let server = Server::start(test_policy(), None).await;
    for bad in ["{", "[1,2]", "\"text\"", "null", "{\"repoUrl\": }"] {
        let (code, body) = server
            .call("POST", &format!("{WS}/import"), Some(PROD), Some(bad))
            .await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(body["success"], false);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("request body")),
            "{body}"
        );
    }
    let huge = json!({"repoUrl": "x".repeat(100_000)}).to_string();
    let (code, body) = server
        .call("POST", &format!("{WS}/import"), Some(PROD), Some(&huge))
        .await;
    assert_eq!(code, 413, "{body}");
    assert_eq!(body["success"], false);
    let (code, body) = server
        .call("GET", "/api/v1/nothing/here", Some(PROD), None)
        .await;
    assert_eq!((code, body["name"].clone()), (404, json!("NotFoundError")));
    let (code, body) = server
        .call("DELETE", &format!("{WS}/vault/sync"), Some(PROD), None)
        .await;
    assert_eq!(code, 405, "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_pollers_see_a_job_complete() {
    let server = Arc::new(Server::start(test_policy(), Some(Duration::from_millis(500))).await);
    let (_, started) = server
        .call(
            "POST",
            &format!("{WS}/import"),
            Some(PROD),
            Some(&json!({"repoUrl": REPO}).to_string()),
        )
        .await;
    let job = started["importJobID"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut pollers = Vec::new();
    for _ in 0..50 {
        let server = Arc::clone(&server);
        let job = job.clone();
        pollers.push(tokio::spawn(
            async move { poll_until_done(&server, &job).await },
        ));
    }
    for p in pollers {
        let last = p.await.unwrap_or_else(|e| panic!("poller panicked: {e}"));
        assert_eq!(last["status"], "completed");
        assert_eq!(last["progress"], 100);
    }
    match Arc::try_unwrap(server) {
        Ok(s) => s.stop().await,
        Err(_) => panic!("server still shared"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_routes() {
    let server = Server::start(test_policy(), None).await;
    let (code, doc) = server.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let expected = [
        (
            "post",
            "/api/v1/workspaces/{workspaceID}/orchestration/import",
        ),
        (
            "get",
            "/api/v1/workspaces/{workspaceID}/orchestration/import/{jobID}",
        ),
        (
            "post",
            "/api/v1/workspaces/{workspaceID}/orchestration/vault/sync",
        ),
        (
            "get",
            "/api/v1/workspaces/{workspaceID}/orchestration/vault/discover",
        ),
        (
            "post",
            "/api/v1/workspaces/{workspaceID}/orchestration/vault/import",
        ),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // Every documented operation exists on the server: with a valid token it
    // never answers with the router's fallback 404 or 405.
    let mut documented = 0;
    for (path, item) in &paths {
        for method in item
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            documented += 1;
            let concrete = path
                .replace("{workspaceID}", "ws_prod_42")
                .replace("{jobID}", "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4");
            let (code, body) = server
                .call(&method.to_uppercase(), &concrete, Some(PROD), Some("{}"))
                .await;
            assert_ne!(code, 405, "{method} {path} is documented but not routed");
            assert_ne!(
                body["data"]["message"], "No such endpoint",
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(
        documented,
        expected.len(),
        "every route is documented exactly once"
    );
    server.stop().await;
}
