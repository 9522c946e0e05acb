//! `Tensor`: a dense row-major f32 array with its shape, and its `.npy` input/output.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use npyz::{DType, NpyFile, TypeChar, WriterBuilder};

use crate::error::{Dim, Error, Result};

/// A dense, row-major `f32` array.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor from its shape and row-major data; the lengths must agree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected: usize = shape.iter().product();
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

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![0.0; n],
        }
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

    /// Permute axes: output axis `k` is input axis `perm[k]`.
    pub fn permuted(&self, perm: &[usize]) -> Tensor {
        assert_eq!(perm.len(), self.shape.len(), "permutation rank");
        let rank = self.shape.len();
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
        Tensor { shape, data }
    }

    /// `len` entries of `axis` starting at `start`.
    pub fn slice_axis(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        if axis >= self.shape.len() || start + len > self.shape[axis] {
            return Err(Error::invalid(
                "slice",
                format!(
                    "{start}..{} of axis {axis} of shape {:?}",
                    start + len,
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

    /// Read an `.npy` file of `f32` or `f64` (converted to `f32`).
    pub fn read_npy(path: &Path) -> Result<Tensor> {
        let npy = open_npy(path)?;
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let fortran = matches!(npy.order(), npyz::Order::Fortran);
        let data = match npy_kind(&npy) {
            Some((TypeChar::Float, 4)) => npy.into_vec::<f32>(),
            Some((TypeChar::Float, 8)) => npy
                .into_vec::<f64>()
                .map(|v| v.into_iter().map(|x| x as f32).collect()),
            _ => {
                return Err(Error::Dtype {
                    what: path.display().to_string(),
                    expected: "float32 or float64",
                    got: describe_dtype(npy.dtype()),
                })
            }
        }
        .map_err(|e| format_err(path, e))?;
        let bad_len = |e: Error| Error::format(path, e.to_string());
        if fortran {
            // Fortran order is C order of the reversed shape.
            let reversed: Vec<usize> = shape.iter().rev().copied().collect();
            let axes: Vec<usize> = (0..shape.len()).rev().collect();
            return Ok(Tensor::new(reversed, data).map_err(bad_len)?.permuted(&axes));
        }
        Tensor::new(shape, data).map_err(bad_len)
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

/// Read a 1-D `.npy` of int32 or int64 (sequence lengths); values must be non-negative.
pub fn read_lengths_npy(path: &Path) -> Result<Vec<usize>> {
    let npy = open_npy(path)?;
    if npy.shape().len() != 1 {
        let got: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        return Err(Error::shape_pattern(
            path.display().to_string(),
            vec![Dim::Named("B")],
            &got,
        ));
    }
    let values: Vec<i64> = match npy_kind(&npy) {
        Some((TypeChar::Int, 4)) => npy
            .into_vec::<i32>()
            .map(|v| v.into_iter().map(i64::from).collect()),
        Some((TypeChar::Int, 8)) => npy.into_vec::<i64>(),
        _ => {
            return Err(Error::Dtype {
                what: path.display().to_string(),
                expected: "int32 or int64",
                got: describe_dtype(npy.dtype()),
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

fn open_npy(path: &Path) -> Result<NpyFile<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    NpyFile::new(BufReader::new(file)).map_err(|e| format_err(path, e))
}

fn format_err(path: &Path, e: std::io::Error) -> Error {
    Error::Format {
        path: path.into(),
        message: format!("not a readable .npy file: {e}"),
        source: Some(Box::new(e)),
    }
}

/// (kind, size) of a plain numeric dtype; npyz converts either byte order.
fn npy_kind<R: std::io::Read>(npy: &NpyFile<R>) -> Option<(TypeChar, u64)> {
    match npy.dtype() {
        DType::Plain(ts) => Some((ts.type_char(), ts.size_field())),
        _ => None,
    }
}

fn describe_dtype(dtype: DType) -> String {
    match dtype {
        DType::Plain(ts) => ts.to_string(),
        other => format!("{other:?}"),
    }
}
