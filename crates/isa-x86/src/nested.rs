//! Forgetting the exception in flight after the simulated kernel has handled it.
//!
//! QEMU (inside Unicorn) remembers the last page fault or contributory exception in
//! `CPUX86State::old_exception` until the exception has been *delivered* through the IDT, so that
//! a fault during delivery becomes a double fault. Under Unicorn's interrupt hook nothing is ever
//! delivered: the hook (our kernel) handles the fault, and the next fault of any thread, however
//! much later, would be turned into a double fault (#DF, vector 8), and the one after into a triple
//! fault. Real hardware forgets the first fault once its handler runs.
//!
//! The field is not reachable through Unicorn's API, but it is part of the CPU context that
//! `uc_context_save`/`uc_context_restore` copy (the `CPUX86State` up to `end_reset_fields`). Its
//! offset is found at the first fault by comparison with a context saved at start-up, where it
//! is -1 (no exception in flight): the one word that was -1 then and holds the fault's vector now.
//! After each handled fault that word is set back to -1.
//!
//! That is not enough on its own: when the kernel goes idle inside a fault hook, no thread's
//! registers are loaded, and before the emulator stops QEMU executes the faulting instruction
//! again and sets the word anew (found by the random-code fuzzer, `fuzz-instructions`). So the
//! word is also cleared ([`InFlight::clear`]) before every `emu_start` and at the first block
//! after a handled fault: user code never starts with an exception in flight. Until the word is
//! found, a stale one can still turn a thread's fault into a double fault; that double fault is
//! then used to find the word, and the instruction is run again to raise its own fault.
#![allow(unsafe_code)]

use std::ffi::c_void;
use unicorn_engine::{uc_engine, uc_error, Unicorn};

extern "C" {
    // Part of Unicorn's C API (unicorn.h), not wrapped by the Rust binding.
    fn uc_context_size(uc: *mut uc_engine) -> usize;
}

/// Where `old_exception` lies in the CPU-state bytes of Unicorn 2.1.5's x86 context (checked
/// against the fault's vector and the start-up context before it is used).
const OLD_EXCEPTION_AT: usize = 5496;

/// A raw Unicorn CPU context and what is known about the `old_exception` word in it.
#[derive(Debug)]
pub(crate) struct InFlight {
    ctx: *mut c_void,
    total: usize,
    /// The CPU context saved before any exception.
    baseline: Vec<u8>,
    /// Byte offset of `old_exception` in the CPU context, once found; None if not (yet) found.
    offset: Option<usize>,
    /// Set if the word could not be identified (then faults are left as QEMU reports them).
    pub(crate) unidentified: bool,
}

impl InFlight {
    /// Allocates a context and saves the current (exception-free) CPU state as the baseline.
    pub(crate) fn new<D>(uc: &Unicorn<'_, D>) -> Result<InFlight, uc_error> {
        let h = uc.get_handle();
        let mut ctx: *mut c_void = std::ptr::null_mut();
        // SAFETY: `h` is the live engine; uc_context_alloc writes a freshly allocated context
        // pointer (of uc_context_size bytes) into `ctx`.
        let err = unsafe { unicorn_engine::uc_context_alloc(h, std::ptr::from_mut(&mut ctx).cast()) };
        if err != uc_error::OK || ctx.is_null() {
            return Err(if err == uc_error::OK { uc_error::NOMEM } else { err });
        }
        // SAFETY: `h` is the live engine.
        let total = unsafe { uc_context_size(h) };
        let mut me = InFlight { ctx, total, baseline: Vec::new(), offset: None, unidentified: false };
        me.baseline = Self::save(me.ctx, me.total, uc)?.to_vec();
        Ok(me)
    }

