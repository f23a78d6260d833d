//! The cost model: prices simulated events with a [`Profile`] and charges them to the [`Ledger`].
//!
//! User code arrives as basic blocks (already priced by class), kernel paths as [`InsnMix`]es,
//! privileged operations as [`Primitive`]s, and memory accesses as (virtual, physical) address
//! ranges that go through the TLB and cache models; every miss penalty is charged to
//! [`Category::TlbMiss`] or [`Category::CacheMiss`].

use crate::cache::TagArray;
use crate::insn::{InsnClass, InsnMix};
use crate::ledger::{Category, Ledger};
use crate::predictor::BranchPredictor;
use crate::profile::{Family, Profile};
use crate::units::{Asid, Cycles, PAddr, VAddr};

/// A privileged hardware operation with a profile price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    /// Taking the system-call/exception trap from user mode.
    ExceptionEntry,
    /// Returning to user mode.
    ExceptionReturn,
    /// Writing the page-table base register.
    PageTableBaseWrite,
    /// Writing the ASID / context-ID register.
    AsidWrite,
    /// Writing the domain access control register.
    DomainWrite,
    /// Invalidating the whole TLB.
    TlbFlushAll,
    /// Invalidating the branch predictor.
    BtacFlush,
    /// Data synchronisation barrier.
    Barrier,
    /// Instruction synchronisation barrier.
    Isb,
    /// Cleaning and invalidating one cache line.
    CacheCleanInvalidateLine,
    /// Reading the cycle counter.
    CounterRead,
    /// x86: INT n from user mode through a gate.
    IntEntry,
    /// x86: IRET to user mode.
    Iret,
    /// x86: SYSENTER.
    Sysenter,
    /// x86: SYSEXIT.
    Sysexit,
    /// x86-64: SYSCALL.
    Syscall,
    /// x86-64: SYSRET.
    Sysret,
    /// x86: MOV to CR3.
    Cr3Write,
    /// x86: INVLPG.
    Invlpg,
    /// x86: loading a segment register.
    SegmentLoad,
    /// x86-64: SWAPGS.
    Swapgs,
    /// x86-64: setting the GS base (WRGSBASE where the CPU has FSGSBASE, else WRMSR IA32_GS_BASE).
    GsBaseWrite,
    /// x86-64: setting the FS base (WRFSBASE, else WRMSR IA32_FS_BASE).
    FsBaseWrite,
    /// x86-64: reading the FS base (RDFSBASE, else RDMSR IA32_FS_BASE).
    FsBaseRead,
    /// x86-64: reading the GS base (RDGSBASE, else RDMSR IA32_GS_BASE).
    GsBaseRead,
    /// x86: MOV from CR0.
    Cr0Read,
    /// x86: MOV to CR0 (serialising).
    Cr0Write,
    /// x86: CLTS (clear CR0.TS).
    Clts,
    /// x86: XSAVE of the x87 and SSE state.
    Xsave,
    /// x86: XRSTOR of the x87 and SSE state.
    Xrstor,
}

impl Primitive {
    /// Every primitive.
    pub const ALL: [Primitive; 30] = [
        Primitive::ExceptionEntry,
        Primitive::ExceptionReturn,
        Primitive::PageTableBaseWrite,
        Primitive::AsidWrite,
        Primitive::DomainWrite,
        Primitive::TlbFlushAll,
        Primitive::BtacFlush,
        Primitive::Barrier,
        Primitive::Isb,
        Primitive::CacheCleanInvalidateLine,
        Primitive::CounterRead,
        Primitive::IntEntry,
        Primitive::Iret,
        Primitive::Sysenter,
        Primitive::Sysexit,
        Primitive::Syscall,
        Primitive::Sysret,
        Primitive::Cr3Write,
        Primitive::Invlpg,
        Primitive::SegmentLoad,
        Primitive::Swapgs,
        Primitive::GsBaseWrite,
        Primitive::FsBaseWrite,
        Primitive::FsBaseRead,
        Primitive::GsBaseRead,
        Primitive::Cr0Read,
        Primitive::Cr0Write,
        Primitive::Clts,
        Primitive::Xsave,
        Primitive::Xrstor,
    ];

