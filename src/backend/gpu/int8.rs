//! int8 weight buffers (`shaders/weights/*_int8.wgsl`): the packed layouts of `packing` quantized
//! per output row and stored four values to a u32, with what the kernels need to dequantize them
//! in the buffer itself, so every kernel reads them through the same `weight4`/`weight`:
//!
//! `[width, scales along the row (0 or 1), table at, scales at | packed values | table | scales]`,
//! all u32. The layout is rows of `width` elements (vec4s, or single values); the table gives
//! each row its first scale entry, and element c of a row whose scales run along it has entry
//! `table[row] + c`. One entry is one output row of W, R or W_hr (four lanes of them for vec4s),
//! shared by the k rows of its matrix, with the scale [`int8_scale`] of their largest
//! magnitude, as [`LstmWeights::rounded`](crate::LstmWeights::rounded) quantizes the CPU's rows.
//! Rows of peepholes and summed biases are stored exactly: each value its own entry, the value as
//! its scale and 1 as its integer.

use std::collections::HashMap;

use crate::config::{int8_quantize, int8_scale};

/// u32s before the packed values.
const HEADER: usize = 4;

/// What one row of an int8 layout holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Row {
    /// Part of matrix `group`: its entries are shared with the group's other rows.
    Matrix(u32),
    /// Values kept exact (peepholes, biases): entries of their own.
    Exact,
}

/// An int8 buffer's layout.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Layout {
    /// Values per element: 4 (read with `weight4`) or 1 (`weight`).
    lanes: usize,
    /// Elements per row.
    width: usize,
    /// Whether each element of a row has its own entry (output rows across the row), or the
    /// whole row shares one (the row is an output row).
    along: bool,
    rows: Vec<Row>,
}

impl Layout {
    /// A layout of rows of `width` elements of `lanes` values, whose entries run `along` the row
    /// (one per element) or not (one per row).
    pub fn new(lanes: usize, width: usize, along: bool, rows: Vec<Row>) -> Layout {
        Layout {
            lanes,
            width,
            along,
            rows,
        }
    }

    /// Rows of `width` vec4s, an entry per element.
    pub fn vec4(width: usize, rows: Vec<Row>) -> Layout {
        Layout {
            lanes: 4,
            width,
            along: true,
            rows,
        }
    }

    /// Each row's first entry, and the number of entries.
    fn entries(&self) -> (Vec<usize>, usize) {
        let per_row = if self.along { self.width } else { 1 };
        let mut groups: HashMap<u32, usize> = HashMap::new();
        let mut next = 0;
        let mut fresh = || {
            next += per_row;
            next - per_row
        };
        let firsts = self
            .rows
            .iter()
            .map(|row| match *row {
                Row::Exact => fresh(),
                Row::Matrix(g) => *groups.entry(g).or_insert_with(&mut fresh),
            })
            .collect();
        (firsts, next)
    }

    fn values(&self) -> usize {
        self.rows.len() * self.width * self.lanes
    }

    /// u32s of the buffer.
    pub fn words(&self) -> usize {
        HEADER + self.values().div_ceil(4) + self.rows.len() + self.entries().1 * self.lanes
    }

