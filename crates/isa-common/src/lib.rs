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
pub mod ram;
pub mod regs;

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