    /// True if the primitive saves or restores user-visible state the CPU holds outside the
    /// general registers (x86 segment registers and FS/GS bases), as opposed to switching mode:
    /// a kernel entry or exit that issues it is charged to state save or restore for it.
    pub fn moves_user_state(self) -> bool {
        matches!(
            self,
            Primitive::SegmentLoad
                | Primitive::GsBaseWrite
                | Primitive::FsBaseWrite
                | Primitive::FsBaseRead
                | Primitive::GsBaseRead
        )
    }

    /// The primitive with profile key `key`.
    pub fn from_key(key: &str) -> Option<Primitive> {
        Primitive::ALL.iter().copied().find(|p| p.key() == key)
    }

    /// The primitive's key in a profile's `[primitives]` table.
    pub fn key(self) -> &'static str {
        match self {
            Primitive::ExceptionEntry => "exception_entry",
            Primitive::ExceptionReturn => "exception_return",
            Primitive::PageTableBaseWrite => "page_table_base_write",
            Primitive::AsidWrite => "asid_write",
            Primitive::DomainWrite => "domain_write",
            Primitive::TlbFlushAll => "tlb_flush_all",
            Primitive::BtacFlush => "btac_flush",
            Primitive::Barrier => "barrier",
            Primitive::Isb => "isb",
            Primitive::CacheCleanInvalidateLine => "cache_clean_invalidate_line",
            Primitive::CounterRead => "counter_read",
            Primitive::IntEntry => "int_entry",
            Primitive::Iret => "iret",
            Primitive::Sysenter => "sysenter",
            Primitive::Sysexit => "sysexit",
            Primitive::Syscall => "syscall",
            Primitive::Sysret => "sysret",
            Primitive::Cr3Write => "cr3_write",
            Primitive::Invlpg => "invlpg",
            Primitive::SegmentLoad => "segment_load",
            Primitive::Swapgs => "swapgs",
            Primitive::GsBaseWrite => "gs_base_write",
            Primitive::FsBaseWrite => "fs_base_write",
            Primitive::FsBaseRead => "fs_base_read",
            Primitive::GsBaseRead => "gs_base_read",
            Primitive::Cr0Read => "cr0_read",
            Primitive::Cr0Write => "cr0_write",
            Primitive::Clts => "clts",
            Primitive::Xsave => "xsave",
            Primitive::Xrstor => "xrstor",
        }
    }
}

/// The page-table descriptors a hardware walk reads for one translation (outermost first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkPath {
    /// Physical addresses of the descriptors read, `None` past the last level.
    pub descriptors: [Option<PAddr>; 4],
}

/// Page size used by the TLB models (4 KiB small pages).
pub const PAGE_SHIFT: u32 = 12;

/// Cache/TLB hit and miss counts, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    /// L1 I-cache (hits, misses).
    pub l1i: (u64, u64),
    /// L1 D-cache (hits, misses).
    pub l1d: (u64, u64),
    /// L2 (hits, misses).
    pub l2: (u64, u64),
    /// L3 (hits, misses).
    pub l3: (u64, u64),
    /// I-TLB (hits, misses).
    pub itlb: (u64, u64),
    /// D-TLB (hits, misses).
    pub dtlb: (u64, u64),
    /// Main TLB (hits, misses).
    pub main_tlb: (u64, u64),
}

/// One priced event, as recorded when tracing is on (for `l4sim explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Simulated time at which the event started.
    pub start: Cycles,
    /// Cycles charged (negative for a refund of work charged ahead but not done).
    pub cycles: i64,
    /// The category charged.
    pub category: Category,
    /// The thread charged.
    pub thread: Option<u32>,
    /// What happened, in words.
    pub what: String,
}

/// Prices events and keeps the ledger.
#[derive(Clone, Debug)]
pub struct CostModel {
    profile: Profile,
    ledger: Ledger,
    trace: Option<Vec<TraceEvent>>,
    predictor: BranchPredictor,
    /// Primitives that invalidate the branch predictor.
    flushes_predictor: [bool; Primitive::ALL.len()],
    l1i: TagArray,
    l1d: TagArray,
    l2: Option<TagArray>,
    l3: Option<TagArray>,
    itlb: Option<TagArray>,
    dtlb: Option<TagArray>,
    main_tlb: Option<TagArray>,
    asid: Asid,
    tlb_tagged: bool,
    global_pages: bool,
    virtually_tagged: bool,
    /// Every primitive's price (None: the machine does not have it), looked up once.
    primitive_prices: [Option<f64>; Primitive::ALL.len()],
    /// Virtually tagged lines of different address spaces do not alias (the kernel relocates each
    /// space, e.g. ARM FCSE PIDs), so a switch keeps them.
    space_tagged_caches: bool,
    l1i_line: u64,
    l1d_line: u64,
    l2_hit: f64,
    l3_hit: f64,
    memory: f64,
    itlb_miss: f64,
    dtlb_miss: f64,
    walk: f64,
}

