//! Workgroup grids folded past the device's per-dimension limit. A dispatch's logical grid can
//! outgrow `max_compute_workgroups_per_dimension` in the extent that grows with the request
//! (rows of T·B in a GEMM, batch elements in a step); the host then spreads that extent over the
//! next dimension and the kernel reads it back as a linear id (`unfold_yz` in
//! shaders/shared/params.wgsl, the same two lines in the training kernels). A folded grid may
//! hold a few workgroups past the logical extent, which the kernels skip. Only what does not fit
//! even folded is left for the limit checks to refuse.

/// `[x, y, z]` with y past `max` folded into z: `k` blocks of `y / k` along y, so z becomes
/// `z·k` and the kernel's logical y is `wid.y + nwg.y·(wid.z / z)`, its z `wid.z % z`.
pub(crate) fn fold_y(grid: [u64; 3], max: u64) -> [u64; 3] {
    let [x, y, z] = grid;
    if y <= max || max == 0 {
        return grid;
    }
    let k = y.div_ceil(max);
    [x, y.div_ceil(k), z.saturating_mul(k)]
}

/// `[x, 1, z]` with x past `max` folded into y: the kernel's logical x is `wid.x + nwg.x·wid.y`.
pub(crate) fn fold_x(grid: [u64; 3], max: u64) -> [u64; 3] {
    let [x, y, z] = grid;
    debug_assert_eq!(y, 1, "x folds into an unused y");
    if x <= max || max == 0 {
        return grid;
    }
    let k = x.div_ceil(max);
    [x.div_ceil(k), k, z]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every logical workgroup is reached exactly once through the kernels' decoding, and the
    /// extra ones decode past the logical extent.
    #[test]
    fn folded_grids_cover_the_logical_grid_once() {
        for max in [1u64, 2, 3, 7, 16] {
            for y in 1..=60u64 {
                for z in 1..=3u64 {
                    let logical = [2, y, z];
                    let [fx, fy, fz] = fold_y(logical, max);
                    assert!(fy <= max, "{logical:?} with max {max}: {fy}");
                    let mut seen = vec![0u32; (y * z) as usize];
                    for wy in 0..fy {
                        for wz in 0..fz {
                            let (ly, lz) = (wy + fy * (wz / z), wz % z);
                            if ly < y {
                                seen[(ly * z + lz) as usize] += 1;
                            }
                        }
                    }
                    assert_eq!(fx, 2);
                    assert!(seen.iter().all(|&n| n == 1), "{logical:?} with max {max}");
                }
            }
            for x in 1..=60u64 {
                let [fx, fy, fz] = fold_x([x, 1, 2], max);
                assert!(fx <= max && fz == 2);
                let mut seen = vec![0u32; x as usize];
                for wx in 0..fx {
                    for wy in 0..fy {
                        let lx = wx + fx * wy;
                        if lx < x {
                            seen[lx as usize] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "x {x} with max {max}");
            }
        }
        // What fits is dispatched as it is.
        assert_eq!(fold_y([3, 65_535, 2], 65_535), [3, 65_535, 2]);
        assert_eq!(fold_y([1, 131_250, 1], 65_535), [1, 43_750, 3]);
        assert_eq!(fold_x([70_000, 1, 1], 65_535), [35_000, 2, 1]);
    }
}
