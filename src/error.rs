//! The crate's one error type: every failure a user can cause or meet, with what to do about it.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant saying what was wrong and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable wgpu adapter matched the request.
    #[error("no GPU adapter found{wanted}: {hint}")]
    NoAdapter { wanted: String, hint: String },

    /// The adapter could not give us a device.
    #[error("could not open a device on adapter '{adapter}': {message}")]
    DeviceRequest { adapter: String, message: String },

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file was read but its contents are not what the format promises.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },

    /// A tensor that the chosen convention needs is absent.
    #[error("missing tensor '{key}' ({convention} convention){hint}")]
    MissingTensor {
        key: String,
        convention: &'static str,
        hint: String,
    },

    /// A tensor the engine does not know how to use (it would otherwise be silently ignored).
    #[error("unsupported tensor '{key}': {message}")]
    UnsupportedTensor { key: String, message: String },

    /// A tensor or array has a shape that does not fit the model.
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape {
        what: String,
        expected: String,
        got: String,
    },

    /// A tensor or array has an element type we cannot use.
    #[error("{what}: unsupported dtype {got} (expected {expected})")]
    Dtype {
        what: String,
        expected: &'static str,
        got: String,
    },

    /// A value is out of its allowed range (sequence lengths, sizes, options).
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },

    /// The request needs more than the device allows.
    #[error("device limit '{limit}' exceeded: needed {needed}, available {available}{hint}")]
    DeviceLimit {
        limit: &'static str,
        needed: u64,
        available: u64,
        hint: &'static str,
    },

    /// A caller-owned buffer does not meet a requirement (usage, alignment, size).
    #[error("buffer '{name}': {requirement}")]
    Buffer { name: &'static str, requirement: String },

    /// wgpu reported a validation, out-of-memory or internal error (captured with an error scope).
    #[error("GPU error during {during}: {message}")]
    Gpu { during: &'static str, message: String },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A shape mismatch.
    pub fn shape(what: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::Shape {
            what: what.into(),
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        }
    }

    /// An out-of-range value.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}