fn cache_from(size: u64, ways: u64, line: u64) -> TagArray {
    let line = line.max(4);
    TagArray::new((size / line) as usize, ways as usize, line.trailing_zeros())
}

fn tlb_from(entries: u64, ways: u64) -> Option<TagArray> {
    (entries > 0).then(|| TagArray::new(entries as usize, ways as usize, PAGE_SHIFT))
}

fn opt_value(p: &Option<crate::profile::Param>) -> f64 {
    p.as_ref().map_or(0.0, |p| p.value)
}

impl CostModel {
    /// A cold machine (empty caches and TLBs) priced by `profile`.
    pub fn new(profile: Profile) -> CostModel {
        let p = &profile;
        let l2 = (p.l2.size_bytes.as_u64() > 0)
            .then(|| cache_from(p.l2.size_bytes.as_u64(), p.l2.ways.as_u64(), p.l2.line_bytes.as_u64()));
        let l3 =
            p.l3.as_ref().map(|c| cache_from(c.size_bytes.as_u64(), c.ways.as_u64(), c.line_bytes.as_u64()));
        CostModel {
            ledger: Ledger::new(),
            trace: None,
            predictor: BranchPredictor::new(&p.pipeline.predictor),
            flushes_predictor: Primitive::ALL.map(|pr| {
                pr == Primitive::BtacFlush || p.pipeline.predictor.flushed_by.iter().any(|k| k == pr.key())
            }),
            l1i: cache_from(p.l1i.size_bytes.as_u64(), p.l1i.ways.as_u64(), p.l1i.line_bytes.as_u64()),
            l1d: cache_from(p.l1d.size_bytes.as_u64(), p.l1d.ways.as_u64(), p.l1d.line_bytes.as_u64()),
            l2,
            l3,
            itlb: tlb_from(p.itlb.entries.as_u64(), p.itlb.ways.as_u64()),
            dtlb: tlb_from(p.dtlb.entries.as_u64(), p.dtlb.ways.as_u64()),
            main_tlb: tlb_from(p.main_tlb.entries.as_u64(), p.main_tlb.ways.as_u64()),
            asid: Asid(0),
            tlb_tagged: p.itlb.asid_tagged && p.dtlb.asid_tagged && p.main_tlb.asid_tagged,
            global_pages: p.family() != Some(Family::X86) || p.features.global_pages,
            virtually_tagged: p.cache_flags.virtually_tagged,
            primitive_prices: Primitive::ALL.map(|pr| Self::lookup_primitive(p, pr)),
            space_tagged_caches: false,
            l1i_line: p.l1i.line_bytes.as_u64().max(4),
            l1d_line: p.l1d.line_bytes.as_u64().max(4),
            l2_hit: opt_value(&p.l2.hit_cycles),
            l3_hit: p.l3.as_ref().map_or(0.0, |c| opt_value(&c.hit_cycles)),
            memory: p.memory_cycles(),
            itlb_miss: opt_value(&p.itlb.miss_cycles),
            dtlb_miss: opt_value(&p.dtlb.miss_cycles),
            walk: opt_value(&p.main_tlb.walk_cycles),
            profile,
        }
    }

    /// The profile this model prices with.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Simulated time so far.
    pub fn now(&self) -> Cycles {
        self.ledger.now()
    }

    /// Sets the thread that subsequent charges belong to.
    pub fn set_thread(&mut self, t: Option<u32>) {
        self.ledger.set_thread(t);
    }

    /// Lets time pass with nothing running, up to `until` (no category is charged).
    pub fn idle_until(&mut self, until: Cycles) {
        let now = self.ledger.now();
        if until > now {
            self.ledger.idle(Cycles(until.0 - now.0));
        }
    }

    /// Charges `c` cycles to `cat`.
    pub fn charge(&mut self, cat: Category, c: Cycles) {
        self.charge_as(cat, c, String::new);
    }

