//! Batch register transfer between Unicorn and a saved context, without the safe wrapper's
//! per-call allocations (it builds three vectors per batch): this runs on every kernel entry.
#![allow(unsafe_code)]

use std::ffi::c_void;
use unicorn_engine::{uc_error, Unicorn};

/// Reads `N` registers in one call.
pub fn read<D, R: Copy + Into<i32>, const N: usize>(
    uc: &Unicorn<'_, D>,
    ids: &[R; N],
) -> Result<[u64; N], uc_error> {
    let regs: [i32; N] = ids.map(Into::into);
    let mut vals = [0u64; N];
    let mut ptrs: [*mut c_void; N] = [std::ptr::null_mut(); N];
    for (p, v) in ptrs.iter_mut().zip(vals.iter_mut()) {
        *p = std::ptr::from_mut(v).cast();
    }
    // SAFETY: the handle is the live engine owned by `uc`; `regs` and `ptrs` are arrays of exactly
    // `N` elements, and every pointer in `ptrs` points to a distinct, writable, 8-byte-aligned u64
    // in `vals` that outlives the call (ARM registers are written as 4 bytes into zeroed slots).
    let err = unsafe {
        unicorn_engine::uc_reg_read_batch(uc.get_handle(), regs.as_ptr(), ptrs.as_mut_ptr(), N as i32)
    };
    if err == uc_error::OK {
        Ok(vals)
    } else {
        Err(err)
    }
}

/// Writes `N` registers in one call, in order.
pub fn write<D, R: Copy + Into<i32>, const N: usize>(
    uc: &mut Unicorn<'_, D>,
    ids: &[R; N],
    vals: &[u64; N],
) -> Result<(), uc_error> {
    let regs: [i32; N] = ids.map(Into::into);
    let mut ptrs: [*mut c_void; N] = [std::ptr::null_mut(); N];
    for (p, v) in ptrs.iter_mut().zip(vals.iter()) {
        *p = std::ptr::from_ref(v).cast_mut().cast();
    }
    // SAFETY: the handle is the live engine owned by `uc` (borrowed mutably, so no other Rust code
    // uses it); `regs` and `ptrs` hold exactly `N` elements and every pointer refers to a readable
    // u64 in `vals` for the duration of the call (Unicorn only reads through them, despite the
    // C prototype's non-const pointee).
    let err = unsafe {
        unicorn_engine::uc_reg_write_batch(uc.get_handle(), regs.as_ptr(), ptrs.as_ptr(), N as i32)
    };
    if err == uc_error::OK {
        Ok(())
    } else {
        Err(err)
    }
}
