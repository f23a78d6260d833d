//! # isa-common — what every ISA backend needs around Unicorn
//!
//! - [`ram::Ram`]: the simulated physical RAM, one host allocation that the emulator maps by
//!   pointer and the kernel reads and writes between guest instructions.
//! - [`block`]: priced basic blocks and their direct-mapped cache.
//! - [`regs`]: batch register transfer without the safe wrapper's per-call allocations.
//!
//! With the ISA crates, the only place `unsafe` is allowed (DESIGN.md); each block has its
//! `SAFETY` note.

pub mod block;
pub mod devices;
pub mod ram;
pub mod regs;

use kernel::types::VSpaceId;
use kernel::Kernel;

/// Reads `len` bytes of an address space's memory through the kernel's page tables (None if any
/// page is unmapped).
pub fn read_virt(kernel: &Kernel, ram: &ram::Ram, vs: VSpaceId, va: u64, len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut a = va;
    while out.len() < len {
        let tr = kernel.translate(vs, a)?;
        let n = ((4096 - (a & 0xfff)) as usize).min(len - out.len());
        out.extend_from_slice(ram.read(tr.paddr, n)?);
        a = a.checked_add(n as u64)?;
    }
    Some(out)
}

use kernel::types::TcbId;
use simcore::Breakdown;

/// One guest read of the cycle counter, with where the cycles so far had gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRead {
    /// The reading thread.
    pub thread: Option<TcbId>,
    /// The full 64-bit value (the guest sees the low 32 bits).
    pub value: u64,
    /// The ledger by category at that instant; its total equals `value`.
    pub snapshot: Breakdown,
}
