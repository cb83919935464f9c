//! The rows the estimators hold out for the probability temperature at a fixed β: a seeded
//! hash of each row's contents (its nonzero features and its targets), so that a row of weight
//! 2 and two copies of it fall on the same side and scikit-learn's sample-weight equivalence
//! holds for `predict_proba` too. The library's split (`cronos::calibration::holdout_rows`, the
//! CLI's) shuffles row indices instead, which cannot give that.

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;
const MIX1: u64 = 0xBF58_476D_1CE4_E5B9;
const MIX2: u64 = 0x94D0_49BB_1331_11EB;

/// The hash of one nonzero entry (value, column); a row's entries are summed, so their order
/// does not matter (dense and CSR rows hash alike).
fn entry(value: f64, column: u64) -> u64 {
    let mut g = (value.to_bits() ^ column.wrapping_mul(GOLDEN)).wrapping_mul(FNV_PRIME);
    g ^= g >> 29;
    g.wrapping_mul(MIX1)
}

/// splitmix64's finaliser: its low bits decide the side.
fn finish(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(MIX1);
    h = (h ^ (h >> 27)).wrapping_mul(MIX2);
    h ^ (h >> 31)
}

/// The per-row sums of [`entry`] over the nonzeros of `x`: a dense float32/float64 array, or
/// CSR parts `(indptr, indices, data, (n, d))` (int64, int64, float64) whose stored entries
/// are all hashed.
fn row_sums(x: &Bound<'_, PyAny>, start: u64) -> PyResult<Vec<u64>> {
    if let Ok(t) = x.cast::<PyTuple>() {
        let indptr: PyReadonlyArray1<'_, i64> = t.get_item(0)?.extract()?;
        let indices: PyReadonlyArray1<'_, i64> = t.get_item(1)?.extract()?;
        let data: PyReadonlyArray1<'_, f64> = t.get_item(2)?.extract()?;
        let (ip, ix, v) = (indptr.as_array(), indices.as_array(), data.as_array());
        let n = ip.len().saturating_sub(1);
        let mut h = vec![start; n];
        for (i, h) in h.iter_mut().enumerate() {
            let (a, b) = (usize::try_from(ip[i]), usize::try_from(ip[i + 1]));
            let (Ok(a), Ok(b)) = (a, b) else { return Err(PyValueError::new_err("x.indptr holds negative offsets")) };
            if a > b || b > v.len() || b > ix.len() {
                return Err(PyValueError::new_err("x.indptr does not match x.indices and x.data"));
            }
            for k in a..b {
                *h = h.wrapping_add(entry(v[k], ix[k] as u64));
            }
        }
        return Ok(h);
    }
    fn dense<T: numpy::Element + Copy + Into<f64>>(x: &Bound<'_, PyAny>, start: u64) -> Option<Vec<u64>> {
        let a: PyReadonlyArray2<'_, T> = x.extract().ok()?;
        let a = a.as_array();
        Some(
            a.rows()
                .into_iter()
                .map(|row| {
                    let nonzero = row.iter().enumerate().map(|(j, &v)| (j, v.into())).filter(|&(_, v)| v != 0.0);
                    nonzero.fold(start, |h, (j, v)| h.wrapping_add(entry(v, j as u64)))
                })
                .collect(),
        )
    }
    dense::<f64>(x, start)
        .or_else(|| dense::<f32>(x, start))
        .ok_or_else(|| PyTypeError::new_err("x must be a 2-D float32/float64 array or CSR parts (indptr, indices, data, (n, d))"))
}

/// The held-out rows (ascending): about `fraction` of the rows of (x, y), chosen by a hash of
/// each row's nonzero features and its targets `y` (n × k float64) seeded by `seed`.
#[pyfunction]
#[pyo3(signature = (x, y, seed, fraction = 0.1))]
pub(crate) fn holdout_rows(x: &Bound<'_, PyAny>, y: PyReadonlyArray2<'_, f64>, seed: u64, fraction: f64) -> PyResult<Vec<usize>> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(PyValueError::new_err(format!("invalid setting `fraction` = {fraction}: must lie in [0, 1]")));
    }
    let h = row_sums(x, seed.wrapping_mul(GOLDEN).wrapping_add(1))?;
    let y = y.as_array();
    if y.nrows() != h.len() {
        return Err(PyValueError::new_err(format!("x has {} rows but y has {}", h.len(), y.nrows())));
    }
    let cut = (1000.0 * fraction).round() as u64;
    let side = |(i, h): (usize, u64)| {
        let h = y.row(i).iter().fold(h, |h, v| {
            let h = (h ^ v.to_bits()).wrapping_mul(FNV_PRIME);
            h ^ (h >> 29)
        });
        (finish(h) % 1000 < cut).then_some(i)
    };
    Ok(h.into_iter().enumerate().filter_map(side).collect())
}
