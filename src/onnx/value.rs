//! Values the loader computes with: a shape and float (f64, exact for f16, bf16 and f32) or
//! integer elements, decoded from `TensorProto`s (raw little-endian bytes or the typed fields,
//! data inline or in an external file beside the model).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use super::proto::{tensor_proto, TensorProto};
use super::Ctx;
use crate::error::{OnnxProblem, Result};
#[cfg(not(unix))]
use crate::files::open_regular;
use crate::files::ReadLimits;

/// The most elements one value may hold (2 GiB of f64): far beyond any LSTM's weights, and
/// refused before anything that large is allocated.
pub(crate) const MAX_ELEMENTS: usize = 1 << 28;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Value {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Value {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    /// The elements as integers (shapes, axes, indices, lengths); floats that hold whole
    /// numbers count (a value bound from an f32 tensor).
    pub fn ints(&self, ctx: &Ctx, what: &str) -> Result<Vec<i64>> {
        match &self.data {
            Data::Int(v) => Ok(v.clone()),
            Data::Float(v) if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) => {
                Ok(v.iter().map(|&x| x as i64).collect())
            }
            Data::Float(_) => Err(ctx.error(OnnxProblem::Unsupported, format!("{what} must be integers"))),
        }
    }

    /// The elements as f32 (weights).
    pub fn floats(&self, ctx: &Ctx, what: &str) -> Result<Vec<f32>> {
        self.check_floats(ctx, what)?;
        match &self.data {
            Data::Float(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            Data::Int(_) => unreachable!("checked"),
        }
    }

    /// Whether the elements are floats, as weights must be.
    pub fn check_floats(&self, ctx: &Ctx, what: &str) -> Result<()> {
        match &self.data {
            Data::Float(_) => Ok(()),
            Data::Int(_) => Err(ctx.error(
                OnnxProblem::Unsupported,
                format!("{what} holds integers; weights must be FLOAT, FLOAT16, BFLOAT16 or DOUBLE"),
            )),
        }
    }
}

/// The number of elements of `shape`, refused beyond [`MAX_ELEMENTS`].
pub(crate) fn elements(ctx: &Ctx, what: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            ctx.error(
                OnnxProblem::Size,
                format!("{what} has shape {shape:?}, more than {MAX_ELEMENTS} elements"),
            )
        })
}

/// The bytes of one element in raw data, for the element types the loader reads.
fn element_width(data_type: i32) -> Option<usize> {
    use tensor_proto::DataType as T;
    Some(match T::try_from(data_type).ok()? {
        T::Float | T::Int32 | T::Uint32 => 4,
        T::Double | T::Int64 | T::Uint64 => 8,
        T::Float16 | T::Bfloat16 | T::Int16 | T::Uint16 => 2,
        T::Int8 | T::Uint8 | T::Bool => 1,
        _ => return None,
    })
}

/// The name of an ONNX element type.
pub(crate) fn type_name(data_type: i32) -> String {
    tensor_proto::DataType::try_from(data_type)
        .map(|t| t.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type {data_type}"))
}

/// A tensor's shape, at most [`MAX_RANK`](super::fold::MAX_RANK) dimensions, none negative.
pub(crate) fn dims(ctx: &Ctx, t: &TensorProto, what: &str) -> Result<Vec<usize>> {
    let rank = super::fold::MAX_RANK;
    if t.dims.len() > rank {
        return Err(ctx.error(
            OnnxProblem::Size,
            format!("{what} has {} dimensions (at most {rank})", t.dims.len()),
        ));
    }
    t.dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| {
            ctx.error(
                OnnxProblem::Size,
                format!("{what} has a negative dimension: {:?}", t.dims),
            )
        })
}

