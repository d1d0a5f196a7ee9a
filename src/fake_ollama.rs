//! A fake Ollama on loopback: the real wire format (NDJSON over chunked HTTP/1.1) with
//! deterministic timings and injectable faults. Tests drive full sweeps against it,
//! benchmarks measure the harness against it, and `chimera fake-ollama` lets a user try the
//! tool without a GPU. It speaks just enough HTTP for reqwest and curl.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// A fault injected into the next generation request(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 500 with an Ollama-style `{"error": ...}` body.
    Http500,
    /// HTTP 404, as for an unknown model.
    Http404,
    /// Send a few chunks, then close the connection without the final chunk.
    DropMidStream,
    /// Send a line that is not JSON.
    MalformedLine,
    /// Send one chunk, then go silent for this long.
    Stall(Duration),
    /// An `{"error": ...}` line inside the stream.
    StreamError,
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Tokens per response (= eval_count).
    pub tokens: usize,
    /// Delay between streamed chunks.
    pub token_delay: Duration,
    /// Ollama sometimes starts with an empty chunk; TTFT must skip it.
    pub empty_first_chunk: bool,
    /// Report measured handler time as total_duration (benchmarks) instead of fixed values.
    pub real_timing: bool,
    /// Models that exist; empty = every model exists.
    pub models: Vec<String>,
    /// Canned answers: the first whose key the prompt contains is streamed word by word
    /// (capped by num_predict); other prompts get `tokens` generated tokens.
    pub replies: Vec<(String, String)>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            tokens: 8,
            token_delay: Duration::ZERO,
            empty_first_chunk: true,
            real_timing: false,
            models: Vec::new(),
            replies: Vec::new(),
        }
    }
}

/// One generation request the fake served, with exactly what it sent back.
#[derive(Debug, Clone)]
pub struct ServedCall {
    pub path: String,
    pub request: Value,
    /// The final `done` chunk, when one was sent.
    pub final_chunk: Option<Value>,
    pub text: String,
}

/// Fixed server-side timings (nanoseconds), so tests can predict every stored value.
pub const FAKE_EVAL_NS_PER_TOKEN: u64 = 10_000_000;
pub const FAKE_PROMPT_NS_PER_TOKEN: u64 = 1_000_000;
pub const FAKE_LOAD_NS: u64 = 500_000_000;
pub const FAKE_WARM_LOAD_NS: u64 = 1_000_000;

struct Inner {
    config: FakeConfig,
    faults: VecDeque<Fault>,
    served: Vec<ServedCall>,
    loaded: Option<(String, Option<i64>)>,
    generation_requests: usize,
}

pub struct FakeOllama {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    shutdown: watch::Sender<bool>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeOllama {
    /// Starts on a free loopback port.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeOllama> {
        Self::start_on(0, config).await
    }

    pub async fn start_on(port: u16, config: FakeConfig) -> std::io::Result<FakeOllama> {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            config,
            faults: VecDeque::new(),
            served: Vec::new(),
            loaded: None,
            generation_requests: 0,
        }));
        let (shutdown, _) = watch::channel(false);
        let server = FakeOllama {
            addr,
            inner,
            shutdown,
        };
        server.serve(listener);
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues faults for the next generation requests, one fault per request.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner).faults.extend(faults);
    }

    /// Every generation request served so far.
    pub fn served(&self) -> Vec<ServedCall> {
        lock(&self.inner).served.clone()
    }

    /// Generation requests received (faulty ones included).
    pub fn generation_requests(&self) -> usize {
        lock(&self.inner).generation_requests
    }

    pub fn set_token_delay(&self, delay: Duration) {
        lock(&self.inner).config.token_delay = delay;
    }

    /// The server dies: it stops listening and drops every open connection.
    pub fn kill(&self) {
        self.shutdown.send_replace(true);
    }

    /// The server comes back on the same port, with nothing loaded.
    pub fn revive(&self) -> std::io::Result<()> {
        let listener = bind(self.addr)?;
        lock(&self.inner).loaded = None;
        self.shutdown.send_replace(false);
        self.serve(listener);
        Ok(())
    }

    fn serve(&self, listener: TcpListener) {
        let inner = Arc::clone(&self.inner);
        let shutdown = self.shutdown.subscribe();
        tokio::spawn(async move {
            let mut listener_shutdown = shutdown.clone();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let inner = Arc::clone(&inner);
                        let mut conn_shutdown = shutdown.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = handle_connection(stream, inner) => {}
                                _ = conn_shutdown.wait_for(|dead| *dead) => {}
                            }
                        });
                    }
                    _ = listener_shutdown.wait_for(|dead| *dead) => break,
                }
            }
        });
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request; `None` when the peer closed the connection.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Request { method, path, body })
}

