//! Errors that stop a run. Problems in the data itself are not errors: they are [`crate::problems::Problem`]s.

use std::path::{Path, PathBuf};

/// Whose the failure is decides the process's exit code ([`Error::exit_code`]): a file the user
/// gave, how xueji was called, what a Spark executor handed `xueji worker`, or xueji itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input that cannot be read as needed: the message names the row or column where it can.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    /// The operating system refused a read or a write. Said once: the system's error is the
    /// message, not a cause printed again.
    #[error("{}: {}", path.display(), io_text(cause))]
    Io { path: PathBuf, cause: std::io::Error },
    /// A mistake in how xueji was called: an option's value, options that contradict.
    #[error("{0}")]
    Usage(String),
    /// What a Spark job handed `xueji worker` is not what the stage reads: the job's mistake
    /// (or a job of another version), not the data's.
    #[error("worker input: {0}")]
    Worker(String),
    /// xueji's own failure, never the user's doing: a bug to report with the command that met it.
    #[error("internal error (a bug of xueji's, please report it with the command): {0}")]
    Internal(String),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

/// The exit codes, as README's "Exit codes" lists them.
pub mod exit {
    /// An input could not be read, or an output not written.
    pub const INPUT: u8 = 1;
    /// A mistake in the command (also clap's code for arguments it cannot parse).
    pub const USAGE: u8 = 2;
    /// `reconcile`: registrations left held, nothing decided for them.
    pub const HELD: u8 = 3;
    /// `worker`: malformed input from the Spark job.
    pub const WORKER: u8 = 4;
    /// xueji's own failure.
    pub const INTERNAL: u8 = 70;
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn input(path: &Path, message: impl Into<String>) -> Error {
        Error::Input { path: path.to_owned(), message: message.into() }
    }

    pub fn io(path: &Path, cause: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), cause }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            // Polars fails on what it is given: a damaged file, a value of another type.
            Error::Input { .. } | Error::Io { .. } | Error::Polars(_) => exit::INPUT,
            Error::Usage(_) => exit::USAGE,
            Error::Worker(_) => exit::WORKER,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

/// An operating system error as people read it: Chinese for the common ones, with the system's
/// own text beside.
fn io_text(cause: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let said = match cause.kind() {
        NotFound => "找不到该文件或文件夹",
        PermissionDenied => "没有读写权限",
        AlreadyExists => "已存在同名文件",
        StorageFull => "磁盘已满",
        IsADirectory => "这是一个文件夹，不是文件",
        NotADirectory => "这是一个文件，不是文件夹",
        _ => return cause.to_string(),
    };
    if crate::lang::english() {
        cause.to_string()
    } else {
        format!("{said}（{cause}）")
    }
}