    /// Saves the CPU context and returns its CPU-state bytes.
    fn save<'a, D>(ctx: *mut c_void, total: usize, uc: &Unicorn<'_, D>) -> Result<&'a mut [u8], uc_error> {
        // SAFETY: `ctx` was allocated for this engine by uc_context_alloc.
        let err = unsafe { unicorn_engine::uc_context_save(uc.get_handle(), ctx.cast()) };
        if err != uc_error::OK {
            return Err(err);
        }
        // SAFETY: the allocation is `total` bytes; its first field is the size_t `context_size`
        // of the CPU state that ends the allocation (struct uc_context in Unicorn's uc_priv.h).
        let cpu_bytes = unsafe { ctx.cast::<usize>().read_unaligned() };
        if cpu_bytes > total {
            return Err(uc_error::ARG);
        }
        // SAFETY: the CPU state occupies the last `cpu_bytes` bytes of the `total`-byte
        // allocation, which lives until the owning `InFlight` is dropped; callers use the slice
        // only within one method of that `InFlight`, so it is the only reference.
        Ok(unsafe { std::slice::from_raw_parts_mut(ctx.cast::<u8>().add(total - cpu_bytes), cpu_bytes) })
    }

    /// After the kernel has handled exception `vector`: marks no exception as in flight.
    pub(crate) fn forget<D>(&mut self, uc: &Unicorn<'_, D>, vector: u32) {
        if self.unidentified {
            return;
        }
        let Ok(data) = Self::save(self.ctx, self.total, uc) else {
            self.unidentified = true;
            return;
        };
        let want = (vector as i32).to_le_bytes();
        let none = (-1i32).to_le_bytes();
        let baseline = &self.baseline;
        let offset = self.offset.or_else(|| {
            // The word's place in this Unicorn build (2.1.5), which the search below finds when
            // the first fault leaves it unique; tried first, as a double fault (the first fault
            // some programs raise, after undefined instructions only) can leave it ambiguous.
            let at = OLD_EXCEPTION_AT;
            if data.get(at..at + 4) == Some(&want[..]) && baseline.get(at..at + 4) == Some(&none[..]) {
                return Some(at);
            }
            let mut hits = (0..data.len().min(baseline.len()).saturating_sub(3))
                .step_by(4)
                .filter(|&i| data[i..i + 4] == want && baseline[i..i + 4] == none);
            match (hits.next(), hits.next()) {
                (Some(i), None) => Some(i),
                _ => None,
            }
        });
        let Some(off) = offset else {
            self.unidentified = true;
            return;
        };
        if data[off..off + 4] != want {
            return; // nothing in flight (e.g. the vector is not one QEMU remembers)
        }
        data[off..off + 4].copy_from_slice(&none);
        self.offset = Some(off);
        // SAFETY: `self.ctx` holds a context of this engine, saved just above and patched only in
        // the `old_exception` word.
        let err = unsafe { unicorn_engine::uc_context_restore(uc.get_handle(), self.ctx.cast()) };
        if err != uc_error::OK {
            self.unidentified = true;
        }
    }
}

impl InFlight {
    /// Whether the `old_exception` word has been found (by an earlier fault).
    pub(crate) fn known(&self) -> bool {
        self.offset.is_some() && !self.unidentified
    }

    /// Marks no exception as in flight, whatever QEMU holds (once the word is known): before
    /// user code starts again (see the module note). Does nothing before the word is known.
    pub(crate) fn clear<D>(&mut self, uc: &Unicorn<'_, D>) {
        let Some(off) = self.offset.filter(|_| !self.unidentified) else { return };
        let Ok(data) = Self::save(self.ctx, self.total, uc) else { return };
        let none = (-1i32).to_le_bytes();
        if data[off..off + 4] == none {
            return;
        }
        data[off..off + 4].copy_from_slice(&none);
        // SAFETY: `self.ctx` holds a context of this engine, saved just above and patched only in
        // the `old_exception` word.
        let err = unsafe { unicorn_engine::uc_context_restore(uc.get_handle(), self.ctx.cast()) };
        if err != uc_error::OK {
            self.unidentified = true;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // SAFETY: allocated by uc_context_alloc, freed once.
        unsafe { unicorn_engine::uc_context_free(self.ctx.cast()) };
    }
}
