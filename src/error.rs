//! The errors a user can meet, each naming what to fix, and their exit codes.

use crate::exit_codes;
use crate::experiment::ConfigError;
use crate::report::ReportError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot reach the backend at {url}: {reason}\n  fix: {fix}")]
    BackendUnavailable {
        url: String,
        reason: String,
        fix: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit_codes::CONFIG,
            Error::BackendUnavailable { .. } => exit_codes::BACKEND_UNAVAILABLE,
            Error::Store(StoreError::ExperimentChanged { .. } | StoreError::NotResults { .. }) => {
                exit_codes::RESULTS_CONFLICT
            }
            Error::Report(err) if err.is_usage() => exit_codes::CONFIG,
            Error::Store(_) | Error::Report(_) | Error::Internal(_) => exit_codes::INTERNAL,
        }
    }
}
