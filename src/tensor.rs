//! `Tensor`: a dense row-major f32 array with its shape, and its `.npy` input/output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use npyz::{DType, NpyFile, TypeChar, WriterBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Dim, Error, Result};
use crate::files::{read_regular, ReadLimits};

/// A dense, row-major `f32` array.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor from its shape and row-major data; the lengths must agree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected = elements(&shape)?;
        if expected != data.len() {
            return Err(Error::invalid(
                "tensor",
                format!(
                    "shape {shape:?} holds {expected} elements but {} were given",
                    data.len()
                ),
            ));
        }
        Ok(Tensor { shape, data })
    }

    /// Uniform values in [−scale, scale] from a seed (test inputs, benchmarks, demos); the same
    /// seed gives the same values on every platform. A shape too large to hold is an error.
    pub fn random(shape: Vec<usize>, scale: f32, seed: u64) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tensor = Tensor::zeros(shape)?;
        for v in &mut tensor.data {
            *v = rng.random_range(-scale..=scale);
        }
        Ok(tensor)
    }

    /// A tensor of zeros; a shape too large to hold is an error, not an abort.
    pub fn zeros(shape: Vec<usize>) -> Result<Self> {
        let n = elements(&shape)?;
        Ok(Tensor {
            data: zeroed(n, "a tensor")?,
            shape,
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Largest absolute element-wise difference; `None` when the shapes differ.
    /// NaN anywhere counts as an infinite difference.
    pub fn max_abs_diff(&self, other: &Tensor) -> Option<f32> {
        if self.shape != other.shape {
            return None;
        }
        Some(self.data.iter().zip(&other.data).fold(0.0f32, |m, (a, b)| {
            let d = (a - b).abs();
            if d.is_nan() {
                f32::INFINITY
            } else {
                m.max(d)
            }
        }))
    }

    /// Permute axes: output axis `k` is input axis `perm[k]`; `perm` must be a permutation of
    /// the axes.
    pub fn permuted(&self, perm: &[usize]) -> Result<Tensor> {
        let rank = self.shape.len();
        let mut seen = vec![false; rank];
        for &p in perm {
            if p >= rank || std::mem::replace(&mut seen[p], true) {
                return Err(Error::invalid(
                    "permutation",
                    format!(
                        "{perm:?} is not a permutation of the {rank} axes of {:?}",
                        self.shape
                    ),
                ));
            }
        }
        if perm.len() != rank {
            return Err(Error::invalid(
                "permutation",
                format!(
                    "{perm:?} is not a permutation of the {rank} axes of {:?}",
                    self.shape
                ),
            ));
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let mut in_strides = vec![1usize; rank];
        for k in (0..rank.saturating_sub(1)).rev() {
            in_strides[k] = in_strides[k + 1] * self.shape[k + 1];
        }
        let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
        let mut data = Vec::with_capacity(self.data.len());
        let mut index = vec![0usize; rank];
        for _ in 0..self.data.len() {
            let src: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
            data.push(self.data[src]);
            for k in (0..rank).rev() {
                index[k] += 1;
                if index[k] < shape[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        Ok(Tensor { shape, data })
    }

    /// `len` entries of `axis` starting at `start`.
    pub fn slice_axis(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        if axis >= self.shape.len() || start.checked_add(len).is_none_or(|end| end > self.shape[axis]) {
            return Err(Error::invalid(
                "slice",
                format!(
                    "{len} entries from {start} of axis {axis} of shape {:?}",
                    self.shape
                ),
            ));
        }
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut data = Vec::with_capacity(outer * len * inner);
        for o in 0..outer {
            let base = (o * self.shape[axis] + start) * inner;
            data.extend_from_slice(&self.data[base..base + len * inner]);
        }
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Tensor::new(shape, data)
    }

    /// Join tensors along `axis`; every other axis must agree.
    pub fn concat(axis: usize, parts: &[Tensor]) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("concat", "nothing to join"))?;
        let rank = first.shape.len();
        if axis >= rank
            || parts.iter().any(|p| {
                p.shape.len() != rank || (0..rank).any(|k| k != axis && p.shape[k] != first.shape[k])
            })
        {
            return Err(Error::invalid(
                "concat",
                format!("shapes do not join along axis {axis}"),
            ));
        }
        let outer: usize = first.shape[..axis].iter().product();
        let inner: usize = first.shape[axis + 1..].iter().product();
        let total: usize = parts.iter().map(|p| p.shape[axis]).sum();
        let mut data = Vec::with_capacity(outer * total * inner);
        for o in 0..outer {
            for p in parts {
                let n = p.shape[axis] * inner;
                data.extend_from_slice(&p.data[o * n..(o + 1) * n]);
            }
        }
        let mut shape = first.shape.clone();
        shape[axis] = total;
        Tensor::new(shape, data)
    }

    /// The same data under another shape with the same number of elements.
    pub fn reshaped(self, shape: Vec<usize>) -> Result<Tensor> {
        Tensor::new(shape, self.data)
    }

    /// Read an `.npy` file of `f32` or `f64` (converted to `f32`), within the default
    /// [`ReadLimits`].
    pub fn read_npy(path: &Path) -> Result<Tensor> {
        Self::read_npy_with(path, ReadLimits::DEFAULT)
    }

    /// [`Tensor::read_npy`] within `limits`. Only a regular file is read; its header must be
    /// well formed and its data exactly what the shape and dtype need.
    pub fn read_npy_with(path: &Path, limits: ReadLimits) -> Result<Tensor> {
        let bytes = read_regular(path, limits)?;
        let npy = Npy::parse(path, &bytes)?;
        let data = match npy.kind() {
            Some((TypeChar::Float, 4)) => npy.file.into_vec::<f32>(),
            Some((TypeChar::Float, 8)) => npy
                .file
                .into_vec::<f64>()
                .map(|v| v.into_iter().map(|x| x as f32).collect()),
            _ => {
                return Err(Error::Dtype {
                    what: path.display().to_string(),
                    expected: "float32 or float64",
                    got: describe_dtype(npy.file.dtype()),
                })
            }
        }
        .map_err(|e| format_err(path, e))?;
        let tensor = Tensor::new(npy.shape.clone(), data).map_err(|e| Error::format(path, e.to_string()))?;
        if npy.fortran {
            // Fortran order is C order of the reversed shape.
            let reversed: Vec<usize> = npy.shape.iter().rev().copied().collect();
            let axes: Vec<usize> = (0..npy.shape.len()).rev().collect();
            return Tensor::new(reversed, tensor.data)?.permuted(&axes);
        }
        Ok(tensor)
    }

    /// Write this tensor as a little-endian `f32` `.npy` file.
    pub fn write_npy(&self, path: &Path) -> Result<()> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::new(file);
        let shape: Vec<u64> = self.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut out)
            .begin_nd()
            .map_err(|e| Error::io(path, e))?;
        writer
            .extend(self.data.iter().copied())
            .map_err(|e| Error::io(path, e))?;
        writer.finish().map_err(|e| Error::io(path, e))?;
        out.flush().map_err(|e| Error::io(path, e))
    }
}

/// Read a 1-D `.npy` of int32 or int64 (sequence lengths) within the default [`ReadLimits`];
/// values must be non-negative.
pub fn read_lengths_npy(path: &Path) -> Result<Vec<usize>> {
    read_lengths_npy_with(path, ReadLimits::DEFAULT)
}

/// [`read_lengths_npy`] within `limits`.
pub fn read_lengths_npy_with(path: &Path, limits: ReadLimits) -> Result<Vec<usize>> {
    let bytes = read_regular(path, limits)?;
    let npy = Npy::parse(path, &bytes)?;
    if npy.shape.len() != 1 {
        return Err(Error::shape_pattern(
            path.display().to_string(),
            vec![Dim::Named("B")],
            &npy.shape,
        ));
    }
    let values: Vec<i64> = match npy.kind() {
        Some((TypeChar::Int, 4)) => npy
            .file
            .into_vec::<i32>()
            .map(|v| v.into_iter().map(i64::from).collect()),
        Some((TypeChar::Int, 8)) => npy.file.into_vec::<i64>(),
        _ => {
            return Err(Error::Dtype {
                what: path.display().to_string(),
                expected: "int32 or int64",
                got: describe_dtype(npy.file.dtype()),
            })
        }
    }
    .map_err(|e| format_err(path, e))?;
    values
        .into_iter()
        .map(|v| {
            usize::try_from(v)
                .map_err(|_| Error::invalid(path.display().to_string(), format!("negative length {v}")))
        })
        .collect()
}

/// The largest `.npy` header we parse; numpy writes a few hundred bytes.
const MAX_NPY_HEADER: usize = 64 << 10;

/// A parsed `.npy` whose header and data size have been checked against the bytes at hand.
struct Npy<'a> {
    file: NpyFile<&'a [u8]>,
    shape: Vec<usize>,
    fortran: bool,
}

impl<'a> Npy<'a> {
    /// Check the preamble (magic, version, header length) before npyz sees it, then that the
    /// data after the header is exactly what the shape and dtype need: no allocation follows a
    /// size the file does not back.
    fn parse(path: &Path, bytes: &'a [u8]) -> Result<Npy<'a>> {
        let bad = |message: String| Error::format(path, format!("not a readable .npy file: {message}"));
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(bad("no .npy magic".into()));
        }
        let (header_len, start) = match bytes[6] {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 if bytes.len() >= 12 => (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            ),
            v => return Err(bad(format!("unsupported or truncated version {v}"))),
        };
        if header_len > MAX_NPY_HEADER {
            return Err(bad(format!(
                "a header of {header_len} bytes (at most {MAX_NPY_HEADER})"
            )));
        }
        let data_at = start + header_len;
        if data_at > bytes.len() {
            return Err(bad("the header is truncated".into()));
        }
        check_shape_literal(&String::from_utf8_lossy(&bytes[start..data_at])).map_err(bad)?;
        let file = NpyFile::new(bytes).map_err(|e| format_err(path, e))?;
        let shape = file
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| bad(format!("dimension {d} is too large"))))
            .collect::<Result<Vec<usize>>>()?;
        let item = match file.dtype() {
            DType::Plain(ts) => ts.size_field() as usize,
            other => return Err(bad(format!("unsupported dtype {other:?}"))),
        };
        let needed = shape
            .iter()
            .try_fold(item, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
        let held = bytes.len() - data_at;
        if needed != held {
            return Err(bad(format!(
                "shape {shape:?} needs {needed} bytes of data, the file holds {held}"
            )));
        }
        let fortran = matches!(file.order(), npyz::Order::Fortran);
        Ok(Npy { file, shape, fortran })
    }

    /// (kind, size) of a plain numeric dtype; npyz converts either byte order.
    fn kind(&self) -> Option<(TypeChar, u64)> {
        match self.file.dtype() {
            DType::Plain(ts) => Some((ts.type_char(), ts.size_field())),
            _ => None,
        }
    }
}

