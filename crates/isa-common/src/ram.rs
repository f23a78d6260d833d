//! Simulated physical RAM: one host allocation that Unicorn maps by pointer and the kernel reads
//! and writes (IPC buffers, ELF loading) between guest instructions.
//!
//! The only module of the ARM backend with raw memory `unsafe`; each block states its invariant.
#![allow(unsafe_code)]

use simcore::physmem::{slice_read_word, slice_write_word};
use simcore::{PAddr, PhysMem};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

/// Host memory backing the guest's physical RAM.
#[derive(Debug)]
pub struct Ram {
    base: PAddr,
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Ram {
    /// `size` zeroed bytes of RAM at physical `base` (size a multiple of 4 KiB, at least one page).
    pub fn new(base: PAddr, size: u64) -> Option<Ram> {
        let size = usize::try_from(size).ok()?;
        if size == 0 || size % 4096 != 0 {
            return None;
        }
        let layout = Layout::from_size_align(size, 4096).ok()?;
        // SAFETY: the layout has a non-zero size (checked above).
        let raw = unsafe { alloc_zeroed(layout) };
        Some(Ram { base, ptr: NonNull::new(raw)?, layout })
    }

    /// Physical base address.
    pub fn base(&self) -> PAddr {
        self.base
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.layout.size() as u64
    }

    /// The raw pointer the emulator maps (with `mem_map_ptr`; the mapping must not outlive this `Ram`).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The RAM as a byte slice. Only valid while no guest instruction executes: the backend calls
    /// it from inside hooks (emulation is paused there) and between runs.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` initialised (zeroed, then written) bytes owned by
        // this struct for its whole life; Unicorn only accesses them while executing guest code,
        // which never overlaps a hook or a call between runs, so no write races this shared view.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// The RAM as a mutable byte slice (same rule as [`Ram::bytes`]).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only Rust reference to the memory.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// Copies `data` to physical address `pa`; false if it does not fit in RAM.
    pub fn write(&mut self, pa: PAddr, data: &[u8]) -> bool {
        let Some(off) = pa.0.checked_sub(self.base.0).and_then(|o| usize::try_from(o).ok()) else {
            return false;
        };
        match off.checked_add(data.len()).and_then(|end| self.bytes_mut().get_mut(off..end)) {
            Some(dst) => {
                dst.copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Reads `len` bytes at physical `pa`.
    pub fn read(&self, pa: PAddr, len: usize) -> Option<&[u8]> {
        let off = usize::try_from(pa.0.checked_sub(self.base.0)?).ok()?;
        self.bytes().get(off..off.checked_add(len)?)
    }
}

impl PhysMem for Ram {
    fn read_word(&self, pa: PAddr, bytes: u32) -> Option<u64> {
        slice_read_word(self.bytes(), self.base, pa, bytes)
    }
    fn write_word(&mut self, pa: PAddr, bytes: u32, value: u64) -> bool {
        let base = self.base;
        slice_write_word(self.bytes_mut(), base, pa, bytes, value)
    }
    fn zero(&mut self, pa: PAddr, len: u64) -> bool {
        let Some(off) = pa.0.checked_sub(self.base.0) else { return false };
        let (Ok(off), Ok(len)) = (usize::try_from(off), usize::try_from(len)) else { return false };
        match off.checked_add(len).and_then(|end| self.bytes_mut().get_mut(off..end)) {
            Some(b) => {
                b.fill(0);
                true
            }
            None => false,
        }
    }
}

impl Drop for Ram {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated with exactly `layout` in `new` and is freed once, here. The
        // emulator that mapped it is closed before its data (this struct) is dropped
        // (UnicornInner::drop closes the engine before its fields drop).
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}