/// Decode a tensor: its dims, then its elements from raw data, the typed field or external data.
pub(crate) fn decode(ctx: &Ctx, t: &TensorProto, what: &str) -> Result<Value> {
    use tensor_proto::DataType as T;
    let data_type = t.data_type.unwrap_or(0);
    let width = element_width(data_type).ok_or_else(|| {
        ctx.error(
            OnnxProblem::Unsupported,
            format!("{what} has element type {}", type_name(data_type)),
        )
    })?;
    let shape = dims(ctx, t, what)?;
    let n = elements(ctx, what, &shape)?;
    let external = t.data_location == Some(tensor_proto::DataLocation::External as i32);
    let raw: Option<Vec<u8>> = if external {
        Some(read_external(ctx, t, what, n * width)?)
    } else {
        t.raw_data.clone()
    };
    let kind = T::try_from(data_type).expect("checked by element_width");
    let count_error = |got: usize| {
        ctx.error(
            OnnxProblem::Size,
            format!("{what} has shape {shape:?} ({n} elements) but holds {got}"),
        )
    };
    let data = if let Some(raw) = raw {
        if raw.len() != n * width {
            // Bytes, exactly: a count of elements would floor a length that is no multiple.
            return Err(ctx.error(
                OnnxProblem::Size,
                format!(
                    "{what} has shape {shape:?} ({n} elements of {width} bytes, {} bytes) but holds {} bytes",
                    n * width,
                    raw.len()
                ),
            ));
        }
        let each = |f: &dyn Fn(&[u8]) -> f64| raw.chunks_exact(width).map(f).collect::<Vec<f64>>();
        let each_int = |f: &dyn Fn(&[u8]) -> i64| raw.chunks_exact(width).map(f).collect::<Vec<i64>>();
        match kind {
            T::Float => Data::Float(each(&|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)),
            T::Double => Data::Float(each(&|b| f64::from_le_bytes(b.try_into().unwrap()))),
            T::Float16 => Data::Float(each(&|b| {
                half::f16::from_le_bytes(b.try_into().unwrap()).to_f64()
            })),
            T::Bfloat16 => Data::Float(each(&|b| {
                half::bf16::from_le_bytes(b.try_into().unwrap()).to_f64()
            })),
            T::Int8 => Data::Int(each_int(&|b| b[0] as i8 as i64)),
            T::Uint8 | T::Bool => Data::Int(each_int(&|b| b[0] as i64)),
            T::Int16 => Data::Int(each_int(&|b| i16::from_le_bytes(b.try_into().unwrap()) as i64)),
            T::Uint16 => Data::Int(each_int(&|b| u16::from_le_bytes(b.try_into().unwrap()) as i64)),
            T::Int32 => Data::Int(each_int(&|b| i32::from_le_bytes(b.try_into().unwrap()) as i64)),
            T::Uint32 => Data::Int(each_int(&|b| u32::from_le_bytes(b.try_into().unwrap()) as i64)),
            T::Int64 => Data::Int(each_int(&|b| i64::from_le_bytes(b.try_into().unwrap()))),
            T::Uint64 => Data::Int(each_int(&|b| u64::from_le_bytes(b.try_into().unwrap()) as i64)),
            _ => unreachable!("element_width admits no other"),
        }
    } else {
        // The typed fields: f16 and bf16 as their bit patterns in int32_data, the narrow integers
        // widened into int32_data, uint32 and uint64 in uint64_data.
        let data = match kind {
            T::Float => Data::Float(t.float_data.iter().map(|&x| x as f64).collect()),
            T::Double => Data::Float(t.double_data.clone()),
            T::Float16 => Data::Float(
                t.int32_data
                    .iter()
                    .map(|&b| half::f16::from_bits(b as u16).to_f64())
                    .collect(),
            ),
            T::Bfloat16 => Data::Float(
                t.int32_data
                    .iter()
                    .map(|&b| half::bf16::from_bits(b as u16).to_f64())
                    .collect(),
            ),
            T::Int64 => Data::Int(t.int64_data.clone()),
            T::Uint32 | T::Uint64 => Data::Int(t.uint64_data.iter().map(|&x| x as i64).collect()),
            _ => Data::Int(t.int32_data.iter().map(|&x| x as i64).collect()),
        };
        let value = Value {
            shape: shape.clone(),
            data,
        };
        if value.len() != n {
            return Err(count_error(value.len()));
        }
        return Ok(value);
    };
    Ok(Value { shape, data })
}