/// The header dictionary's `shape` is a tuple or list of non-negative integers whose nonzero
/// ones multiply within u64 (so no partial product npyz computes can overflow).
fn check_shape_literal(header: &str) -> std::result::Result<(), String> {
    use py_literal::Value;
    let value: Value = header
        .trim()
        .parse()
        .map_err(|e| format!("the header is not a Python literal: {e}"))?;
    let Value::Dict(entries) = value else {
        return Err("the header is not a dictionary".into());
    };
    let shape = entries
        .iter()
        .find(|(k, _)| matches!(k, Value::String(s) if s == "shape"))
        .map(|(_, v)| v)
        .ok_or("the header has no shape")?;
    let (Value::Tuple(dims) | Value::List(dims)) = shape else {
        return Err("the shape is not a tuple".into());
    };
    let mut product: u64 = 1;
    for d in dims {
        let Value::Integer(n) = d else {
            return Err(format!("dimension {d} is not an integer"));
        };
        let n = u64::try_from(n).map_err(|_| format!("dimension {n} is negative or too large"))?;
        if n != 0 {
            product = product
                .checked_mul(n)
                .ok_or_else(|| format!("the shape {shape} overflows"))?;
        }
    }
    Ok(())
}

fn format_err(path: &Path, e: std::io::Error) -> Error {
    Error::Format {
        path: path.into(),
        message: format!("not a readable .npy file: {e}"),
        source: Some(Box::new(e)),
    }
}

fn describe_dtype(dtype: DType) -> String {
    match dtype {
        DType::Plain(ts) => ts.to_string(),
        other => format!("{other:?}"),
    }
}

/// Elements of `shape`, or an error when their count overflows.
pub(crate) fn elements(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or_else(|| Error::Overflow {
            what: format!("a tensor of shape {shape:?}"),
        })
}

/// `n` zeros, or an error when the host cannot allocate them.
pub(crate) fn zeroed(n: usize, what: &str) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::HostAllocation {
        what: what.into(),
        bytes: (n as u64).saturating_mul(4),
    })?;
    v.resize(n, 0.0);
    Ok(v)
}
