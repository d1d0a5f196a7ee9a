use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

/// Writes `files` under `root`, each with the given modification time (seconds since epoch).
fn corpus(root: &Path, files: &[(&str, &str, u64)]) {
    for (path, content, mtime) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, content).unwrap();
        let file = File::options().write(true).open(&full).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(*mtime))
            .unwrap();
    }
}

fn config(root: &Path, depth: SummaryDepth) -> IngestConfig {
    IngestConfig {
        data_dir: root.to_path_buf(),
        include: DEFAULT_INCLUDE.iter().map(|s| (*s).to_owned()).collect(),
        exclude: Vec::new(),
        depth,
    }
}

const NOV_14: u64 = 1_763_146_410; // 2025-11-14 18:53:30 UTC

fn seed_like(root: &Path) {
    let mut files: Vec<(String, &str, u64)> = Vec::new();
    for i in 0..7 {
        files.push((
            format!("reports/gemma3/gemma3_{i}_baseline.csv"),
            "num_gpu,num_ctx,tokens_per_s,model\n40,512,38.5,gemma3\n120,1024,102.25,gemma3\n",
            NOV_14 - i * 60,
        ));
    }
    for i in 0..3 {
        files.push((
            format!("reports/compilation/conv_bench_{i}.json"),
            "{\"benchmark\": \"conv\", \"results\": [1, 2], \"gpu\": \"RTX 4080\"}",
            NOV_14 - 86_400 * 30,
        ));
    }
    files.push((
        "reports/README.md".into(),
        "# Benchmark notes\n\ntext",
        NOV_14 + 37,
    ));
    files.push(("reports/skip.txt".into(), "not an artifact", NOV_14));
    let borrowed: Vec<(&str, &str, u64)> =
        files.iter().map(|(p, c, t)| (p.as_str(), *c, *t)).collect();
    corpus(root, &borrowed);
}

#[test]
fn the_summary_has_the_seed_shape() {
    let dir = tempfile::tempdir().unwrap();
    seed_like(dir.path());
    let summary = ingest(&config(dir.path(), SummaryDepth::Names)).unwrap();
    assert_eq!(summary.files, 11);
    insta::assert_snapshot!(summary.text);
}

#[test]
fn content_depth_adds_columns_ranges_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    seed_like(dir.path());
    let summary = ingest(&config(dir.path(), SummaryDepth::Content)).unwrap();
    insta::assert_snapshot!(summary.text);
}

#[test]
fn include_and_exclude_globs_filter_paths() {
    let dir = tempfile::tempdir().unwrap();
    seed_like(dir.path());
    let mut cfg = config(dir.path(), SummaryDepth::Names);
    cfg.exclude = vec!["reports/compilation/**".into()];
    let summary = ingest(&cfg).unwrap();
    assert_eq!(summary.files, 8);
    assert!(!summary.text.contains("JSON Files"));
    cfg.include = vec!["**/*.md".into()];
    assert_eq!(
        ingest(&cfg).unwrap().text,
        "Total files analyzed: 1\n\nMARKDOWN Files (1)\n  - reports/README.md\n  Latest modified: 2025-11-14 18:54:07 UTC"
    );
}

#[test]
fn an_empty_folder_and_a_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ingest(&config(dir.path(), SummaryDepth::Names))
            .unwrap()
            .text,
        "Total files analyzed: 0"
    );
    let missing = config(&dir.path().join("nope"), SummaryDepth::Names);
    assert!(ingest(&missing).unwrap_err().starts_with("cannot read"));
}

#[test]
fn ten_thousand_files_are_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..10 {
        let sub = dir.path().join(format!("d{d}"));
        fs::create_dir_all(&sub).unwrap();
        for i in 0..1000 {
            let ext = ["csv", "json", "md"][i % 3];
            fs::write(sub.join(format!("f{i:04}.{ext}")), "x").unwrap();
        }
    }
    let summary = ingest(&config(dir.path(), SummaryDepth::Content)).unwrap();
    assert_eq!(summary.files, 10_000);
    assert!(
        summary
            .text
            .contains("CSV Files (3340)\n  - d0/f0000.csv\n"),
        "{}",
        summary.text
    );
    assert!(summary.text.contains("  ... and 3325 more\n"));
}

#[test]
fn csv_facts_skip_text_columns_and_tolerate_ragged_rows() {
    assert_eq!(
        file_facts(ArtifactKind::Csv, "a,b,c\n1,x,2.5\n3,y\n").unwrap(),
        "2 rows; columns: a, b, c; a 1 to 3, c 2.50 to 2.50"
    );
    assert_eq!(
        file_facts(ArtifactKind::Json, "[1,2,3]").unwrap(),
        "array of 3 items"
    );
    assert_eq!(file_facts(ArtifactKind::Json, "not json"), None);
}
