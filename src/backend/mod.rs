//! Backends: the one trait the scheduler talks to, and its implementations (Ollama now).
//!
//! A backend turns one `CallRequest` into a `CallOutput` (text + timings measured the
//! same way everywhere) or a `CallError` whose `ErrorKind` says whether a retry can help.
//! The scheduler never sees HTTP, JSON or NDJSON.

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod ndjson;
pub mod ollama;
pub mod openai;

/// Options the embedded engine honours (see `embedded::SUPPORTED_OPTIONS`).
#[cfg(feature = "embedded")]
pub const EMBEDDED_OPTIONS: &[&str] = embedded::SUPPORTED_OPTIONS;
#[cfg(not(feature = "embedded"))]
pub const EMBEDDED_OPTIONS: &[&str] = &[];

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;

use crate::experiment::OptionValue;

/// One LLM call.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub model: String,
    /// Sent as the backend's options (never contains `model`).
    pub options: Vec<(String, OptionValue)>,
    pub system: Option<String>,
    pub prompt: String,
    pub keep_alive: Option<String>,
}

/// Timings of one successful call. Durations are milliseconds; server-side values are
/// `None` when the backend did not report them (never zero pretending to be a measurement).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallMetrics {
    /// Request sent → first chunk with non-empty text, measured on the client.
    pub ttft_ms: Option<f64>,
    /// Request sent → final chunk received, measured on the client.
    pub e2e_ms: f64,
    pub total_ms: Option<f64>,
    pub load_ms: Option<f64>,
    pub prompt_eval_ms: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub eval_ms: Option<f64>,
    pub eval_tokens: Option<i64>,
    /// eval_tokens / eval time (server-side).
    pub tokens_per_s: Option<f64>,
    /// Where `eval_tokens` came from: `server` (reported) or `chunks` (counted by the client).
    pub token_source: Option<String>,
}

impl CallMetrics {
    /// Output throughput as peers define it: eval_count / eval_duration.
    pub fn throughput(eval_tokens: Option<i64>, eval_ms: Option<f64>) -> Option<f64> {
        match (eval_tokens, eval_ms) {
            (Some(tokens), Some(ms)) if ms > 0.0 => Some(tokens as f64 / (ms / 1000.0)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CallOutput {
    pub text: String,
    pub done_reason: Option<String>,
    pub metrics: CallMetrics,
}

/// What went wrong with a call, as stored in `error_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Connection refused, reset, or DNS failure: the backend may be down.
    Connect,
    /// HTTP 5xx.
    Server,
    /// HTTP 4xx (unknown model, bad request): a retry cannot help.
    Client,
    /// The stream ended (or broke) before its final `done` chunk.
    Truncated,
    /// A line of the stream was not the expected JSON.
    Malformed,
    /// No chunk for longer than `backend.stall_s`.
    Stall,
    /// The whole call took longer than `backend.timeout_s`.
    Timeout,
    /// The backend reported an error inside the stream.
    Backend,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Server => "server",
            ErrorKind::Client => "client",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Stall => "stall",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Backend => "backend",
        }
    }

    /// Whether another attempt can plausibly succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorKind::Client | ErrorKind::Backend)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CallError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for CallError {}

/// What the preflight learnt about the backend and the models of the plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendInfo {
    pub kind: String,
    pub url: String,
    pub version: Option<String>,
    pub models: Vec<ModelInfo>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub digest: Option<String>,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization: Option<String>,
    pub block_count: Option<i64>,
}

/// What the backend has loaded right now (Ollama's `/api/ps`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadedModel {
    /// size_vram / size: the fraction of the model held in GPU memory.
    pub gpu_fraction: Option<f64>,
    pub context_length: Option<i64>,
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// Reads version and model facts before the sweep; an `Err` means unreachable.
    async fn preflight(&self, models: &[String]) -> Result<BackendInfo, CallError>;
    /// A cheap liveness probe, used while waiting for a backend that went down.
    async fn is_up(&self) -> bool;
    /// Runs one call to completion.
    async fn call(&self, request: &CallRequest) -> Result<CallOutput, CallError>;
    /// What is loaded for `model`, when the backend can tell.
    async fn loaded(&self, model: &str) -> Option<LoadedModel>;
    /// How to start this backend, for the "unreachable" error.
    fn start_hint(&self) -> String;
}

/// Bounds a whole call by `backend.timeout_s`; every backend reports it the same way.
pub async fn within_timeout(
    limit: std::time::Duration,
    call: impl Future<Output = Result<CallOutput, CallError>>,
) -> Result<CallOutput, CallError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(CallError::new(
            ErrorKind::Timeout,
            format!(
                "call exceeded {:.0} s (backend.timeout_s)",
                limit.as_secs_f64()
            ),
        ))
    })
}
