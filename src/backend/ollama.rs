//! Ollama's REST API: streaming `/api/generate` (or `/api/chat` with a system prompt),
//! `/api/version`, `/api/tags`, `/api/show` and `/api/ps`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ndjson::read_lines;
use super::{
    Backend, BackendInfo, CallError, CallMetrics, CallOutput, CallRequest, ErrorKind, LoadedModel,
    ModelInfo,
};
use crate::experiment::BackendConfig;

pub struct Ollama {
    base: String,
    client: reqwest::Client,
    timeout: Duration,
    stall: Duration,
}

impl Ollama {
    pub fn new(config: &BackendConfig) -> Result<Ollama, CallError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| CallError::new(ErrorKind::Connect, format!("HTTP client: {err}")))?;
        Ok(Ollama {
            base: config.url.clone(),
            client,
            timeout: Duration::from_secs_f64(config.timeout_s),
            stall: Duration::from_secs_f64(config.stall_s),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get_json(&self, path: &str) -> Result<Value, CallError> {
        let response = self
            .client
            .get(self.url(path))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(request_error)?;
        json_body(response).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        let response = self
            .client
            .post(self.url(path))
            .timeout(Duration::from_secs(30))
            .json(body)
            .send()
            .await
            .map_err(request_error)?;
        json_body(response).await
    }

    async fn stream_call(
        &self,
        request: &CallRequest,
        started: Instant,
    ) -> Result<CallOutput, CallError> {
        let (path, body) = request_body(request);
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .map_err(request_error)?;
        let response = check_status(response).await?;
        read_ndjson(response.bytes_stream(), started, self.stall).await
    }
}

/// Reads an Ollama-format NDJSON stream to its final chunk: TTFT at the first non-empty
/// text, a stall when no bytes arrive for `stall`, truncation when the stream ends early.
/// The embedded engine streams the same format through this same function.
pub async fn read_ndjson<S, B, E>(
    body: S,
    started: Instant,
    stall: Duration,
) -> Result<CallOutput, CallError>
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut stream = StreamState::new();
    let output = read_lines(body, stall, |line| stream.on_line(line, started.elapsed())).await?;
    if let Some(output) = output {
        return Ok(output);
    }
    Err(CallError::new(
        ErrorKind::Truncated,
        "the stream ended without its final (done) chunk",
    ))
}

/// Chooses the endpoint: `/api/chat` when there is a system prompt, else `/api/generate`.
pub fn request_body(request: &CallRequest) -> (&'static str, Value) {
    let options: serde_json::Map<String, Value> = request
        .options
        .iter()
        .map(|(key, value)| (key.clone(), value.to_json()))
        .collect();
    let mut body = match &request.system {
        Some(system) => (
            "/api/chat",
            json!({
                "model": request.model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": request.prompt},
                ],
                "stream": true,
                "options": options,
            }),
        ),
        None => (
            "/api/generate",
            json!({
                "model": request.model,
                "prompt": request.prompt,
                "stream": true,
                "options": options,
            }),
        ),
    };
    if let Some(keep_alive) = &request.keep_alive {
        body.1["keep_alive"] = json!(keep_alive);
    }
    body
}

/// One line of Ollama's stream (generate or chat).
#[derive(Debug, Deserialize)]
struct Chunk {
    response: Option<String>,
    message: Option<ChatMessage>,
    #[serde(default)]
    done: bool,
    done_reason: Option<String>,
    error: Option<String>,
    total_duration: Option<u64>,
    load_duration: Option<u64>,
    prompt_eval_count: Option<i64>,
    prompt_eval_duration: Option<u64>,
    eval_count: Option<i64>,
    eval_duration: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    content: Option<String>,
}

/// The state of one streamed response: text so far and the time of the first token.
#[derive(Default)]
pub struct StreamState {
    text: String,
    ttft: Option<Duration>,
}

impl StreamState {
    pub fn new() -> Self {
        StreamState {
            text: String::new(),
            ttft: None,
        }
    }

