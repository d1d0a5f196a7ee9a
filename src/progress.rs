//! The progress display: consumes scheduler events. On a terminal, an indicatif bar with
//! runs done/total, ETA, the current cell, the last tok/s and TTFT, and the failure count;
//! elsewhere (nohup, CI, Slurm logs) one plain line per event, no control characters.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::scheduler::{Event, RunSummary};

/// Consumes events until the channel closes.
pub async fn display(mut events: mpsc::UnboundedReceiver<Event>) {
    let mut display = Display::new(std::io::stderr().is_terminal());
    while let Some(event) = events.recv().await {
        display.on_event(&event);
    }
    display.finish();
}

struct Display {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    failed: usize,
    started: bool,
}

impl Display {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} runs  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Display {
            bar,
            total: 0,
            done: 0,
            failed: 0,
            started: false,
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(stderr, "{text}");
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Started {
                planned_runs,
                already_stored,
                to_run,
            } => {
                self.total = *to_run;
                self.started = true;
                if let Some(bar) = &self.bar {
                    bar.set_length(*to_run as u64);
                }
                let resumed = if *already_stored > 0 {
                    format!(" ({already_stored} already stored: resuming)")
                } else {
                    String::new()
                };
                self.line(&format!("{to_run} of {planned_runs} runs to go{resumed}"));
            }
            Event::WarmupStored {
                cell_id,
                calls,
                failed,
            } => {
                if self.bar.is_none() {
                    self.line(&format!(
                        "warm-up before {cell_id}: {calls} call(s), {failed} failed"
                    ));
                }
            }
            Event::RunStored(run) => {
                self.done += 1;
                self.failed += usize::from(!run.ok);
                let text = run_line(run, self.done, self.total);
                match &self.bar {
                    Some(bar) => {
                        bar.inc(1);
                        bar.set_message(format!("{}  failures: {}", short(run), self.failed));
                        if !run.ok {
                            bar.println(text);
                        }
                    }
                    None => self.line(&text),
                }
            }
            Event::BackendDown {
                error,
                down_for,
                next_probe_in,
            } => self.line(&format!(
                "backend down for {:.0} s ({error}); next probe in {:.1} s",
                down_for.as_secs_f64(),
                next_probe_in.as_secs_f64()
            )),
            Event::BackendUp { down_for } => {
                self.line(&format!(
                    "backend back after {:.0} s; resuming",
                    down_for.as_secs_f64()
                ));
            }
            Event::Stopping => {
                self.line("stopping: letting the current call finish (at most 2 s), then saving");
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.started {
            // The sweep never started (preflight failed): its error says it all.
            return;
        }
        self.line(&format!(
            "{} of {} runs stored this session, {} failed",
            self.done, self.total, self.failed
        ));
    }
}

fn short(run: &RunSummary) -> String {
    let tps = run
        .tokens_per_s
        .map_or_else(|| "-".to_owned(), |v| format!("{v:.1} tok/s"));
    let ttft = run
        .ttft_ms
        .map_or_else(|| "-".to_owned(), |v| format!("TTFT {v:.0} ms"));
    [run.agent.as_str(), run.label.as_str(), run.run_id.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
        + &format!("  {tps}  {ttft}")
}

/// The plain line for one stored run.
pub fn run_line(run: &RunSummary, done: usize, total: usize) -> String {
    let status = match &run.error {
        None => "ok".to_owned(),
        Some(error) => format!("FAILED ({error})"),
    };
    format!("[{done}/{total}] {}  {status}", short(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_have_no_control_characters() {
        let run = RunSummary {
            order_index: 3,
            run_id: "c0001-r002".into(),
            agent: "chimera".into(),
            label: "num_ctx=512 temperature=0.8".into(),
            ok: true,
            tokens_per_s: Some(41.234),
            ttft_ms: Some(230.4),
            error: None,
        };
        let line = run_line(&run, 4, 36);
        assert_eq!(
            line,
            "[4/36] chimera num_ctx=512 temperature=0.8 c0001-r002  41.2 tok/s  TTFT 230 ms  ok"
        );
        assert!(!line.chars().any(char::is_control));
    }
}
