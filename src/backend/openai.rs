//! OpenAI-compatible servers (`[backend] kind = "openai"`): streaming
//! `/v1/chat/completions` (SSE) with `stream_options.include_usage`. TTFT at the first
//! non-empty delta; tokens from `usage` (counted from chunks when a server omits it, and
//! flagged in `token_source`); server timings when the server reports them (llama.cpp's
//! `timings`). The API key comes from the environment variable the file names and is never
//! stored.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::ndjson::read_lines;
use super::{
    Backend, BackendInfo, CallError, CallMetrics, CallOutput, CallRequest, ErrorKind, LoadedModel,
    ModelInfo,
};
use crate::experiment::{BackendConfig, OptionValue};

/// Options and the request field each maps to. Beyond OpenAI's own fields, llama.cpp's
/// server, vLLM and others accept the sampling extras under Ollama's names.
pub const SENT_OPTIONS: &[(&str, &str)] = &[
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("seed", "seed"),
    ("num_predict", "max_tokens"),
    ("stop", "stop"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("typical_p", "typical_p"),
    ("repeat_penalty", "repeat_penalty"),
    ("repeat_last_n", "repeat_last_n"),
];

pub struct OpenAi {
    base: String,
    client: reqwest::Client,
    api_key: Option<String>,
    timeout: Duration,
    stall: Duration,
}

impl OpenAi {
    pub fn new(config: &BackendConfig) -> Result<OpenAi, CallError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => Some(std::env::var(var).map_err(|_| {
                CallError::new(
                    ErrorKind::Client,
                    format!(
                        "backend.api_key_env names `{var}`, but it is not set: export {var}=..."
                    ),
                )
            })?),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| CallError::new(ErrorKind::Connect, format!("HTTP client: {err}")))?;
        Ok(OpenAi {
            base: config.url.trim_end_matches("/v1").to_owned(),
            client,
            api_key,
            timeout: Duration::from_secs_f64(config.timeout_s),
            stall: Duration::from_secs_f64(config.stall_s),
        })
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn stream_call(
        &self,
        request: &CallRequest,
        started: Instant,
    ) -> Result<CallOutput, CallError> {
        let response = self
            .post("/v1/chat/completions")
            .json(&request_body(request))
            .send()
            .await
            .map_err(|e| CallError::new(ErrorKind::Connect, e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let kind = if status.is_server_error() {
                ErrorKind::Server
            } else {
                ErrorKind::Client
            };
            return Err(CallError::new(
                kind,
                format!("HTTP {}: {}", status.as_u16(), body.trim()),
            ));
        }
        let mut state = SseState::default();
        let done = read_lines(response.bytes_stream(), self.stall, |line| {
            Ok(state.on_line(line, started.elapsed())?.then_some(()))
        })
        .await?;
        // Some servers end the stream after the finish reason without `[DONE]`.
        if done.is_some() || state.saw_finish {
            return Ok(state.finish(started.elapsed()));
        }
        Err(CallError::new(
            ErrorKind::Truncated,
            "the stream ended before [DONE]",
        ))
    }
}

/// The chat completion request: messages, streaming with usage, and the mapped options.
pub fn request_body(request: &CallRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": request.prompt}));
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    for (option, value) in &request.options {
        if let Some((_, field)) = SENT_OPTIONS.iter().find(|(o, _)| o == option) {
            let value = match (option.as_str(), value) {
                // Ollama's -1 (unlimited) has no OpenAI equivalent: leave max_tokens unset.
                ("num_predict", OptionValue::Int(n)) if *n < 0 => continue,
                _ => value.to_json(),
            };
            body[*field] = value;
        }
    }
    body
}

/// The state of one SSE response.
#[derive(Debug, Default)]
pub struct SseState {
    text: String,
    ttft: Option<Duration>,
    chunks_with_text: i64,
    saw_finish: bool,
    finish_reason: Option<String>,
    usage: Option<Value>,
    timings: Option<Value>,
}

impl SseState {
    /// Consumes one line; `true` once the stream is complete (`data: [DONE]`).
    pub fn on_line(&mut self, line: &[u8], elapsed: Duration) -> Result<bool, CallError> {
        let Some(data) = line.strip_prefix(b"data:") else {
            return Ok(false); // comments, event names, keep-alives
        };
        let data = data.trim_ascii();
        if data == b"[DONE]" {
            return Ok(true);
        }
        let chunk: Value = serde_json::from_slice(data).map_err(|err| {
            CallError::new(
                ErrorKind::Malformed,
                format!(
                    "bad SSE data ({err}): {}",
                    String::from_utf8_lossy(&data[..data.len().min(200)])
                ),
            )
        })?;
        if let Some(error) = chunk.get("error") {
            return Err(CallError::new(ErrorKind::Backend, error.to_string()));
        }
        if let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) {
            let piece = choice["delta"]["content"].as_str().unwrap_or("");
            if !piece.is_empty() {
                if self.ttft.is_none() {
                    self.ttft = Some(elapsed);
                }
                self.chunks_with_text += 1;
                self.text.push_str(piece);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.saw_finish = true;
                self.finish_reason = Some(reason.to_owned());
            }
        }
        if chunk.get("usage").is_some_and(|u| !u.is_null()) {
            self.usage = Some(chunk["usage"].clone());
        }
        if chunk.get("timings").is_some_and(|t| !t.is_null()) {
            self.timings = Some(chunk["timings"].clone());
        }
        Ok(false)
    }

    pub fn finish(&mut self, elapsed: Duration) -> CallOutput {
        let e2e_ms = elapsed.as_secs_f64() * 1e3;
        let ttft_ms = self.ttft.map(|d| d.as_secs_f64() * 1e3);
        let usage = self.usage.as_ref();
        let server_tokens = usage.and_then(|u| u["completion_tokens"].as_i64());
        let (eval_tokens, token_source) = match server_tokens {
            Some(n) => (Some(n), "server"),
            None => (Some(self.chunks_with_text), "chunks"),
        };
        let timings = self.timings.as_ref();
        let server_eval_ms = timings.and_then(|t| t["predicted_ms"].as_f64());
        // Without server timings, generation time is what the client saw after the first token.
        let eval_ms = server_eval_ms.or_else(|| ttft_ms.map(|t| e2e_ms - t));
        let metrics = CallMetrics {
            ttft_ms,
            e2e_ms,
            total_ms: None,
            load_ms: None,
            prompt_eval_ms: timings.and_then(|t| t["prompt_ms"].as_f64()),
            prompt_tokens: usage
                .and_then(|u| u["prompt_tokens"].as_i64())
                .or_else(|| timings.and_then(|t| t["prompt_n"].as_i64())),
            eval_ms,
            eval_tokens,
            tokens_per_s: CallMetrics::throughput(eval_tokens, eval_ms),
            token_source: Some(token_source.to_owned()),
        };
        CallOutput {
            text: std::mem::take(&mut self.text),
            done_reason: self.finish_reason.clone(),
            metrics,
        }
    }
}