    /// Consumes one NDJSON line received `elapsed` after the request was sent; returns the
    /// call's output when the line is the final chunk.
    pub fn on_line(
        &mut self,
        line: &[u8],
        elapsed: Duration,
    ) -> Result<Option<CallOutput>, CallError> {
        let chunk: Chunk = serde_json::from_slice(line).map_err(|err| {
            CallError::new(
                ErrorKind::Malformed,
                format!(
                    "bad stream line ({err}): {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ),
            )
        })?;
        if let Some(error) = chunk.error {
            return Err(CallError::new(ErrorKind::Backend, error));
        }
        let piece = chunk
            .response
            .as_deref()
            .or_else(|| chunk.message.as_ref().and_then(|m| m.content.as_deref()))
            .unwrap_or("");
        // The first chunk can be empty: TTFT waits for real text.
        if self.ttft.is_none() && !piece.is_empty() {
            self.ttft = Some(elapsed);
        }
        self.text.push_str(piece);
        if !chunk.done {
            return Ok(None);
        }
        let ms = |ns: Option<u64>| ns.map(|ns| ns as f64 / 1e6);
        let eval_ms = ms(chunk.eval_duration);
        let metrics = CallMetrics {
            ttft_ms: self.ttft.map(|d| d.as_secs_f64() * 1e3),
            e2e_ms: elapsed.as_secs_f64() * 1e3,
            total_ms: ms(chunk.total_duration),
            load_ms: ms(chunk.load_duration),
            prompt_eval_ms: ms(chunk.prompt_eval_duration),
            prompt_tokens: chunk.prompt_eval_count,
            eval_ms,
            eval_tokens: chunk.eval_count,
            tokens_per_s: CallMetrics::throughput(chunk.eval_count, eval_ms),
            token_source: chunk.eval_count.map(|_| "server".to_owned()),
        };
        Ok(Some(CallOutput {
            text: std::mem::take(&mut self.text),
            done_reason: chunk.done_reason,
            metrics,
        }))
    }
}

fn request_error(err: reqwest::Error) -> CallError {
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_body() || err.is_decode() {
        ErrorKind::Truncated
    } else {
        // Refused, reset, DNS: the backend is unreachable (the scheduler then probes it).
        ErrorKind::Connect
    };
    // reqwest's chain repeats itself ("error sending request ... client error (Connect) ...");
    // the innermost cause is the one a user can act on.
    let mut cause: &dyn std::error::Error = &err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let url = err.url().map(|u| format!(" ({u})")).unwrap_or_default();
    CallError::new(kind, format!("{cause}{url}"))
}

/// Maps a non-2xx response to an error carrying Ollama's `{"error": ...}` text.
async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(body);
    let kind = if status.is_server_error() {
        ErrorKind::Server
    } else {
        ErrorKind::Client
    };
    Err(CallError::new(
        kind,
        format!("HTTP {}: {}", status.as_u16(), detail.trim()),
    ))
}

async fn json_body(response: reqwest::Response) -> Result<Value, CallError> {
    let response = check_status(response).await?;
    response
        .json()
        .await
        .map_err(|err| CallError::new(ErrorKind::Malformed, format!("bad JSON: {err}")))
}

/// Ollama lists `gemma3` as `gemma3:latest`.
fn same_model(a: &str, b: &str) -> bool {
    let full = |name: &str| {
        if name.contains(':') {
            name.to_owned()
        } else {
            format!("{name}:latest")
        }
    };
    full(a) == full(b)
}

#[async_trait]
impl Backend for Ollama {
    async fn preflight(&self, models: &[String]) -> Result<BackendInfo, CallError> {
        let version = self.get_json("/api/version").await?;
        let tags = self.get_json("/api/tags").await.unwrap_or(Value::Null);
        let mut infos = Vec::new();
        for model in models {
            let show = self
                .post_json("/api/show", &json!({ "model": model }))
                .await?;
            let details = &show["details"];
            let text = |v: &Value| v.as_str().map(str::to_owned);
            let block_count = show["model_info"].as_object().and_then(|info| {
                info.iter()
                    .find(|(key, _)| key.ends_with(".block_count"))
                    .and_then(|(_, v)| v.as_i64())
            });
            let digest = tags["models"].as_array().and_then(|list| {
                list.iter()
                    .find(|m| m["name"].as_str().is_some_and(|n| same_model(n, model)))
                    .and_then(|m| text(&m["digest"]))
            });
            infos.push(ModelInfo {
                name: model.clone(),
                digest,
                family: text(&details["family"]),
                parameter_size: text(&details["parameter_size"]),
                quantization: text(&details["quantization_level"]),
                block_count,
            });
        }
        Ok(BackendInfo {
            kind: "ollama".to_owned(),
            url: self.base.clone(),
            version: version["version"].as_str().map(str::to_owned),
            models: infos,
        })
    }

