//! Giving the pages of a buffer that will never be read again back to the system before the
//! buffer itself is freed: the one use is converting a large table into another layout
//! column by column, where the source and the destination would otherwise coexist whole.

/// Tells the system that the whole pages inside `buf` are no longer needed: on Linux they are
/// unmapped from the process (`madvise(MADV_DONTNEED)`) and read back as zeros if touched
/// again. The caller must not rely on the contents of `buf` afterwards. Elsewhere a no-op.
pub(crate) fn release(buf: &mut [f32]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buf.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let first = start.div_ceil(PAGE) * PAGE;
        let last = end / PAGE * PAGE;
        if last > first {
            // SAFETY: [first, last) lies inside `buf`, which we borrow mutably, so no other
            // reference observes the pages; MADV_DONTNEED on private anonymous memory only
            // replaces them by zero pages, which are valid f32 values.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}