    /// Charges `c` cycles to `cat`, describing the event for the trace (the description is only
    /// built when tracing is on).
    pub fn charge_as(&mut self, cat: Category, c: Cycles, what: impl FnOnce() -> String) {
        if c.0 == 0 {
            return;
        }
        if let Some(t) = &mut self.trace {
            t.push(TraceEvent {
                start: self.ledger.now(),
                cycles: c.0 as i64,
                category: cat,
                thread: self.ledger.thread(),
                what: what(),
            });
        }
        self.ledger.charge(cat, c);
    }

    /// Starts (or stops) recording every charge as a [`TraceEvent`].
    pub fn set_tracing(&mut self, on: bool) {
        self.trace = if on { Some(self.trace.take().unwrap_or_default()) } else { None };
    }

    /// The events recorded so far (tracing stays on).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Takes back cycles charged ahead for work that did not happen (see [`Ledger::refund`]).
    pub fn refund(&mut self, cat: Category, c: Cycles) {
        if c.0 == 0 {
            return;
        }
        self.ledger.refund(cat, c);
        if let Some(t) = &mut self.trace {
            t.push(TraceEvent {
                start: self.ledger.now(),
                cycles: -(c.0 as i64),
                category: cat,
                thread: self.ledger.thread(),
                what: "refund: the rest of the block runs later as a new block".into(),
            });
        }
    }

    /// The price of one instruction of class `c`, in (fractional) cycles (0 for a class the
    /// profile's architecture does not have).
    pub fn price_class(&self, c: InsnClass) -> f64 {
        let k = |key: &str| self.profile.insn(key).unwrap_or(0.0);
        match c {
            InsnClass::Alu => k("alu"),
            InsnClass::Mul => k("mul"),
            InsnClass::Load => k("load"),
            InsnClass::Store => k("store"),
            InsnClass::Branch => k("branch"),
            InsnClass::LoadMultiple(n) => k("load_multiple_base") + f64::from(n) * k("load_multiple_per_reg"),
            InsnClass::StoreMultiple(n) => {
                k("store_multiple_base") + f64::from(n) * k("store_multiple_per_reg")
            }
            InsnClass::CoprocRead => k("coproc_read"),
            InsnClass::CoprocWrite => k("coproc_write"),
            InsnClass::Barrier => k("barrier"),
            InsnClass::Isb => k("isb"),
            InsnClass::Syscall => 0.0,
        }
    }

    /// The price of an instruction mix, in (fractional) cycles.
    pub fn price_mix(&self, m: &InsnMix) -> f64 {
        let k = |key: &str| self.profile.insn(key).unwrap_or(0.0);
        f64::from(m.alu) * k("alu")
            + f64::from(m.mul) * k("mul")
            + f64::from(m.load) * k("load")
            + f64::from(m.store) * k("store")
            + f64::from(m.branch) * k("branch")
            + f64::from(m.ldm) * k("load_multiple_base")
            + f64::from(m.ldm_regs) * k("load_multiple_per_reg")
            + f64::from(m.stm) * k("store_multiple_base")
            + f64::from(m.stm_regs) * k("store_multiple_per_reg")
            + f64::from(m.coproc_read) * k("coproc_read")
            + f64::from(m.coproc_write) * k("coproc_write")
            + f64::from(m.barrier) * k("barrier")
            + f64::from(m.isb) * k("isb")
    }

    /// The price of a kernel step: its instruction mix, and the wait on its chain of `load_chain`
    /// loads, each addressed by the previous one's result. On an in-order core each of the
    /// `load_chain - 1` address dependences stalls the pipeline for `pipeline.load_use` cycles
    /// (less the issue cost the `load` class already charges); the first load of a chain, whose
    /// address is ready, is what a scheduler can hide. An out-of-order core overlaps the chain
    /// with the step's other work: the step takes the longer of its issue time and the chain's
    /// `load_chain x load_use` cycles.
    pub fn price_step(&self, m: &InsnMix, load_chain: u32) -> f64 {
        let issue = self.price_mix(m);
        let pl = &self.profile.pipeline;
        if pl.out_of_order.value != 0.0 {
            issue.max(f64::from(load_chain) * pl.load_use.value)
        } else {
            let load = self.profile.insn("load").unwrap_or(0.0);
            let links = f64::from(load_chain.saturating_sub(1));
            issue + links * (pl.load_use.value - load).max(0.0)
        }
    }