async fn handle_connection(mut stream: TcpStream, inner: Arc<Mutex<Inner>>) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let keep_open = match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/generate" | "/api/chat") => {
                generate(&mut stream, &inner, &request).await
            }
            ("GET", "/api/version") => {
                respond_json(&mut stream, 200, &json!({"version": "0.0.0-fake"})).await
            }
            ("GET", "/api/tags") => {
                let models = lock(&inner).config.models.clone();
                let list: Vec<Value> = models
                    .iter()
                    .map(|m| json!({"name": m, "model": m, "digest": format!("sha256:fake-{m}")}))
                    .collect();
                respond_json(&mut stream, 200, &json!({ "models": list })).await
            }
            ("POST", "/api/show") => show(&mut stream, &inner, &request).await,
            ("GET", "/api/ps") => {
                let loaded = lock(&inner).loaded.clone();
                let models: Vec<Value> = loaded
                    .iter()
                    .map(|(model, ctx)| {
                        json!({"name": model, "model": model, "size": 1000, "size_vram": 750,
                               "context_length": ctx.unwrap_or(4096)})
                    })
                    .collect();
                respond_json(&mut stream, 200, &json!({ "models": models })).await
            }
            _ => respond_json(&mut stream, 404, &json!({"error": "not found"})).await,
        };
        if !keep_open {
            return;
        }
    }
}

