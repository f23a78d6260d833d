//! Priced basic blocks and their cache, shared by the ISA backends: a block is decoded and priced
//! once, then charged whole each time it starts; a trap in its middle refunds the rest.

use simcore::{Cycles, PAddr};

/// A priced basic block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockInfo {
    /// Guest virtual address.
    pub va: u64,
    /// ASID of the address space it was decoded in.
    pub asid: u16,
    /// Size in bytes.
    pub size: u32,
    /// Physical address of its first byte.
    pub pa: PAddr,
    /// The price of the whole block, in fractional cycles.
    pub cost: f64,
    /// `(offset, price of the instructions before that offset)` for every instruction start, and
    /// `(size, cost)` last; ascending offsets.
    pub prefix: Vec<(u32, f64)>,
}

impl BlockInfo {
    /// The price of the instructions before `pc` in this block (None if no instruction starts at `pc`).
    pub fn price_before(&self, pc: u64) -> Option<f64> {
        let off = u32::try_from(pc.checked_sub(self.va)?).ok()?;
        self.prefix.binary_search_by_key(&off, |(o, _)| *o).ok().map(|i| self.prefix[i].1)
    }
}

/// A direct-mapped cache of priced blocks, keyed by (ASID, address).
#[derive(Debug)]
pub struct BlockCache {
    slots: Vec<Option<BlockInfo>>,
}

impl BlockCache {
    /// A cache of `2^bits` entries.
    pub fn new(bits: u32) -> BlockCache {
        BlockCache { slots: vec![None; 1 << bits] }
    }

    fn index(&self, va: u64, asid: u16) -> usize {
        (((va >> 2) ^ (u64::from(asid) << 7)) as usize) & (self.slots.len() - 1)
    }

    /// The cached block at `va` of exactly `size` bytes in `asid`.
    pub fn get(&self, va: u64, asid: u16, size: u32) -> Option<&BlockInfo> {
        self.slots[self.index(va, asid)].as_ref().filter(|b| b.va == va && b.asid == asid && b.size == size)
    }

    /// Stores a block.
    pub fn put(&mut self, b: BlockInfo) {
        let i = self.index(b.va, b.asid);
        self.slots[i] = Some(b);
    }

    /// Forgets everything (after mappings change).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }
}

/// The block the emulator is executing: charged whole when it started, so a trap inside it must
/// refund what did not run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CurrentBlock {
    /// Its address.
    pub va: u64,
    /// Its size (0 = no block, or already left).
    pub size: u32,
    /// Simulated time when its first instruction started.
    pub exec_start: simcore::Cycles,
}

impl CurrentBlock {
    /// The simulated time at which the instruction at `pc` of this block started (the block keeps
    /// running: nothing is refunded). None if `pc` is not an instruction of this block.
    pub fn time_at(&self, blocks: &BlockCache, asid: u16, pc: u64) -> Option<simcore::Cycles> {
        if pc < self.va || pc >= self.va.saturating_add(u64::from(self.size)) {
            return None;
        }
        let b = blocks.get(self.va, asid, self.size)?;
        Some(self.exec_start + simcore::Cycles::from_f64(b.price_before(pc)?))
    }

    /// Leaves the block at the instruction at `pc`, continuing at `resume` (what runs from
    /// `resume` on is a new block and is charged as such): refunds the part of the block's charge
    /// from `resume` on. Returns the simulated time at which the instruction at `pc` started, or
    /// None if `pc` is not an instruction of this block.
    pub fn leave(
        &mut self,
        blocks: &BlockCache,
        asid: u16,
        pc: u64,
        resume: u64,
        cost: &mut simcore::CostModel,
    ) -> Option<simcore::Cycles> {
        use simcore::{Category, Cycles};
        if pc < self.va || pc >= self.va.saturating_add(u64::from(self.size)) {
            return None;
        }
        let b = blocks.get(self.va, asid, self.size)?;
        let before = Cycles::from_f64(b.price_before(pc)?);
        let keep = Cycles::from_f64(b.price_before(resume).unwrap_or(b.cost));
        let charged = Cycles::from_f64(b.cost);
        cost.refund(Category::User, charged.saturating_sub(keep));
        // Left: a second exit must not refund again.
        self.size = 0;
        Some(self.exec_start + before)
    }
}

/// The cycles user blocks cost, charged in whole cycles with the fraction carried to the next
/// block: a loop of blocks cheaper than half a cycle each still takes time (rounding each block
/// would charge none, and simulated time, with the timer, would stand still).
#[derive(Clone, Copy, Debug, Default)]
pub struct UserCycles {
    fraction: f64,
}

impl UserCycles {
    /// Adds a block of `cost` cycles; returns the whole cycles to charge now.
    pub fn add(&mut self, cost: f64) -> Cycles {
        let exact = cost.max(0.0) + self.fraction;
        let whole = exact.floor();
        self.fraction = exact - whole;
        Cycles(whole as u64)
    }
}
