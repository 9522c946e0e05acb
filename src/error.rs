//! The crate's one error type: every failure a user can cause or meet, with what to do about it.
//! Shapes stay shapes ([`ShapeSpec`], `Vec<usize>`) and the errors of wgpu, the file system
//! and the file formats are kept as sources.

use std::fmt;
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed source error from a file format's parser.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong, each variant saying what was wrong and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable wgpu adapter matched the request.
    #[error("no GPU adapter found{wanted}: {hint}")]
    NoAdapter { wanted: String, hint: &'static str },

    /// The adapter could not give us a device.
    #[error("could not open a device on adapter '{adapter}': {source}")]
    DeviceRequest {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file is larger than the readers accept ([`ReadLimits`](crate::ReadLimits)).
    #[error("{}: {bytes} bytes, more than the limit of {limit} bytes (raise it with --max-file-bytes or ReadLimits)", path.display())]
    FileTooLarge { path: PathBuf, bytes: u64, limit: u64 },

    /// The host could not allocate memory for something a request needs.
    #[error("could not allocate {bytes} bytes of host memory for {what}")]
    HostAllocation { what: String, bytes: u64 },

    /// A file was read but its contents are not what the format promises.
    #[error("{}: {message}", path.display())]
    Format {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// An `.onnx` model cannot give what was asked of it (see [`OnnxProblem`]).
    #[error("{}: {problem}: {message}", path.display())]
    Onnx {
        path: PathBuf,
        problem: OnnxProblem,
        message: String,
    },

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
    #[error("{what}: expected shape {expected}, got {}", ShapeSpec::of(got))]
    Shape {
        what: String,
        expected: ShapeSpec,
        got: Vec<usize>,
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

    /// Sizes whose product or sum does not fit in 64 bits: no device or host could hold them.
    #[error("{what}: the sizes overflow 64-bit arithmetic")]
    Overflow { what: String },

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

    /// wgpu reported an error (captured with an error scope), or waiting on the device or
    /// mapping a buffer failed.
    #[error("GPU error during {during}: {source}")]
    Gpu {
        during: &'static str,
        #[source]
        source: GpuError,
    },
}

/// What kind of problem an `.onnx` model has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnnxProblem {
    /// The bytes are not a (complete) ModelProto: truncated, corrupt or nested too deeply.
    Protobuf,
    /// A name the LSTM needs is defined nowhere in its graph or the graphs around it.
    Missing,
    /// A weight is computed by an op the loader does not evaluate (named in the message).
    NotFoldable,
    /// A weight depends on a graph input, so it is not known before the model runs.
    NotConstant,
    /// The nodes computing a weight depend on their own output.
    Cycle,
    /// A tensor's external data is missing, outside the model's folder, or the wrong size.
    ExternalData,
    /// Something the engine does not support: a dtype, an attribute, an attribute value.
    Unsupported,
    /// Tensor sizes that contradict each other or the node's attributes, or that are too large.
    Size,
    /// No LSTM node, several without `--node`, a name that matches none, or nodes that do not
    /// stack.
    Selection,
}

impl fmt::Display for OnnxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnnxProblem::Protobuf => "not a valid ONNX model",
            OnnxProblem::Missing => "undefined value",
            OnnxProblem::NotFoldable => "weight cannot be computed at load time",
            OnnxProblem::NotConstant => "weight is not constant",
            OnnxProblem::Cycle => "cyclic graph",
            OnnxProblem::ExternalData => "external data",
            OnnxProblem::Unsupported => "unsupported",
            OnnxProblem::Size => "sizes do not fit",
            OnnxProblem::Selection => "LSTM node selection",
        })
    }
}

/// What went wrong inside wgpu.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// A validation, out-of-memory or internal error caught by an error scope.
    #[error(transparent)]
    Wgpu(wgpu::Error),
    /// Waiting for the device failed.
    #[error(transparent)]
    Poll(wgpu::PollError),
    /// Mapping a buffer for reading failed.
    #[error("mapping a buffer failed: {0}")]
    Map(wgpu::BufferAsyncError),
    /// The mapped range could not be viewed.
    #[error(transparent)]
    MapRange(wgpu::MapRangeError),
    /// The map callback never ran (the device was lost).
    #[error("the map callback was dropped")]
    MapDropped,
}

/// One axis of an expected shape: a fixed size, a size named by what it stands for, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Is(usize),
    Named(&'static str),
    /// A fixed size and what it stands for, displayed `I = 4`.
    Known(&'static str, usize),
}

/// An expected shape, displayed as `[T, B, 5]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeSpec(pub Vec<Dim>);

impl ShapeSpec {
    /// A fully known shape.
    pub fn of(shape: &[usize]) -> ShapeSpec {
        ShapeSpec(shape.iter().map(|&n| Dim::Is(n)).collect())
    }

    /// Whether `shape` fits: the same rank and every fixed axis equal.
    pub fn matches(&self, shape: &[usize]) -> bool {
        self.0.len() == shape.len()
            && self.0.iter().zip(shape).all(|(d, &n)| match *d {
                Dim::Is(m) | Dim::Known(_, m) => m == n,
                Dim::Named(_) => true,
            })
    }
}

impl fmt::Display for ShapeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Dim::Is(n) => write!(f, "{n}")?,
                Dim::Named(name) => f.write_str(name)?,
                Dim::Known(name, n) => write!(f, "{name} = {n}")?,
            }
        }
        f.write_str("]")
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A shape mismatch against a fully known shape.
    pub fn shape(what: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::Shape {
            what: what.into(),
            expected: ShapeSpec::of(expected),
            got: got.to_vec(),
        }
    }

    /// A shape mismatch against a pattern.
    pub fn shape_pattern(what: impl Into<String>, expected: Vec<Dim>, got: &[usize]) -> Self {
        Error::Shape {
            what: what.into(),
            expected: ShapeSpec(expected),
            got: got.to_vec(),
        }
    }

    /// An out-of-range value.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }

    /// Contents of `path` that are not what its format promises.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A format error found in bytes, named after where they came from (`path`); other
    /// errors as they are.
    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            Error::Format { message, source, .. } => Error::Format {
                path: path.into(),
                message,
                source,
            },
            other => other,
        }
    }
}

/// `text` with every control character (newlines and terminal escapes included) written as an
/// escape (`\n`, `\u{1b}`), so that what a file names can never split a message into lines or
/// drive the terminal. Every message naming something read from a model passes through this,
/// and the command-line tool prints through it.
pub fn escape_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// At most `shown` items of a list joined with ", ", then how many more there are: a message
/// stays one readable line however long the list a file makes.
pub(crate) fn cut_list(items: impl ExactSizeIterator<Item = String>, shown: usize) -> String {
    let total = items.len();
    let head: Vec<String> = items.take(shown).collect();
    if total > shown {
        format!("{}, … and {} more", head.join(", "), total - shown)
    } else {
        head.join(", ")
    }
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_lists_cut() {
        assert_eq!(escape_text("plain name"), "plain name");
        assert_eq!(
            escape_text("a\nerror: forged\u{1b}[31m"),
            "a\\nerror: forged\\u{1b}[31m"
        );
        let items = (0..10_000).map(|i| format!("n{i}"));
        assert_eq!(cut_list(items, 3), "n0, n1, n2, … and 9997 more");
        assert_eq!(cut_list(["a".to_string()].into_iter(), 3), "a");
    }
}
