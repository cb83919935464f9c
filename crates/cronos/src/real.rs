//! The floating-point scalar used throughout: `f32` or `f64`.

use faer::traits::RealField;

/// A real scalar the solver is generic over (`f32` and `f64`).
///
/// Reductions (dot products, norms) are accumulated in `f64` whatever `T` is, so an `f32`
/// solve keeps CG and the certificate accurate while the GEMMs run at `f32` speed.
pub trait Real:
    RealField + Copy + Send + Sync + Default + std::fmt::Debug + std::fmt::Display + 'static
{
    /// Short name of the type, for messages and model files (`"f32"` or `"f64"`).
    const NAME: &'static str;
    /// Machine epsilon of the type, as f64.
    const EPS: f64;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    const EPS: f64 = f32::EPSILON as f64;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    const EPS: f64 = f64::EPSILON;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Shorthand for `T::from_f64`.
#[inline(always)]
pub fn r<T: Real>(x: f64) -> T {
    T::from_f64(x)
}

/// Sum of squares of a slice, accumulated in `f64`.
#[inline]
pub fn sum_sq<T: Real>(x: &[T]) -> f64 {
    x.iter().map(|v| {
        let v = v.to_f64();
        v * v
    }).sum()
}

/// Dot product of two slices, accumulated in `f64`.
#[inline]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.to_f64() * y.to_f64()).sum()
}
