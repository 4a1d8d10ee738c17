//! Errors that stop a run. Problems in the data itself are not errors: they are [`crate::problems::Problem`]s.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input that cannot be read as a table: the message names the row or column where it can.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    /// Said once: the operating system's error is the message, not a cause printed again.
    #[error("{}: {}", path.display(), io_text(cause))]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn input(path: &Path, message: impl Into<String>) -> Error {
        Error::Input { path: path.to_owned(), message: message.into() }
    }

    pub fn io(path: &Path, cause: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), cause }
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