    /// Resolves branch site `site` with outcome `taken` in the branch predictor and charges the
    /// profile's `branch_mispredict` to `cat` if it was mispredicted. Returns what it cost.
    pub fn branch(&mut self, cat: Category, site: usize, taken: bool) -> Cycles {
        if !self.predictor.resolve(site, taken) {
            return Cycles(0);
        }
        let c = Cycles::from_f64(self.profile.pipeline.branch_mispredict.value);
        self.charge_as(cat, c, || format!("branch {site} mispredicted"));
        c
    }

    /// Charges an instruction mix to `cat` and returns what it cost.
    pub fn charge_mix(&mut self, cat: Category, m: &InsnMix) -> Cycles {
        let c = Cycles::from_f64(self.price_mix(m));
        self.charge_as(cat, c, || format!("{} instructions", m.instructions()));
        c
    }

    /// The price of a primitive, in (fractional) cycles, or None if the profile does not price it
    /// (the machine does not have it).
    pub fn try_price_primitive(&self, p: Primitive) -> Option<f64> {
        self.primitive_prices[p as usize]
    }

    /// Where a primitive's price lives in a profile: exception entry/return and barriers are
    /// instruction classes, the rest `[primitives]`.
    fn lookup_primitive(pr: &Profile, p: Primitive) -> Option<f64> {
        match p {
            Primitive::ExceptionEntry => pr.insn("exception_entry"),
            Primitive::ExceptionReturn => pr.insn("exception_return"),
            Primitive::Barrier => pr.insn("barrier"),
            Primitive::Isb => pr.insn("isb"),
            _ => pr.primitive(p.key()),
        }
    }

    /// The price of a primitive, in (fractional) cycles (0 if the profile does not price it: a
    /// kernel checks [`CostModel::try_price_primitive`] for every primitive it uses when it is built).
    pub fn price_primitive(&self, p: Primitive) -> f64 {
        self.try_price_primitive(p).unwrap_or(0.0)
    }

    /// Charges a primitive to `cat` and returns what it cost.
    pub fn primitive(&mut self, cat: Category, p: Primitive) -> Cycles {
        self.primitive_effect(p);
        let c = Cycles::from_f64(self.price_primitive(p));
        self.charge_as(cat, c, || format!("{p:?}"));
        c
    }