#[async_trait]
impl Backend for OpenAi {
    async fn preflight(&self, models: &[String]) -> Result<BackendInfo, CallError> {
        let mut request = self
            .client
            .get(format!("{}/v1/models", self.base))
            .timeout(Duration::from_secs(10));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::new(ErrorKind::Connect, e.to_string()))?;
        let listed: Value = response.json().await.unwrap_or(Value::Null);
        let ids: Vec<String> = listed["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(BackendInfo {
            kind: "openai".to_owned(),
            url: self.base.clone(),
            version: Some(format!("models served: {}", ids.join(", "))),
            models: models
                .iter()
                .map(|name| ModelInfo {
                    name: name.clone(),
                    ..ModelInfo::default()
                })
                .collect(),
        })
    }

    async fn is_up(&self) -> bool {
        self.client
            .get(format!("{}/v1/models", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| !r.status().is_server_error())
    }

    async fn call(&self, request: &CallRequest) -> Result<CallOutput, CallError> {
        let started = Instant::now();
        super::within_timeout(self.timeout, self.stream_call(request, started)).await
    }

    async fn loaded(&self, _model: &str) -> Option<LoadedModel> {
        None
    }

    fn start_hint(&self) -> String {
        format!(
            "start the OpenAI-compatible server (e.g. llama-server --host 127.0.0.1 --port 8080 -m model.gguf) or fix backend.url (now {})",
            self.base
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> CallOutput {
        let mut state = SseState::default();
        for (i, line) in lines.iter().enumerate() {
            if state
                .on_line(line.as_bytes(), Duration::from_millis(10 * (i as u64 + 1)))
                .unwrap()
            {
                break;
            }
        }
        state.finish(Duration::from_millis(100))
    }

    #[test]
    fn llama_cpp_stream_with_usage_and_timings() {
        let out = feed(&[
            r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"content":" there"}}]}"#,
            r#"data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}]}"#,
            r#"data: {"choices":[],"usage":{"completion_tokens":5,"prompt_tokens":3},"timings":{"prompt_n":3,"prompt_ms":30.0,"predicted_n":5,"predicted_ms":50.0}}"#,
            "data: [DONE]",
        ]);
        assert_eq!(out.text, "Hi there");
        assert_eq!(out.done_reason.as_deref(), Some("length"));
        let m = out.metrics;
        assert_eq!(m.ttft_ms, Some(20.0));
        assert_eq!(m.e2e_ms, 100.0);
        assert_eq!((m.prompt_tokens, m.prompt_eval_ms), (Some(3), Some(30.0)));
        assert_eq!(
            (m.eval_tokens, m.eval_ms, m.tokens_per_s),
            (Some(5), Some(50.0), Some(100.0))
        );
        assert_eq!(m.token_source.as_deref(), Some("server"));
    }

    #[test]
    fn without_usage_tokens_are_counted_from_chunks_and_flagged() {
        let out = feed(&[
            r#"data: {"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            ": keep-alive comment",
            r#"data: {"choices":[{"index":0,"delta":{"content":"b"}}]}"#,
            "data: [DONE]",
        ]);
        let m = out.metrics;
        assert_eq!(m.eval_tokens, Some(2));
        assert_eq!(m.token_source.as_deref(), Some("chunks"));
        assert_eq!(m.eval_ms, Some(90.0), "client-side: e2e minus TTFT");
    }

    #[test]
    fn options_map_to_request_fields_and_unsent_ones_stay_out() {
        let request = CallRequest {
            model: "m".into(),
            options: vec![
                ("num_predict".into(), OptionValue::Int(32)),
                ("temperature".into(), OptionValue::Float(0.0)),
                ("num_ctx".into(), OptionValue::Int(512)),
                ("top_k".into(), OptionValue::Int(40)),
            ],
            system: Some("s".into()),
            prompt: "p".into(),
            keep_alive: None,
        };
        let body = request_body(&request);
        assert_eq!(body["max_tokens"], 32);
        assert_eq!(body["temperature"], 0.0);
        assert_eq!(body["top_k"], 40);
        assert!(
            body.get("num_ctx").is_none(),
            "server-side options are recorded, not sent"
        );
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["stream_options"]["include_usage"], true);
    }
}