    /// `data` (the float layout of `packing`, `self.values()` of them) as the buffer's u32s;
    /// `own`, in the same layout, gives a row's own scale where it came quantized (finite and
    /// positive; the row's values are then integers in −128..=127 times it, stored exactly).
    pub fn pack(&self, data: &[f32], own: Option<&[f32]>) -> Vec<u32> {
        debug_assert_eq!(data.len(), self.values());
        debug_assert!(own.is_none_or(|o| o.len() == data.len()));
        let own_at = |v: usize| own.map(|o| o[v]).filter(|s| s.is_finite() && *s > 0.0);
        let (firsts, entries) = self.entries();
        let (lanes, width) = (self.lanes, self.width);
        // (entry, lane) of value v of the layout.
        let slot = |v: usize| {
            let (row, c) = (v / lanes / width, v / lanes % width);
            (firsts[row] + if self.along { c } else { 0 }) * lanes + v % lanes
        };
        let mut max_abs = vec![0.0f32; entries * lanes];
        let mut scales = vec![0.0f32; entries * lanes];
        for (v, x) in data.iter().enumerate() {
            let row = v / lanes / width;
            match (self.rows[row], own_at(v)) {
                (Row::Exact, _) => scales[slot(v)] = *x,
                (Row::Matrix(_), Some(s)) => scales[slot(v)] = s,
                (Row::Matrix(_), None) => max_abs[slot(v)] = max_abs[slot(v)].max(x.abs()),
            }
        }
        // Exact zeros keep scale 1 and integer 0.
        for (s, m) in scales.iter_mut().zip(&max_abs) {
            if *s == 0.0 {
                *s = int8_scale(*m);
            }
        }
        let quantized = data
            .iter()
            .enumerate()
            .map(|(v, x)| match self.rows[v / lanes / width] {
                Row::Exact => (*x != 0.0) as i8,
                Row::Matrix(_) if own_at(v).is_some() => {
                    (x / scales[slot(v)]).round().clamp(-128.0, 127.0) as i8
                }
                Row::Matrix(_) => int8_quantize(*x, scales[slot(v)]),
            });
        let mut words = vec![0u32; self.words()];
        let table_at = HEADER + self.values().div_ceil(4);
        let scales_at = table_at + self.rows.len();
        words[..HEADER].copy_from_slice(&[
            width as u32,
            self.along as u32,
            table_at as u32,
            scales_at as u32,
        ]);
        for (v, q) in quantized.enumerate() {
            words[HEADER + v / 4] |= (q as u8 as u32) << (8 * (v % 4));
        }
        for (w, first) in words[table_at..].iter_mut().zip(&firsts) {
            *w = *first as u32;
        }
        for (w, s) in words[scales_at..].iter_mut().zip(&scales) {
            *w = s.to_bits();
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::int8_row;

    /// Dequantize value `v` of `words` as the WGSL readers do.
    fn read(words: &[u32], lanes: usize, v: usize) -> f32 {
        let (width, along, table, scales) = (
            words[0] as usize,
            words[1] as usize,
            words[2] as usize,
            words[3] as usize,
        );
        let element = v / lanes;
        let entry = words[table + element / width] as usize + (element % width) * along;
        let q = (words[HEADER + v / 4] >> (8 * (v % 4))) as u8 as i8;
        q as f32 * f32::from_bits(words[scales + entry * lanes + v % lanes])
    }

    /// A projection's layout (`[D][H][P]`):
    /// every output row q of a direction, the values (d, ·, q), comes back as `int8_row` rounds
    /// it; and a vec4 layout's exact rows come back exactly.
    #[test]
    fn packed_values_read_back_as_the_cpu_rounds_them() {
        let (d, h, p) = (2, 5, 3);
        let data: Vec<f32> = (0..d * h * p)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        // Scales along the row, one matrix per direction.
        let rows = (0..d as u32)
            .flat_map(|dd| std::iter::repeat_n(Row::Matrix(dd), h))
            .collect();
        let layout = Layout::new(1, p, true, rows);
        let words = layout.pack(&data, None);
        assert_eq!(words.len(), layout.words());
        for dd in 0..d {
            for q in 0..p {
                let at = |j: usize| (dd * h + j) * p + q;
                let row: Vec<f32> = (0..h).map(|j| data[at(j)]).collect();
                let got: Vec<f32> = (0..h).map(|j| read(&words, 1, at(j))).collect();
                assert_eq!(got, int8_row(&row), "direction {dd}, output {q}");
            }
        }
        // R of one direction (2 k rows of 3 units), then its peepholes, stored exactly.
        let layout = Layout::vec4(3, vec![Row::Matrix(0), Row::Matrix(0), Row::Exact]);
        let data: Vec<f32> = (0..36).map(|i| (i as f32 - 9.5) * 0.3173).collect();
        let words = layout.pack(&data, None);
        for (v, x) in data.iter().enumerate().skip(24) {
            assert_eq!(read(&words, 4, v), *x, "exact value {v}");
        }
        let (unit, lane) = (1, 2);
        let at = [unit * 4 + lane, (3 + unit) * 4 + lane];
        let (row, got) = (at.map(|v| data[v]), at.map(|v| read(&words, 4, v)));
        assert_eq!(got.to_vec(), int8_row(&row));
    }
}