async fn show(stream: &mut TcpStream, inner: &Mutex<Inner>, request: &Request) -> bool {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if !model_exists(inner, &model) {
        return respond_json(
            stream,
            404,
            &json!({"error": format!("model '{model}' not found")}),
        )
        .await;
    }
    let info = json!({
        "details": {"family": "gemma3", "parameter_size": "4.3B", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": "gemma3", "gemma3.block_count": 34},
    });
    respond_json(stream, 200, &info).await
}

fn model_exists(inner: &Mutex<Inner>, model: &str) -> bool {
    let models = &lock(inner).config.models;
    models.is_empty() || models.iter().any(|m| m == model)
}

async fn respond_json(stream: &mut TcpStream, status: u16, body: &Value) -> bool {
    let body = body.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.is_ok()
}

async fn write_chunk(stream: &mut TcpStream, line: &str) -> bool {
    let data = format!("{:x}\r\n{line}\r\n", line.len());
    stream.write_all(data.as_bytes()).await.is_ok() && stream.flush().await.is_ok()
}

/// Serves `/api/generate` or `/api/chat`: a stream of chunks, then the final one.
async fn generate(stream: &mut TcpStream, inner: &Mutex<Inner>, request: &Request) -> bool {
    let started = Instant::now();
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let chat = request.path == "/api/chat";
    let prompt = if chat {
        body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    } else {
        body["prompt"].as_str().unwrap_or_default().to_owned()
    };
    let (config, fault, reload) = {
        let mut state = lock(inner);
        state.generation_requests += 1;
        let fault = state.faults.pop_front();
        let num_ctx = body["options"]["num_ctx"].as_i64();
        let load = (model.clone(), num_ctx);
        let reload = state.loaded.as_ref() != Some(&load);
        if fault.is_none() {
            state.loaded = Some(load);
        }
        (state.config.clone(), fault, reload)
    };
    if !model_exists(inner, &model) {
        return respond_json(
            stream,
            404,
            &json!({"error": format!("model '{model}' not found, try pulling it first")}),
        )
        .await;
    }
    match fault {
        Some(Fault::Http500) => {
            return respond_json(
                stream,
                500,
                &json!({"error": "llama runner process has terminated"}),
            )
            .await;
        }
        Some(Fault::Http404) => {
            return respond_json(
                stream,
                404,
                &json!({"error": format!("model '{model}' not found")}),
            )
            .await;
        }
        _ => {}
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let piece = |text: &str| -> String {
        if chat {
            json!({"model": model, "message": {"role": "assistant", "content": text}, "done": false}).to_string()
        } else {
            json!({"model": model, "response": text, "done": false}).to_string()
        }
    };
    if config.empty_first_chunk && !write_chunk(stream, &format!("{}\n", piece(""))).await {
        return false;
    }
    let limit = body["options"]["num_predict"]
        .as_i64()
        .filter(|n| *n >= 0)
        .map(|n| n as usize);
    let pieces: Vec<String> = match config
        .replies
        .iter()
        .find(|(key, _)| prompt.contains(key.as_str()))
    {
        Some((_, reply)) => reply.split_inclusive(' ').map(str::to_owned).collect(),
        None => (0..config.tokens).map(|i| format!("tok{i} ")).collect(),
    };
    let available = pieces.len();
    let tokens = limit.map_or(available, |n| n.min(available));
    let mut text = String::new();
    for (i, token) in pieces.iter().take(tokens).enumerate() {
        if i > 0 && !config.token_delay.is_zero() {
            tokio::time::sleep(config.token_delay).await;
        }
        match (&fault, i) {
            (Some(Fault::DropMidStream), 2) => return false,
            (Some(Fault::MalformedLine), 1) => {
                let _ = write_chunk(stream, "{\"response\": oops\n").await;
                return false;
            }
            (Some(Fault::StreamError), 1) => {
                let _ = write_chunk(
                    stream,
                    "{\"error\":\"model requires more system memory\"}\n",
                )
                .await;
                let _ = stream.write_all(b"0\r\n\r\n").await;
                return true;
            }
            (Some(Fault::Stall(pause)), 1) => tokio::time::sleep(*pause).await,
            _ => {}
        }
        text.push_str(token);
        if !write_chunk(stream, &format!("{}\n", piece(token))).await {
            return false;
        }
    }
    let prompt_tokens = prompt.split_whitespace().count().max(1) as u64;
    let eval_ns = tokens as u64 * FAKE_EVAL_NS_PER_TOKEN;
    let prompt_ns = prompt_tokens * FAKE_PROMPT_NS_PER_TOKEN;
    let load_ns = if reload {
        FAKE_LOAD_NS
    } else {
        FAKE_WARM_LOAD_NS
    };
    let total_ns = if config.real_timing {
        started.elapsed().as_nanos() as u64
    } else {
        load_ns + prompt_ns + eval_ns
    };
    let mut final_chunk = json!({
        "model": model,
        "done": true,
        "done_reason": if tokens < available { "length" } else { "stop" },
        "total_duration": total_ns,
        "load_duration": load_ns,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": tokens,
        "eval_duration": eval_ns,
    });
    if chat {
        final_chunk["message"] = json!({"role": "assistant", "content": ""});
    } else {
        final_chunk["response"] = json!("");
    }
    let ok = write_chunk(stream, &format!("{final_chunk}\n")).await
        && stream.write_all(b"0\r\n\r\n").await.is_ok();
    lock(inner).served.push(ServedCall {
        path: request.path.clone(),
        request: body,
        final_chunk: Some(final_chunk),
        text,
    });
    ok
}
