//! Named process exit codes: the contract scripts and schedulers (Slurm, cron, CI) rely on.

/// Every planned run is stored and succeeded (or `plan` printed the plan).
pub const SUCCESS: i32 = 0;
/// An unexpected internal or I/O failure (disk full, permissions, a bug).
pub const INTERNAL: i32 = 1;
/// The experiment file or the command line is invalid; nothing was run.
pub const CONFIG: i32 = 2;
/// The sweep finished, but some runs ended in error (they are stored with their error).
pub const RUNS_FAILED: i32 = 3;
/// The backend could not be reached at start, or stayed down longer than `backend.down_timeout_s`.
pub const BACKEND_UNAVAILABLE: i32 = 4;
/// The results folder belongs to a different experiment file.
pub const RESULTS_CONFLICT: i32 = 5;
/// SIGINT or SIGTERM: the sweep stopped cleanly and can be resumed.
pub const INTERRUPTED: i32 = 130;