    /// Charges a sequence of primitives to `cat` (e.g. seL4's ASID switch: barrier, TTBR write, ISB, ...),
    /// summing the fractional prices before rounding once.
    pub fn primitives(&mut self, cat: Category, ps: &[Primitive]) -> Cycles {
        ps.iter().for_each(|p| self.primitive_effect(*p));
        let c = Cycles::from_f64(ps.iter().map(|p| self.price_primitive(*p)).sum());
        self.charge_as(cat, c, || ps.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", "));
        c
    }

    /// What a primitive does to the modelled state beyond its price: a branch-predictor
    /// invalidation (`btac_flush`, or a primitive the profile's `pipeline.predictor.flushed_by`
    /// names) empties the predictor. (TLB and cache effects of a switch are the kernel's to
    /// request, through [`CostModel::set_asid`] and [`CostModel::flush_tlbs`].)
    fn primitive_effect(&mut self, p: Primitive) {
        if self.flushes_predictor[p as usize] {
            self.predictor.flush();
        }
    }

    /// Makes `asid` the current address space for TLB tagging. On hardware whose TLBs are not
    /// ASID-tagged, the switch invalidates every non-global entry (as a page-table switch does there).
    ///
    /// Virtually tagged caches without ASIDs (XScale) cannot keep lines across a switch either: they
    /// are invalidated too, so every later access pays its refill. (The cost of the clean/invalidate
    /// operation itself is the kernel's to charge, as a primitive of its switch sequence.)
    ///
    /// Without global pages (x86 before the P6, or a kernel that does not use them) the kernel's
    /// entries go too.
    pub fn set_asid(&mut self, asid: Asid) {
        if asid != self.asid && !self.tlb_tagged {
            let keep_global = self.global_pages;
            for t in [&mut self.itlb, &mut self.dtlb, &mut self.main_tlb].into_iter().flatten() {
                if keep_global {
                    t.flush_non_global();
                } else {
                    t.flush_all();
                }
            }
        }
        if asid != self.asid && self.virtually_tagged && !self.space_tagged_caches {
            self.l1i.flush_non_global();
            self.l1d.flush_non_global();
        }
        self.asid = asid;
    }

    /// Whether TLB entries survive an address-space switch because they are tagged (ASIDs, or x86
    /// PCIDs when the kernel uses them). Starts as the profile's `asid_tagged` flags say.
    pub fn set_tlb_tagged(&mut self, tagged: bool) {
        self.tlb_tagged = tagged;
    }

    /// Whether the kernel keeps address spaces apart in a virtually tagged cache (ARM FCSE PIDs
    /// relocate each space, so lines of different spaces do not alias and a switch keeps them).
    /// No effect on physically tagged caches.
    pub fn set_space_tagged_caches(&mut self, on: bool) {
        self.space_tagged_caches = on;
    }

    /// Whether global TLB entries survive an address-space switch: true on ARM, the CPU's PGE
    /// feature on x86; a kernel that does not map itself global turns it off.
    pub fn set_global_pages(&mut self, on: bool) {
        self.global_pages = on;
    }

    /// True if the TLBs keep entries across an address-space switch.
    pub fn tlb_tagged(&self) -> bool {
        self.tlb_tagged
    }

    /// True if global TLB entries survive an address-space switch.
    pub fn global_pages(&self) -> bool {
        self.global_pages
    }

    /// The current ASID.
    pub fn asid(&self) -> Asid {
        self.asid
    }

    /// Invalidates every TLB entry (a TLB-flush-all instruction).
    pub fn flush_tlbs(&mut self) {
        for t in [&mut self.itlb, &mut self.dtlb, &mut self.main_tlb].into_iter().flatten() {
            t.flush_all();
        }
    }

    /// Invalidates the TLB entries of `asid` for the pages of `[va, va + len)` (what a kernel
    /// does after it unmaps them).
    pub fn invalidate_tlb_range(&mut self, asid: Asid, va: u64, len: u64) {
        let pages = len.div_ceil(1 << PAGE_SHIFT).max(1);
        for t in [&mut self.itlb, &mut self.dtlb, &mut self.main_tlb].into_iter().flatten() {
            for p in 0..pages {
                t.invalidate((va >> PAGE_SHIFT << PAGE_SHIFT) + (p << PAGE_SHIFT), Some(asid.0));
            }
        }
    }

    /// Invalidates every TLB entry of `asid` (an address space that went away).
    pub fn invalidate_tlb_asid(&mut self, asid: Asid) {
        for t in [&mut self.itlb, &mut self.dtlb, &mut self.main_tlb].into_iter().flatten() {
            t.flush_asid(asid.0);
        }
    }

    /// Invalidates the L1 caches (virtually tagged caches on an address-space switch).
    pub fn flush_l1(&mut self) {
        self.l1i.flush_all();
        self.l1d.flush_all();
    }

    fn tag(&self, global: bool) -> Option<u16> {
        if global {
            None
        } else {
            Some(self.asid.0)
        }
    }

    /// Penalty of an L1 miss at `pa`: through the outer levels that exist, to memory.
    fn outer_miss(&mut self, pa: u64) -> f64 {
        let mut cost = 0.0;
        for (level, hit) in [(&mut self.l2, self.l2_hit), (&mut self.l3, self.l3_hit)] {
            if let Some(c) = level {
                cost += hit;
                if c.access(pa, None, false) {
                    return cost;
                }
            }
        }
        cost + self.memory
    }

    /// Translation cost of one page through a first-level TLB and the main TLB.
    fn translate(&mut self, va: u64, global: bool, instr: bool, walk: &mut dyn FnMut() -> WalkPath) -> f64 {
        let tag = self.tag(global);
        let first = if instr { &mut self.itlb } else { &mut self.dtlb };
        // Without first-level TLBs (a unified single-level TLB) every lookup starts in the main TLB.
        let first_miss = match first.as_mut().map(|f| f.access(va, tag, global)) {
            Some(true) => return 0.0,
            Some(false) if instr => self.itlb_miss,
            Some(false) => self.dtlb_miss,
            None => 0.0,
        };
        // The first level's miss penalty is the cost of finding the entry in the main TLB; without
        // a main TLB the miss goes straight to the walk, priced by `walk_cycles` alone.
        let (mut cost, main_hit) = match &mut self.main_tlb {
            Some(m) => (first_miss, m.access(va, tag, global)),
            None => (0.0, false),
        };
        if !main_hit {
            cost += self.walk;
            for d in walk().descriptors.into_iter().flatten() {
                if !self.l1d.access(d.0, None, false) {
                    cost += self.outer_miss(d.0);
                }
            }
        }
        cost
    }

    /// An instruction fetch of `bytes` at `va` (physically at `pa`): I-TLB per page, I-cache per line.
    /// Miss penalties are charged; the instructions themselves are priced by the caller.
    pub fn fetch(
        &mut self,
        va: VAddr,
        pa: PAddr,
        bytes: u64,
        global: bool,
        walk: &mut dyn FnMut() -> WalkPath,
    ) {
        self.memory_access(va, pa, bytes, global, true, walk);
    }

    /// A data access of `bytes` at `va` (physically at `pa`): D-TLB per page, D-cache per line.
    /// Miss penalties are charged; the load/store instruction itself is priced by the caller.
    pub fn data(
        &mut self,
        va: VAddr,
        pa: PAddr,
        bytes: u64,
        global: bool,
        walk: &mut dyn FnMut() -> WalkPath,
    ) {
        self.memory_access(va, pa, bytes, global, false, walk);
    }

    fn memory_access(
        &mut self,
        va: VAddr,
        pa: PAddr,
        bytes: u64,
        global: bool,
        instr: bool,
        walk: &mut dyn FnMut() -> WalkPath,
    ) {
        let bytes = bytes.max(1);
        let mut tlb = 0.0;
        let first_page = va.0 >> PAGE_SHIFT;
        let last_page = (va.0 + bytes - 1) >> PAGE_SHIFT;
        for page in first_page..=last_page {
            tlb += self.translate(page << PAGE_SHIFT, global, instr, walk);
        }
        let line = if instr { self.l1i_line } else { self.l1d_line };
        // Virtually tagged lines carry no ASID on such hardware; global (kernel) lines survive a switch.
        // (one pseudo-ASID for every user line, so that a switch can invalidate them); physically
        // tagged lines are valid in every address space.
        let space = if self.space_tagged_caches { self.asid.0 } else { 0 };
        let (tag, fill_global) = if self.virtually_tagged { (Some(space), global) } else { (None, true) };
        let (start, end) = if self.virtually_tagged { (va.0, va.0 + bytes) } else { (pa.0, pa.0 + bytes) };
        let mut cache = 0.0;
        let mut a = start & !(line - 1);
        while a < end {
            let pa_line = pa.0 + (a.max(start) - start);
            let hit = if instr {
                self.l1i.access(a, tag, fill_global)
            } else {
                self.l1d.access(a, tag, fill_global)
            };
            if !hit {
                cache += self.outer_miss(pa_line & !(line - 1));
            }
            a += line;
        }
        let kind = if instr { "instruction" } else { "data" };
        self.charge_as(Category::TlbMiss, Cycles::from_f64(tlb), || {
            format!("{kind} TLB miss(es) for {:#x}..{:#x}", va.0, va.0 + bytes)
        });
        self.charge_as(Category::CacheMiss, Cycles::from_f64(cache), || {
            format!("{kind} cache miss(es) for physical {:#x}..{:#x}", pa.0, pa.0 + bytes)
        });
    }

    /// Hit/miss counts of every cache and TLB.
    pub fn mem_stats(&self) -> MemStats {
        MemStats {
            l1i: self.l1i.stats(),
            l1d: self.l1d.stats(),
            l2: self.l2.as_ref().map_or((0, 0), |c| c.stats()),
            l3: self.l3.as_ref().map_or((0, 0), |c| c.stats()),
            itlb: self.itlb.as_ref().map_or((0, 0), |c| c.stats()),
            dtlb: self.dtlb.as_ref().map_or((0, 0), |c| c.stats()),
            main_tlb: self.main_tlb.as_ref().map_or((0, 0), |c| c.stats()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Primitive;

    #[test]
    fn every_primitive_is_listed_once_at_its_own_index_and_named_uniquely() {
        for (i, p) in Primitive::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i, "{p:?}: the price table is indexed by the variant");
            assert_eq!(Primitive::from_key(p.key()), Some(*p));
        }
    }
}
