//! Selections of a value's elements by axis (Slice, Split, Gather, Transpose) and sparse
//! initializers made dense: indices counted and checked before anything is allocated, results
//! allocated fallibly, and a result with no elements never walked.

use super::*;
use crate::error::Error;

/// Which indices of one axis a selection takes.
pub(super) enum Pick {
    /// `count` indices from `start`, `step` apart (negative: backwards).
    Strided { start: usize, step: i64, count: usize },
    /// These indices, in order.
    List(Vec<usize>),
}

impl Pick {
    fn count(&self) -> usize {
        match self {
            Pick::Strided { count, .. } => *count,
            Pick::List(l) => l.len(),
        }
    }

    fn index(&self, i: usize) -> usize {
        match self {
            Pick::Strided { start, step, .. } => (*start as i64 + *step * i as i64) as usize,
            Pick::List(l) => l[i],
        }
    }

    /// Every index of a dimension of `dim`.
    pub(super) fn all(dim: usize) -> Pick {
        Pick::Strided {
            start: 0,
            step: 1,
            count: dim,
        }
    }
}

impl Folder<'_> {
    /// A sparse initializer as the dense tensor it stands for: `dims`, zeros except the `values`
    /// at `indices` (`[NNZ]` linear or `[NNZ, rank]` coordinates, each checked).
    pub(super) fn densify(&mut self, s: &SparseTensorProto, what: &str) -> Result<Value> {
        let ctx = self.ctx;
        let bad = |f: &Self, message: String| f.error(OnnxProblem::Size, format!("{what}: {message}"));
        self.rank(s.dims.len(), what)?;
        let shape: Vec<usize> = s
            .dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad(self, format!("a negative dimension in {:?}", s.dims)))?;
        let n = elements(ctx, what, &shape)?;
        let part = |f: &mut Self, t: Option<&TensorProto>, role: &str| -> Result<Value> {
            let t = t.ok_or_else(|| bad(f, format!("no {role}")))?;
            let label = format!("{what}'s {role}");
            let count = elements(ctx, &label, &dims(ctx, t, &label)?)?;
            f.charge(count, &label)?;
            decode(ctx, t, &label)
        };
        let values = part(self, s.values.as_ref(), "values")?;
        let indices = part(self, s.indices.as_ref(), "indices")?;
        let nnz = values.len();
        let rank = shape.len();
        let linear = match indices.shape.as_slice() {
            [k] if *k == nnz => true,
            [k, r] if *k == nnz && *r == rank => false,
            other => {
                return Err(bad(
                    self,
                    format!("indices of shape {other:?} for {nnz} values of a rank-{rank} tensor"),
                ))
            }
        };
        let idx = indices.ints(ctx, &format!("{what}'s indices"))?;
        let strides = if n > 0 { strides(&shape) } else { vec![0; rank] };
        let mut at = Vec::new();
        at.try_reserve_exact(nnz).map_err(|_| Error::HostAllocation {
            what: what.into(),
            bytes: nnz as u64 * 8,
        })?;
        for k in 0..nnz {
            let offset = if linear {
                usize::try_from(idx[k]).ok().filter(|&o| o < n)
            } else {
                idx[k * rank..][..rank]
                    .iter()
                    .zip(&shape)
                    .zip(&strides)
                    .try_fold(0usize, |acc, ((&i, &d), &s)| {
                        usize::try_from(i).ok().filter(|&i| i < d).map(|i| acc + i * s)
                    })
            };
            at.push(offset.ok_or_else(|| bad(self, format!("index {k} lies outside {shape:?}")))?);
        }
        self.charge(n, what)?;
        let data = match &values.data {
            Data::Float(v) => {
                let mut dense = self.allocate(n, what)?;
                dense.resize(n, 0.0);
                for (&o, &x) in at.iter().zip(v) {
                    dense[o] = x;
                }
                Data::Float(dense)
            }
            Data::Int(v) => {
                let mut dense = self.allocate(n, what)?;
                dense.resize(n, 0);
                for (&o, &x) in at.iter().zip(v) {
                    dense[o] = x;
                }
                Data::Int(dense)
            }
        };
        Ok(Value { shape, data })
    }

    /// A vector for `n` elements, or `Error::HostAllocation` where the host has no room.
    pub(super) fn allocate<T>(&self, n: usize, label: &str) -> Result<Vec<T>> {
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| Error::HostAllocation {
            what: format!("{}: {label}", self.what),
            bytes: n as u64 * std::mem::size_of::<T>() as u64,
        })?;
        Ok(v)
    }

    /// The elements at every combination of the picks' indices, row-major, the output's axes in
    /// the order of `order` (the input's axes when `None`; a transpose's perm otherwise).
    pub(super) fn select(
        &mut self,
        v: &Value,
        picks: &[Pick],
        order: Option<&[usize]>,
        label: &str,
    ) -> Result<Value> {
        let axes: Vec<usize> = order.map_or_else(|| (0..picks.len()).collect(), <[usize]>::to_vec);
        let shape: Vec<usize> = picks.iter().map(Pick::count).collect();
        let n = elements(self.ctx, label, &shape)?;
        self.charge(n, label)?;
        let mut offsets: Vec<usize> = self.allocate(n, label)?;
        if n > 0 {
            // With elements, the input has some too: its strides do not overflow.
            let strides = strides(&v.shape);
            let mut index = vec![0usize; picks.len()];
            for _ in 0..n {
                offsets.push(
                    index
                        .iter()
                        .zip(picks)
                        .zip(&axes)
                        .map(|((&i, pick), &axis)| pick.index(i) * strides[axis])
                        .sum(),
                );
                for k in (0..picks.len()).rev() {
                    index[k] += 1;
                    if index[k] < shape[k] {
                        break;
                    }
                    index[k] = 0;
                }
            }
        }
        let data = match &v.data {
            Data::Float(src) => Data::Float(offsets.iter().map(|&o| src[o]).collect()),
            Data::Int(src) => Data::Int(offsets.iter().map(|&o| src[o]).collect()),
        };
        Ok(Value { shape, data })
    }
}

/// ONNX Slice on one axis of `dim`: the indices from `start` towards `end` by `step` (not 0),
/// both clamped as the operator defines, counted without walking them.
pub(super) fn slice_axis(dim: usize, start: i64, end: i64, step: i64) -> Pick {
    let d = dim as i128;
    let norm = |x: i64| if x < 0 { x as i128 + d } else { x as i128 };
    let (start, end, step) = (norm(start), norm(end), step as i128);
    let (first, count) = if dim == 0 {
        (0, 0)
    } else if step > 0 {
        let (s, e) = (start.clamp(0, d), end.clamp(0, d));
        (s, if e > s { (e - s + step - 1) / step } else { 0 })
    } else {
        let (s, e) = (start.clamp(0, d - 1), end.clamp(-1, d - 1));
        (s, if s > e { (s - e - step - 1) / -step } else { 0 })
    };
    Pick::Strided {
        start: first as usize,
        step: step as i64,
        count: count as usize,
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}