    async fn is_up(&self) -> bool {
        self.get_json("/api/version").await.is_ok()
    }

    async fn call(&self, request: &CallRequest) -> Result<CallOutput, CallError> {
        let started = Instant::now();
        super::within_timeout(self.timeout, self.stream_call(request, started)).await
    }

    async fn loaded(&self, model: &str) -> Option<LoadedModel> {
        let ps = self.get_json("/api/ps").await.ok()?;
        let entry = ps["models"]
            .as_array()?
            .iter()
            .find(|m| m["name"].as_str().is_some_and(|n| same_model(n, model)))?;
        let size = entry["size"].as_f64();
        let vram = entry["size_vram"].as_f64();
        Some(LoadedModel {
            gpu_fraction: match (size, vram) {
                (Some(size), Some(vram)) if size > 0.0 => Some(vram / size),
                _ => None,
            },
            context_length: entry["context_length"].as_i64(),
        })
    }

    fn start_hint(&self) -> String {
        format!(
            "start Ollama with `ollama serve` (or set OLLAMA_HOST / backend.url to where it listens: now {})",
            self.base
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> Result<Option<CallOutput>, CallError> {
        let mut state = StreamState::new();
        let mut out = None;
        for (i, line) in lines.iter().enumerate() {
            out = state.on_line(line.as_bytes(), Duration::from_millis(10 * (i as u64 + 1)))?;
        }
        Ok(out)
    }

    #[test]
    fn ttft_waits_for_the_first_non_empty_chunk() {
        let output = feed(&[
            r#"{"response":"","done":false}"#,
            r#"{"response":"Hel","done":false}"#,
            r#"{"response":"lo","done":false}"#,
            r#"{"response":"","done":true,"done_reason":"stop","total_duration":40000000,"load_duration":1000000,"prompt_eval_count":12,"prompt_eval_duration":5000000,"eval_count":2,"eval_duration":20000000}"#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(output.text, "Hello");
        assert_eq!(output.done_reason.as_deref(), Some("stop"));
        let m = output.metrics;
        assert_eq!(m.ttft_ms, Some(20.0));
        assert_eq!(m.e2e_ms, 40.0);
        assert_eq!(m.total_ms, Some(40.0));
        assert_eq!(m.load_ms, Some(1.0));
        assert_eq!(m.prompt_tokens, Some(12));
        assert_eq!(m.prompt_eval_ms, Some(5.0));
        assert_eq!(m.eval_tokens, Some(2));
        assert_eq!(m.eval_ms, Some(20.0));
        assert_eq!(m.tokens_per_s, Some(100.0));
    }

    #[test]
    fn chat_chunks_carry_text_in_message_content() {
        let output = feed(&[
            r#"{"message":{"role":"assistant","content":"Hi"},"done":false}"#,
            r#"{"message":{"role":"assistant","content":""},"done":true,"eval_count":1,"eval_duration":1000000}"#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(output.text, "Hi");
        assert_eq!(output.metrics.tokens_per_s, Some(1000.0));
    }

    #[test]
    fn missing_server_timings_stay_missing() {
        let output = feed(&[r#"{"response":"x","done":true}"#]).unwrap().unwrap();
        assert_eq!(output.metrics.prompt_tokens, None);
        assert_eq!(output.metrics.tokens_per_s, None);
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(feed(&["{not json"]).unwrap_err().kind, ErrorKind::Malformed);
        let err = feed(&[r#"{"error":"model requires more system memory"}"#]).unwrap_err();
        assert_eq!(
            err,
            CallError::new(ErrorKind::Backend, "model requires more system memory")
        );
    }

    #[test]
    fn a_system_prompt_selects_the_chat_endpoint() {
        let mut request = CallRequest {
            model: "m".into(),
            options: vec![("num_ctx".into(), crate::experiment::OptionValue::Int(512))],
            system: None,
            prompt: "p".into(),
            keep_alive: Some("30m".into()),
        };
        let (path, body) = request_body(&request);
        assert_eq!(path, "/api/generate");
        assert_eq!(body["options"]["num_ctx"], 512);
        assert_eq!(body["keep_alive"], "30m");
        request.system = Some("s".into());
        let (path, body) = request_body(&request);
        assert_eq!(path, "/api/chat");
        assert_eq!(body["messages"][0]["content"], "s");
        assert_eq!(body["messages"][1]["content"], "p");
    }
}
