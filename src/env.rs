//! The machine a sweep ran on: OS, CPU, GPU, load. Recorded so that results from two
//! machines (or a contended run) can be told apart later.

use serde::{Deserialize, Serialize};

use crate::backend::BackendInfo;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environment {
    pub os: String,
    pub arch: String,
    pub cpu: Option<String>,
    pub cores: usize,
    pub hostname: Option<String>,
    /// `nvidia-smi` name, memory and driver, one entry per GPU; empty without one.
    pub gpus: Vec<String>,
    pub backend: serde_json::Value,
}

impl Environment {
    pub fn capture(backend: &BackendInfo) -> Environment {
        Environment {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            hostname: hostname(),
            gpus: nvidia_gpus(),
            backend: serde_json::to_value(backend).unwrap_or_default(),
        }
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map(|name| name.trim().to_owned())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

fn nvidia_gpus() -> Vec<String> {
    let output = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,driver_version",
            "--format=csv,noheader",
        ])
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The 1-minute load average (Linux), recorded beside each call.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