/// Where a tensor's external data lies (location, offset, length as written), or `None` for data
/// in the file.
pub(crate) fn external_region(t: &TensorProto) -> Option<(String, u64, Option<u64>)> {
    if t.data_location != Some(tensor_proto::DataLocation::External as i32) {
        return None;
    }
    let field = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.clone())
    };
    let number = |key: &str| field(key).and_then(|v| v.parse::<u64>().ok());
    Some((
        field("location").unwrap_or_default(),
        number("offset").unwrap_or(0),
        number("length"),
    ))
}

/// Open the external data file `relative` inside `dir`. On Unix, component by component from
/// the folder without following symbolic links ([`open_beneath`]): nothing outside the folder
/// can be opened, whatever is swapped in while loading.
#[cfg(unix)]
fn open_inside(dir: &Path, relative: &Path, limits: ReadLimits) -> Result<(std::fs::File, u64)> {
    crate::files::open_beneath(dir, relative, limits)
}

/// Elsewhere: open, then check that the canonical path is inside the folder and is the file
/// opened (the same length and modification time).
#[cfg(not(unix))]
fn open_inside(dir: &Path, relative: &Path, limits: ReadLimits) -> Result<(std::fs::File, u64)> {
    let path = dir.join(relative);
    let (file, size) = open_regular(&path, limits)?;
    let outside = || crate::error::Error::io(&path, std::io::Error::other("outside the model's folder"));
    let canonical = path.canonicalize().map_err(|_| outside())?;
    let folder = dir.canonicalize().map_err(|e| crate::error::Error::io(dir, e))?;
    let same = match (file.metadata(), std::fs::symlink_metadata(&canonical)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && a.modified().ok() == b.modified().ok(),
        _ => false,
    };
    if !canonical.starts_with(&folder) || !same {
        return Err(outside());
    }
    Ok((file, size))
}

/// Whether an open failed on a symbolic link (`O_NOFOLLOW` gives ELOOP on the last component,
/// `O_DIRECTORY` ENOTDIR on a link to a folder).
fn is_link_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// The bytes of a tensor stored outside the model: `location` relative to the model's folder
/// (no absolute paths, no `..`), from `offset`, `length` bytes (or the rest of the file).
fn read_external(ctx: &Ctx, t: &TensorProto, what: &str, expected: usize) -> Result<Vec<u8>> {
    let err = |message: String| ctx.error(OnnxProblem::ExternalData, format!("{what}: {message}"));
    let field = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.clone())
    };
    let location = field("location").ok_or_else(|| err("no location".into()))?;
    let number = |key: &str| -> Result<Option<u64>> {
        field(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| err(format!("{key} '{v}' is not a byte count")))
            })
            .transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let relative = Path::new(&location);
    if relative.as_os_str().is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(err(format!(
            "location '{location}' must be a relative path inside the model's folder (no absolute paths or '..')"
        )));
    }
    let dir = ctx.dir.as_deref().ok_or_else(|| {
        err(format!(
            "'{location}' is external data, but the model was not read from a file"
        ))
    })?;
    let path = dir.join(relative);
    let (mut file, size) = open_inside(dir, relative, ctx.limits).map_err(|e| match e {
        crate::error::Error::Io { source, .. } if is_link_error(&source) => err(format!(
            "'{location}' is reached through a symbolic link, which the loader does not follow \
             (external data must be a plain file inside the model's folder)"
        )),
        crate::error::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::Other => {
            err(format!("'{location}' leads outside the model's folder"))
        }
        other => other,
    })?;
    let length = length.unwrap_or(size.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(err(format!(
            "bytes {offset}..{offset}+{length} of '{location}', which has {size}"
        )));
    }
    if length != expected as u64 {
        return Err(err(format!(
            "'{location}' gives {length} bytes where the tensor's shape and type need {expected}"
        )));
    }
    let mut bytes = vec![0u8; expected];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| crate::error::Error::io(&path, e))?;
    Ok(bytes)
}
