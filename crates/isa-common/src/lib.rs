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
