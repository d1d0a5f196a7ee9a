//! Ingest speed on 10,000 artifact files (names and content depth), median of 5 runs:
//! `cargo bench --bench ingest`. Reports times; asserts nothing about them.

use std::time::Instant;

use chimera_sweep::agent::ingest::{DEFAULT_INCLUDE, IngestConfig, SummaryDepth, ingest};

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in 0..100 {
        let sub = dir.path().join(format!("reports/run{d:03}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for i in 0..100 {
            let (ext, body) = match i % 3 {
                0 => (
                    "csv",
                    "num_gpu,num_ctx,tokens_per_s\n40,512,38.5\n120,1024,102.2\n",
                ),
                1 => ("json", "{\"benchmark\": \"conv\", \"mean_ms\": 1.5}"),
                _ => ("md", "# Notes\n\ntext\n"),
            };
            std::fs::write(sub.join(format!("f{i:03}.{ext}")), body).expect("write");
        }
    }
    for depth in [SummaryDepth::Names, SummaryDepth::Content] {
        let config = IngestConfig {
            data_dir: dir.path().to_path_buf(),
            include: DEFAULT_INCLUDE.iter().map(|s| (*s).to_owned()).collect(),
            exclude: Vec::new(),
            depth,
        };
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let summary = ingest(&config).expect("ingest");
                assert_eq!(summary.files, 10_000);
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "ingest 10,000 files, {depth:?} depth: median {:.1} ms (min {:.1}, max {:.1})",
            times[2], times[0], times[4]
        );
    }
}
