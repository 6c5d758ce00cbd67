//! The client of a `TestApp`: restarts, requests whose replies are checked against the spec, the
//! verbs, log-in, user and API key creation; and stopping the server when the app is dropped.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

impl TestApp {
    /// Stops the server and starts a new one on the same database: what a restart sees.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        start(self.db_url.clone(), dir, self.settings.clone()).await
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Sends a request and checks the reply against the spec.
    pub async fn send(&self, method: &str, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        let mut req = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(h) = auth.header() {
            req = req.header("authorization", h);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.finish(method, path, req).await
    }

    /// Sends raw bytes with a given content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        auth: &Auth,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .header("content-type", content_type)
            .body(body);
        if let Some(h) = auth.header() {
            req = req.header("authorization", h);
        }
        self.finish(method, path, req).await
    }

    async fn finish(&self, method: &str, path: &str, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body read");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        if status != 302 {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                ct.starts_with("application/json"),
                "{method} {path}: content type [{ct}], body {body}"
            );
        }
        crate::spec::check(method, path, status, &headers, &body);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.send("GET", path, auth, None).await
    }
    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send("POST", path, auth, Some(body)).await
    }
    pub async fn patch(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send("PATCH", path, auth, Some(body)).await
    }
    pub async fn put(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send("PUT", path, auth, Some(body)).await
    }
    pub async fn delete(&self, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        self.send("DELETE", path, auth, body).await
    }

    /// Logs in and returns the bearer token.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let body = self
            .post(
                "/users/auth/_login",
                &Auth::None,
                json!({"username": user, "password": password}),
            )
            .await
            .expect(200);
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates a native user through the API (as admin) and returns its credentials.
    pub async fn create_user(&self, name: &str, roles: &[&str]) -> Auth {
        let password = format!("{name}-password");
        self.post(
            "/users",
            &Auth::admin(),
            json!({"user_name": name, "security": {"password": password, "roles": roles}}),
        )
        .await
        .expect(200);
        Auth::basic(name, &password)
    }

    /// Creates an API key for `auth`'s user and returns the secret.
    pub async fn create_key(&self, auth: &Auth, expiration: Option<&str>) -> (String, String) {
        let mut body = json!({"description": "test key"});
        if let Some(e) = expiration {
            body["expiration"] = json!(e);
        }
        let reply = self.post("/users/auth/keys", auth, body).await.expect(201);
        (
            reply["id"].as_str().unwrap().into(),
            reply["key"].as_str().unwrap().into(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
