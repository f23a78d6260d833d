//! Instruction classes: the vocabulary in which user code is decoded and kernel paths state their work.

use serde::Deserialize;

/// The class of one instruction, as the cost model prices it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsnClass {
    /// Integer ALU, move, compare.
    Alu,
    /// Multiply / multiply-accumulate.
    Mul,
    /// Single load.
    Load,
    /// Single store.
    Store,
    /// Branch (any kind), correctly predicted.
    Branch,
    /// Load-multiple of `n` registers (ARM LDM/POP).
    LoadMultiple(u32),
    /// Store-multiple of `n` registers (ARM STM/PUSH).
    StoreMultiple(u32),
    /// Coprocessor / system register read.
    CoprocRead,
    /// Coprocessor / system register write.
    CoprocWrite,
    /// Data synchronisation barrier.
    Barrier,
    /// Instruction synchronisation barrier / pipeline flush.
    Isb,
    /// The system-call instruction itself: priced as exception entry by the kernel, not here.
    Syscall,
}

/// Counts of instructions by class: what a kernel path (or a block of user code) executes.
/// Kernel presets state their paths in this form, with the source of each count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsnMix {
    /// ALU instructions.
    pub alu: u32,
    /// Multiplies.
    pub mul: u32,
    /// Loads.
    pub load: u32,
    /// Stores.
    pub store: u32,
    /// Branches.
    pub branch: u32,
    /// Load-multiple instructions.
    pub ldm: u32,
    /// Registers moved by those load-multiples.
    pub ldm_regs: u32,
    /// Store-multiple instructions.
    pub stm: u32,
    /// Registers moved by those store-multiples.
    pub stm_regs: u32,
    /// Coprocessor/system register reads.
    pub coproc_read: u32,
    /// Coprocessor/system register writes.
    pub coproc_write: u32,
    /// Data barriers.
    pub barrier: u32,
    /// Instruction barriers.
    pub isb: u32,
}

impl InsnMix {
    /// Adds one instruction of class `c`.
    pub fn add(&mut self, c: InsnClass) {
        match c {
            InsnClass::Alu => self.alu += 1,
            InsnClass::Mul => self.mul += 1,
            InsnClass::Load => self.load += 1,
            InsnClass::Store => self.store += 1,
            InsnClass::Branch => self.branch += 1,
            InsnClass::LoadMultiple(n) => {
                self.ldm += 1;
                self.ldm_regs += n;
            }
            InsnClass::StoreMultiple(n) => {
                self.stm += 1;
                self.stm_regs += n;
            }
            InsnClass::CoprocRead => self.coproc_read += 1,
            InsnClass::CoprocWrite => self.coproc_write += 1,
            InsnClass::Barrier => self.barrier += 1,
            InsnClass::Isb => self.isb += 1,
            InsnClass::Syscall => {}
        }
    }

    /// `self + other`, class by class.
    pub fn plus(&self, o: &InsnMix) -> InsnMix {
        InsnMix {
            alu: self.alu + o.alu,
            mul: self.mul + o.mul,
            load: self.load + o.load,
            store: self.store + o.store,
            branch: self.branch + o.branch,
            ldm: self.ldm + o.ldm,
            ldm_regs: self.ldm_regs + o.ldm_regs,
            stm: self.stm + o.stm,
            stm_regs: self.stm_regs + o.stm_regs,
            coproc_read: self.coproc_read + o.coproc_read,
            coproc_write: self.coproc_write + o.coproc_write,
            barrier: self.barrier + o.barrier,
            isb: self.isb + o.isb,
        }
    }

    /// Total instruction count.
    pub fn instructions(&self) -> u32 {
        self.alu
            + self.mul
            + self.load
            + self.store
            + self.branch
            + self.ldm
            + self.stm
            + self.coproc_read
            + self.coproc_write
            + self.barrier
            + self.isb
    }
}
