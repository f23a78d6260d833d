//! # kernel — the simulated seL4
//!
//! The part of seL4 (non-MCS) that IPC needs, done as seL4 does it, plus the hooks through which
//! every path states what it costs. Design principles, in order:
//!
//! 1. **No ISA, no emulator.** The kernel sees user registers only as the register file saved in the
//!    current TCB, by ABI role ([`simcore::RegisterAbi`]); it works on TCBs and objects and returns what
//!    the backend must do next ([`Resume`]). Physical memory (IPC buffers) is reached through
//!    [`simcore::PhysMem`].
//! 2. **seL4's structure and vocabulary.** `send_ipc`, `receive_ipc`, `do_ipc_transfer`,
//!    `setup_caller_cap`, `do_reply_transfer`, `possible_switch_to`, `schedule`; the fastpath is a
//!    straight line of checks that fall back to the slowpath exactly where seL4's does.
//! 3. **Every path prices itself.** A path charges the instruction mix its real counterpart executes
//!    (from the [`preset::KernelPreset`]) and touches the objects it reads and writes at their simulated
//!    physical addresses, so the cache and TLB models see them.
//! 4. **Guest behaviour never panics the host.** Bad capabilities become seL4 errors or capability
//!    faults; bad memory accesses become VM faults delivered to the fault handler, or stop the thread.
#![forbid(unsafe_code)]

pub mod abi;
mod cnode;
pub mod cspace;
mod fastpath;
mod invariants;
mod ipc;
pub mod irq;
mod notification;
pub mod object;
pub mod preset;
mod sched;
mod syscall;
mod tcb;
pub mod types;
mod untyped;
mod vm;
pub mod vspace;

use object::{
    CNode, Cap, Endpoint, EpState, Fault, Frame, Mapping, Notification, NtfnState, ObjectLayout, Tcb,
    ThreadState, VSpace, VmRights,
};
use preset::{AddressSpaces, Design, IpcTarget, KernelPreset, KernelStack, PresetError, StepId};
use simcore::{Asid, Category, CostModel, Cycles, PAddr, Primitive, RegisterAbi, UserContext, VAddr};
use types::{CNodeId, EpId, FrameId, NtfnId, TcbId, VSpaceId};
use vspace::{Translation, VSpaceGeometry};

pub use invariants::InvariantViolation;
pub use sched::SchedulerAction;

/// What the kernel is built with: the ABI and page-table geometry of the ISA backend, the kernel
/// preset (software facts), the simulated RAM, and switches.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// Register roles of the ISA's seL4 ABI.
    pub abi: RegisterAbi,
    /// Page-table geometry and kernel window.
    pub geometry: VSpaceGeometry,
    /// ISA family whose code paths the preset must supply (`aarch32`).
    pub isa: String,
    /// Architecture whose address-space switch sequence the preset must supply (`armv7`).
    pub arch: String,
    /// Average bytes per kernel instruction (for the kernel's instruction-cache footprint).
    pub insn_bytes: u32,
    /// The kernel preset.
    pub preset: KernelPreset,
    /// Physical base of RAM.
    pub ram_base: PAddr,
    /// Bytes of RAM.
    pub ram_size: u64,
    /// Bytes at the bottom of RAM reserved for the kernel image (its text).
    pub kernel_image_bytes: u64,
    /// Where in the image the kernel's text starts (bytes from RAM base, 64-byte aligned). The
    /// real kernels' layouts are not modelled; varying this shows how much a result depends on
    /// where the paths fall in the caches (`l4sim table1` reports that spread).
    pub text_offset: u64,
    /// Use the IPC fastpath for Call and ReplyRecv.
    pub fastpath: bool,
    /// The hardware mechanism that enters the kernel on a system call (ARM: exception entry;
    /// x86: `int`, `sysenter` or `syscall`, as the kernel preset and the CPU allow).
    pub trap_entry: Vec<Primitive>,
    /// The mechanism that returns to user mode.
    pub trap_exit: Vec<Primitive>,
    /// Check the kernel's invariants after every kernel entry (see [`Kernel::check_invariants`]);
    /// a broken one stops the run ([`Resume::Stopped`]) with [`Kernel::invariant_violation`] set.
    /// The checks charge no cycles.
    pub check_invariants: bool,
}

/// Errors of system construction (not of guest behaviour, which never errors the host).
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Simulated RAM is exhausted.
    #[error("out of simulated physical memory: needed {needed} bytes, {left} left")]
    OutOfMemory {
        /// Requested bytes.
        needed: u64,
        /// Bytes left.
        left: u64,
    },
    /// The preset does not cover this ISA or architecture.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// A mapping could not be made.
    #[error(transparent)]
    Map(#[from] vspace::MapError),
    /// A construction call named something that does not exist or does not fit.
    #[error("invalid construction request: {0}")]
    Invalid(String),
    /// All 255 hardware ASIDs are in use.
    #[error("out of hardware ASIDs")]
    OutOfAsids,
}

/// Something the backend observed that enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A system-call trap (the saved PC points past the syscall instruction).
    Syscall,
    /// A memory fault (the saved PC points at the faulting instruction).
    VmFault {
        /// The faulting address.
        addr: u64,
        /// True for an instruction fetch.
        instruction: bool,
        /// True for a write.
        write: bool,
        /// Architecture fault status, as the backend reports it.
        fsr: u64,
    },
    /// Any other exception (undefined instruction, ...), the saved PC at the instruction.
    UserException {
        /// Architecture exception number.
        number: u64,
        /// Architecture code.
        code: u64,
    },
    /// A trap seL4 treats as an unknown system call although it is no system-call instruction
    /// (x86: `int n` through a user trap gate), numbered as seL4 numbers it; the saved PC at the
    /// trapping instruction.
    UnknownSyscall {
        /// The number the fault message carries.
        number: u64,
    },
    /// An interrupt: the interrupt controller reports `line` raised (the saved PC is where the
    /// thread resumes; nothing may be running).
    Interrupt {
        /// The line (see [`irq`]).
        line: u32,
    },
}

/// What the backend must do after a kernel entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Load this thread's registers and address space and continue.
    Thread(TcbId),
    /// No thread is runnable (every thread blocked or inactive).
    Idle,
    /// A thread asked to stop the machine (seL4_DebugHalt).
    Halt(TcbId),
    /// The kernel stopped the machine: an invariant broke ([`Kernel::invariant_violation`]).
    Stopped,
}

/// Something worth reporting that happened in the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvent {
    /// A thread faulted; `delivered` says whether a fault handler got the message.
    Fault {
        /// The faulting thread.
        thread: TcbId,
        /// The fault.
        fault: Fault,
        /// Whether it went to a fault handler (false: the thread was made inactive).
        delivered: bool,
        /// Simulated time.
        at: Cycles,
    },
    /// seL4_DebugPutChar output.
    PutChar {
        /// The thread.
        thread: TcbId,
        /// The byte.
        byte: u8,
    },
}

/// Counts of kernel paths taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Kernel entries of any kind.
    pub entries: u64,
    /// Calls completed on the fastpath.
    pub fastpath_call: u64,
    /// ReplyRecvs completed on the fastpath.
    pub fastpath_reply_recv: u64,
    /// System calls handled by the slowpath.
    pub slowpath: u64,
    /// Faults taken.
    pub faults: u64,
    /// Thread switches.
    pub switches: u64,
}

/// The simulated kernel.
#[derive(Debug)]
pub struct Kernel {
    cost: CostModel,
    abi: RegisterAbi,
    geo: VSpaceGeometry,
    switch_seq: Vec<Primitive>,
    switch_seq_slowpath: Vec<Primitive>,
    pub(crate) thread_switch_seq: Vec<Primitive>,
    /// The hardware kernel entry (trap entry).
    trap_entry: Vec<Primitive>,
    /// User state the entry stub reads from outside the registers (x86-64 FS/GS bases): state save.
    entry_state: Vec<Primitive>,
    /// The hardware return to user mode (trap exit).
    trap_exit: Vec<Primitive>,
    /// User state the exit stub loads into the CPU (x86 segments, FS/GS bases): state restore.
    exit_state: Vec<Primitive>,
    /// Skim window: the page-table switch after every kernel entry.
    skim_entry: Vec<Primitive>,
    /// Skim window: the page-table switch before every return to user mode.
    skim_exit: Vec<Primitive>,
    /// Skim window without PCIDs: those switches flush the TLB.
    skim_flush: bool,
    pub(crate) layout: ObjectLayout,
    /// Per step: its instruction mix priced by the profile (fractional cycles), computed once.
    step_price: Vec<f64>,
    /// The preset's operation-dependent branches (see [`preset::CodePaths::op_branches`]).
    op_branches: u32,
    text: Vec<(PAddr, u64)>,
    ram_base: PAddr,
    ram_size: u64,
    next_free: u64,
    fastpath: bool,
    pub(crate) tcbs: Vec<Tcb>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) ntfns: Vec<Notification>,
    pub(crate) cnodes: Vec<CNode>,
    pub(crate) vspaces: Vec<VSpace>,
    pub(crate) frames: Vec<Frame>,
    pub(crate) sched: sched::Scheduler,
    pub(crate) current: Option<TcbId>,
    /// The address space the hardware currently runs in (None = the kernel's own / idle).
    active_vspace: Option<VSpaceId>,
    events: Vec<KernelEvent>,
    stats: KernelStats,
    preset_name: String,
    /// The preset's design choices (Table IV), each a mechanism below.
    pub(crate) design: Design,
    /// Thread-ID kernels: kernel virtual address of the virtual TCB array (thread n's TCB at
    /// `base + n * tcb_bytes`), a kernel region of its own, so that the TLB model sees it.
    tcb_array_base: u64,
    /// Check the invariants after every kernel entry.
    check_invariants: bool,
    /// The ISA family (`aarch32`, `x86_64`, ...): decides the seL4_UserContext layout.
    pub(crate) isa: String,
    /// CNodes whose contents are being deleted (a CNode holding a capability to itself, or a
    /// cycle of CNodes, is finalised once).
    finalising: Vec<CNodeId>,
    /// Untyped regions.
    pub(crate) untypeds: Vec<object::Untyped>,
    /// Objects whose last capability was deleted (kind and index, as `cnode::object_of` names
    /// them): capabilities may not name them, and their memory may be retyped.
    pub(crate) dead: std::collections::BTreeSet<(u8, u64)>,
    /// Page-table objects made by Retype.
    pub(crate) page_tables: Vec<object::PageTableObject>,
    /// ASID pools; pool 0 is the initial one.
    pub(crate) asid_pools: Vec<object::AsidPool>,
    /// The ASID table: which pool serves each range of 2^asidLowBits ASIDs.
    pub(crate) asid_table: Vec<Option<types::AsidPoolId>>,
    /// Counts changes to address spaces (mappings, tables, ASIDs, zeroed frames), so that a
    /// backend knows when to refresh what it derived from them.
    pub(crate) vm_generation: u64,
    /// Interrupt state: IRQ handlers, masks, the preemption timer.
    pub(crate) irq: irq::Interrupts,
    /// Work done since the last preemption check (seL4's `ksWorkUnitsCompleted`).
    pub(crate) work_units: u32,
    /// The current operation stopped at a preemption point.
    pub(crate) preempted: bool,
    /// The invariant that broke and stopped the run, if one did.
    violation: Option<InvariantViolation>,
}

fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

impl Kernel {
    /// A kernel with no objects yet, pricing with `cost`.
    pub fn new(cfg: KernelConfig, cost: CostModel) -> Result<Kernel, KernelError> {
        let paths = cfg.preset.paths(&cfg.isa)?.clone();
        let switch_seq = cfg.preset.switch_sequence(&cfg.arch)?;
        let switch_seq_slowpath = cfg.preset.slowpath_switch_sequence(&cfg.arch)?;
        let thread_switch_seq = cfg.preset.thread_switch_sequence(&cfg.arch);
        // The skim window (where the design turns it on and the preset defines it for this ISA):
        // page-table switches on every entry and exit instead of at the thread switch.
        let design = cfg.preset.design();
        let skim = if design.skim_window { cfg.preset.skim_window.get(&cfg.isa).cloned() } else { None };
        let (switch_seq, switch_seq_slowpath) = match &skim {
            Some(w) => (w.switch_primitives(), w.switch_primitives()),
            None => (switch_seq, switch_seq_slowpath),
        };
        // FPU-state switching on every thread switch (where the design turns it on; the preset must
        // then say what it costs on this ISA).
        let fpu = if design.fpu_switch {
            Some(cfg.preset.fpu_switch.get(&cfg.isa).cloned().ok_or_else(|| {
                KernelError::Invalid(format!(
                    "kernel preset {} switches the FPU state but gives no [fpu_switch.{}]",
                    cfg.preset.name, cfg.isa
                ))
            })?)
        } else {
            None
        };
        let thread_switch_seq = match &fpu {
            Some(f) => f.switch_primitives(),
            None => thread_switch_seq,
        };
        let skim_entry = skim.as_ref().map_or_else(Vec::new, |w| w.entry_primitives());
        let skim_exit = skim.as_ref().map_or_else(Vec::new, |w| w.exit_primitives());
        // Every primitive this kernel will charge must be priced by the profile: a missing one is a
        // configuration error, never a silent zero.
        for p in switch_seq
            .iter()
            .chain(&switch_seq_slowpath)
            .chain(&thread_switch_seq)
            .chain(&cfg.trap_entry)
            .chain(&cfg.trap_exit)
            .chain(&skim_entry)
            .chain(&skim_exit)
        {
            if cost.try_price_primitive(*p).is_none() {
                return Err(KernelError::Invalid(format!(
                    "profile `{}` does not price `{}`, which the {} kernel uses on {}",
                    cost.profile().name,
                    p.key(),
                    cfg.preset.name,
                    cfg.arch
                )));
            }
        }
        if cfg.kernel_image_bytes >= cfg.ram_size {
            return Err(KernelError::Invalid("kernel image does not fit in RAM".into()));
        }
        // Lay the kernel's paths out as consecutive text regions, 64-byte aligned, so the
        // instruction-cache model sees their footprint.
        let mut text = Vec::new();
        let mut off = align_up(cfg.text_offset, 64);
        // Instructions the skim window and FPU switching add to a step.
        let added = |id: StepId| -> Option<simcore::InsnMix> {
            let deltas = [
                skim.as_ref().and_then(|w| w.steps.get(id.name())),
                fpu.as_ref().and_then(|f| f.steps.get(id.name())),
            ];
            deltas.into_iter().flatten().map(|st| st.mix()).reduce(|a, b| a.plus(&b))
        };
        for id in StepId::ALL {
            let n = paths.step(id).mix().instructions() + added(id).map_or(0, |m| m.instructions());
            let bytes = u64::from(n) * u64::from(cfg.insn_bytes.max(1));
            text.push((cfg.ram_base.offset(off), bytes));
            off = align_up(off + bytes.max(4), 64);
        }
        if off > cfg.kernel_image_bytes {
            return Err(KernelError::Invalid("kernel text larger than the reserved kernel image".into()));
        }
        // A step given as an EPIC group schedule is priced by its groups and exposed stalls.
        let group_cycles = cost.profile().insn("instruction_group");
        let mut step_price = Vec::with_capacity(StepId::ALL.len());
        for id in StepId::ALL {
            let st = paths.step(id);
            let base = if st.groups > 0 {
                let g = group_cycles.ok_or_else(|| {
                    KernelError::Invalid(format!(
                        "kernel preset {} gives {} as instruction groups, which profile `{}` does not price \
                         (insn.instruction_group)",
                        cfg.preset.name,
                        id.name(),
                        cost.profile().name
                    ))
                })?;
                f64::from(st.groups) * g + f64::from(st.stall_cycles)
            } else {
                cost.price_step(&st.mix(), st.load_chain.unwrap_or(0))
            };
            step_price.push(base + added(id).map_or(0.0, |m| cost.price_mix(&m)));
        }
        // Without PCIDs every skim-window page-table switch flushes the whole TLB (kernel and user
        // entries alike: nothing is global with the skim window).
        let skim_flush = skim.is_some() && !cost.tlb_tagged();
        let mut cost = cost;
        if design.address_spaces != AddressSpaces::PageTable {
            // Small spaces and FASS relocate every space to its own part of the (modified) virtual
            // address space, so TLB entries and virtually tagged cache lines of different spaces
            // never alias and a switch keeps them.
            cost.set_tlb_tagged(true);
            cost.set_space_tagged_caches(true);
        }
        let layout = ObjectLayout::for_word_bytes(cfg.abi.word_bytes);
        // The primitives of an entry or exit that move user-visible state (the hardware says which)
        // are state save and restore; the rest is the mode switch itself.
        let (entry_state, trap_entry): (Vec<Primitive>, Vec<Primitive>) =
            cfg.trap_entry.iter().partition(|p| p.moves_user_state());
        let (exit_state, trap_exit): (Vec<Primitive>, Vec<Primitive>) =
            cfg.trap_exit.iter().partition(|p| p.moves_user_state());
        let tcb_array_base = align_up(cfg.geometry.kernel_base + cfg.ram_size, 1 << 22);
        Ok(Kernel {
            step_price,
            op_branches: paths.op_branches.count,
            cost,
            abi: cfg.abi,
            geo: cfg.geometry,
            switch_seq,
            switch_seq_slowpath,
            thread_switch_seq,
            layout,
            trap_entry,
            entry_state,
            trap_exit,
            exit_state,
            skim_entry,
            skim_exit,
            skim_flush,
            text,
            ram_base: cfg.ram_base,
            ram_size: cfg.ram_size,
            next_free: cfg.ram_base.0 + cfg.kernel_image_bytes,
            fastpath: cfg.fastpath,
            tcbs: Vec::new(),
            endpoints: Vec::new(),
            ntfns: Vec::new(),
            cnodes: Vec::new(),
            vspaces: Vec::new(),
            frames: Vec::new(),
            sched: sched::Scheduler::new(),
            current: None,
            active_vspace: None,
            events: Vec::new(),
            stats: KernelStats::default(),
            preset_name: cfg.preset.name.clone(),
            design,
            tcb_array_base,
            check_invariants: cfg.check_invariants,
            violation: None,
            isa: cfg.isa.clone(),
            finalising: Vec::new(),
            untypeds: Vec::new(),
            dead: Default::default(),
            page_tables: Vec::new(),
            asid_pools: Vec::new(),
            asid_table: Vec::new(),
            vm_generation: 0,
            irq: irq::Interrupts::new(if cfg.isa == "x86_64" { irq::PC99 } else { irq::IMX6 }),
            work_units: 0,
            preempted: false,
        })
    }

    // ---- construction (what a root task or the system builder does) ----

    /// Allocates `bytes` of simulated physical memory aligned to `align` (a power of two).
    pub fn alloc_phys(&mut self, bytes: u64, align: u64) -> Result<PAddr, KernelError> {
        let align = align.max(1).next_power_of_two();
        let start = align_up(self.next_free, align);
        let end = self.ram_base.0 + self.ram_size;
        if start.checked_add(bytes).is_none_or(|e| e > end) {
            return Err(KernelError::OutOfMemory { needed: bytes, left: end.saturating_sub(self.next_free) });
        }
        self.next_free = start + bytes;
        Ok(PAddr(start))
    }

    /// Creates an endpoint.
    pub fn create_endpoint(&mut self) -> Result<EpId, KernelError> {
        let paddr = self.alloc_phys(self.layout.ep_bytes, self.layout.ep_bytes)?;
        Ok(self.new_endpoint(paddr))
    }

    /// An idle endpoint at `paddr` (memory already set aside for it).
    pub(crate) fn new_endpoint(&mut self, paddr: PAddr) -> EpId {
        self.endpoints.push(Endpoint { paddr, state: EpState::Idle, queue: Default::default() });
        EpId((self.endpoints.len() - 1) as u32)
    }

    /// An idle, unbound notification at `paddr`.
    pub(crate) fn new_notification(&mut self, paddr: PAddr) -> NtfnId {
        self.ntfns.push(Notification {
            paddr,
            state: NtfnState::Idle,
            word: 0,
            queue: Default::default(),
            bound_tcb: None,
        });
        NtfnId((self.ntfns.len() - 1) as u32)
    }

    /// An empty CNode of 2^radix_bits slots at `paddr`.
    pub(crate) fn new_cnode(&mut self, paddr: PAddr, radix_bits: u8) -> CNodeId {
        self.cnodes.push(CNode {
            paddr,
            slot_bytes: self.layout.cte_bytes,
            radix_bits,
            slots: vec![Cap::Null; 1usize << radix_bits],
            mdb: vec![Default::default(); 1usize << radix_bits],
        });
        CNodeId((self.cnodes.len() - 1) as u32)
    }

    /// Creates a notification.
    pub fn create_notification(&mut self) -> Result<NtfnId, KernelError> {
        let paddr = self.alloc_phys(self.layout.ntfn_bytes, self.layout.ntfn_bytes)?;
        Ok(self.new_notification(paddr))
    }

    /// Binds a notification to a thread (seL4_TCB_BindNotification). Each may be bound once.
    pub fn bind_notification(&mut self, t: TcbId, n: NtfnId) -> Result<(), KernelError> {
        let (Some(tcb), Some(ntfn)) = (self.tcbs.get(t.0 as usize), self.ntfns.get(n.0 as usize)) else {
            return Err(KernelError::Invalid("no such thread or notification".into()));
        };
        if tcb.bound_ntfn.is_some() || ntfn.bound_tcb.is_some() {
            return Err(KernelError::Invalid("the thread or the notification is already bound".into()));
        }
        self.tcbs[t.0 as usize].bound_ntfn = Some(n);
        self.ntfns[n.0 as usize].bound_tcb = Some(t);
        Ok(())
    }

    /// Creates a CNode of 2^radix_bits slots.
    pub fn create_cnode(&mut self, radix_bits: u8) -> Result<CNodeId, KernelError> {
        if radix_bits == 0 || radix_bits > 16 {
            return Err(KernelError::Invalid(format!("CNode radix {radix_bits} not in 1..=16")));
        }
        let bytes = (1u64 << radix_bits) * self.layout.cte_bytes;
        let paddr = self.alloc_phys(bytes, bytes)?;
        Ok(self.new_cnode(paddr, radix_bits))
    }

    /// Puts `cap` into the empty slot `index` of `cnode`, as boot or a system loader does: the
    /// first capability to an object is an original in the derivation tree, later ones are its
    /// copies. A capability that names no object of its type, or a full slot, is refused. The
    /// first IRQ control or IRQ handler capability also makes the IRQ node (kernel memory for
    /// the notifications IRQs signal), which can fail with OutOfMemory once memory is claimed.
    pub fn set_cap(&mut self, cnode: CNodeId, index: usize, cap: Cap) -> Result<(), KernelError> {
        if let Some(why) = self.dangling(&cap) {
            return Err(KernelError::Invalid(format!("a {} that names no {why}", cap.type_name())));
        }
        let slot = cspace::SlotRef { cnode, index };
        match self.cnodes.get(cnode.0 as usize).and_then(|c| c.slots.get(index)) {
            None => return Err(KernelError::Invalid(format!("no slot {index} in CNode {}", cnode.0))),
            Some(Cap::Null) => {}
            Some(_) => {
                return Err(KernelError::Invalid(format!("slot {index} of CNode {} is not empty", cnode.0)))
            }
        }
        // IRQ handlers keep their notifications in the IRQ node, made with the first capability
        // that can reach it (seL4 makes it at boot, with the IRQ control capability).
        if matches!(cap, Cap::IrqControl | Cap::IrqHandler { .. }) {
            self.ensure_irq_node()?;
        }
        self.install_cap(cap, slot);
        Ok(())
    }

    /// The capability in slot `index` of `cnode`.
    pub fn cap(&self, cnode: CNodeId, index: usize) -> Option<Cap> {
        self.cnodes.get(cnode.0 as usize)?.slots.get(index).copied()
    }

    /// Creates an empty address space with its own hardware ASID.
    ///
    /// It takes the next free ASID of the initial ASID pool, as the address spaces seL4's boot
    /// and a capDL loader build do.
    pub fn create_vspace(&mut self) -> Result<VSpaceId, KernelError> {
        let asid = u16::try_from(self.vspaces.len() + 1).map_err(|_| KernelError::OutOfAsids)?;
        if asid > 255 {
            return Err(KernelError::OutOfAsids);
        }
        let pool = self.initial_asid_pool();
        let low = self.asid_pools[pool.0 as usize]
            .entries
            .iter()
            .skip(1)
            .position(Option::is_none)
            .map(|i| i + 1)
            .ok_or(KernelError::OutOfAsids)?;
        let bytes = self.geo.root_table_bytes();
        let paddr = self.alloc_phys(bytes, bytes.max(4096))?;
        let id = VSpaceId(self.vspaces.len() as u32);
        self.vspaces.push(VSpace::new(&self.geo, paddr, Asid(asid), Some(low as u64)));
        self.asid_pools[pool.0 as usize].entries[low] = Some(id);
        Ok(id)
    }

    /// Allocates a 4 KiB frame of user memory.
    pub fn create_frame(&mut self) -> Result<FrameId, KernelError> {
        let size = 1u64 << self.geo.page_bits;
        let paddr = self.alloc_phys(size, size)?;
        self.frames.push(Frame { paddr, size_bits: self.geo.page_bits as u8, device: false });
        Ok(FrameId((self.frames.len() - 1) as u32))
    }

    /// The physical address of a frame.
    pub fn frame_paddr(&self, f: FrameId) -> Option<PAddr> {
        self.frames.get(f.0 as usize).map(|f| f.paddr)
    }

    /// Maps `frame` at `va` in `vs` with `rights`, creating the second-level table if needed.
    pub fn map_frame(
        &mut self,
        vs: VSpaceId,
        va: u64,
        frame: FrameId,
        rights: VmRights,
    ) -> Result<(), KernelError> {
        let paddr = self.frame_paddr(frame).ok_or_else(|| KernelError::Invalid("no such frame".into()))?;
        self.map_paddr(vs, va, paddr, rights, true)
    }

    /// Maps physical page `paddr` at `va` (user or kernel-only).
    pub fn map_paddr(
        &mut self,
        vs: VSpaceId,
        va: u64,
        paddr: PAddr,
        rights: VmRights,
        user: bool,
    ) -> Result<(), KernelError> {
        let geo = self.geo;
        if self.vspaces.get(vs.0 as usize).is_none() {
            return Err(KernelError::Invalid("no such vspace".into()));
        }
        while let Some(level) = self.vspaces[vs.0 as usize].missing_level(&geo, va) {
            let bytes = geo.table_bytes(level);
            let t = self.alloc_phys(bytes, bytes)?;
            self.vspaces[vs.0 as usize].add_table(&geo, va, level, t, None)?;
        }
        self.vspaces[vs.0 as usize].map(
            &geo,
            va,
            Mapping { paddr, rights, user, size_bits: geo.page_bits as u8 },
        )?;
        Ok(())
    }

    /// Creates a thread (inactive until [`Kernel::resume`]).
    pub fn create_tcb(
        &mut self,
        name: &str,
        cspace_root: Cap,
        vspace: VSpaceId,
        priority: u8,
    ) -> Result<TcbId, KernelError> {
        if !matches!(cspace_root, Cap::CNode { .. }) {
            return Err(KernelError::Invalid("a thread's CSpace root must be a CNode capability".into()));
        }
        if vspace.0 as usize >= self.vspaces.len() {
            return Err(KernelError::Invalid("no such vspace".into()));
        }
        let paddr = self.alloc_phys(self.layout.tcb_bytes, self.layout.tcb_bytes)?;
        let t = self.new_tcb(
            paddr,
            name,
            cspace_root,
            Cap::VSpace { vspace },
            priority,
            crate::abi::MAX_PRIO as u8,
        );
        Ok(t)
    }

    /// An inactive thread at `paddr` with the given roots, priority and maximum controlled
    /// priority (a thread-ID kernel also gets its receive queue in the TCB).
    pub(crate) fn new_tcb(
        &mut self,
        paddr: PAddr,
        name: &str,
        cspace_root: Cap,
        vspace_root: Cap,
        priority: u8,
        mcp: u8,
    ) -> TcbId {
        let mut context = UserContext::default();
        context.set(self.abi.flags, self.abi.initial_flags);
        self.tcbs.push(Tcb {
            paddr,
            name: name.to_string(),
            context,
            state: ThreadState::Inactive,
            priority,
            cspace_root,
            vspace_root,
            caller: Cap::Null,
            ipc_buffer: VAddr(0),
            fault_handler: 0,
            fault: None,
            queued: false,
            restart_pc: 0,
            time_slice: self.irq.time_slice,
            own_ep: None,
            bound_ntfn: None,
            mcp,
        });
        let t = TcbId((self.tcbs.len() - 1) as u32);
        if self.design.ipc_target == IpcTarget::ThreadId {
            // The thread's receive queue lives in its TCB (no separate object).
            let q = self.new_endpoint(paddr.offset(self.layout.tcb_queue));
            self.tcbs[t.0 as usize].own_ep = Some(q);
        }
        t
    }

    /// A thread's ID in a thread-ID kernel (design `ipc_target = "thread_id"`): what its IPC
    /// partners pass as the destination. `None` in a capability kernel.
    pub fn thread_id(&self, t: TcbId) -> Option<u64> {
        (self.design.ipc_target == IpcTarget::ThreadId && (t.0 as usize) < self.tcbs.len())
            .then(|| u64::from(t.0) + 1)
    }

    /// The thread a thread ID names, if any.
    pub(crate) fn thread_by_id(&self, id: u64) -> Option<TcbId> {
        let i = id.checked_sub(1)?;
        (i < self.tcbs.len() as u64).then_some(TcbId(i as u32))
    }

    /// What an IPC from `cur` naming thread ID `id` reaches in a thread-ID kernel: the destination
    /// thread, its receive queue and the badge the receiver gets (the sender's ID). Nothing is
    /// charged (see [`Kernel::charge_thread_id_lookup`]).
    pub(crate) fn thread_target(&self, cur: TcbId, id: u64) -> Option<(TcbId, EpId, u64)> {
        let dest = self.thread_by_id(id)?;
        let ep = self.tcbs[dest.0 as usize].own_ep?;
        Some((dest, ep, self.thread_id(cur).unwrap_or(0)))
    }

    /// A thread-ID lookup: the lookup step, and the destination's TCB read through the virtual TCB
    /// array (its own kernel virtual region, so the access can miss in the TLB).
    pub(crate) fn charge_thread_id_lookup(&mut self, dest: TcbId) {
        self.charge_step(StepId::ThreadIdLookup, Category::KernelPath);
        let pa = self.tcbs[dest.0 as usize].paddr;
        let va = VAddr(self.tcb_array_base + u64::from(dest.0 + 1) * self.layout.tcb_bytes);
        self.kernel_access(va, pa.offset(self.layout.tcb_state), 8, false);
    }

    /// Timeouts (design `timeouts = true`): the IPC's timeout word examined; every experiment
    /// uses infinite timeouts, so no wakeup-queue operation follows.
    pub(crate) fn charge_timeout_check(&mut self, t: TcbId) {
        if self.design.timeouts {
            self.charge_step(StepId::TimeoutCheck, Category::KernelPath);
            self.touch_tcb(t, self.layout.tcb_state, 8);
        }
    }

    /// Sets a thread's IPC buffer address (seL4_TCB_SetIPCBuffer).
    pub fn set_ipc_buffer(&mut self, t: TcbId, va: VAddr) -> Result<(), KernelError> {
        self.tcb_checked(t)?.ipc_buffer = va;
        Ok(())
    }

    /// Sets a thread's fault-handler capability pointer (0 = none).
    pub fn set_fault_handler(&mut self, t: TcbId, cptr: u64) -> Result<(), KernelError> {
        self.tcb_checked(t)?.fault_handler = cptr;
        Ok(())
    }

    fn tcb_checked(&mut self, t: TcbId) -> Result<&mut Tcb, KernelError> {
        self.tcbs.get_mut(t.0 as usize).ok_or_else(|| KernelError::Invalid(format!("no thread {}", t.0)))
    }

    /// Makes a thread runnable (seL4_TCB_Resume).
    pub fn resume(&mut self, t: TcbId) -> Result<(), KernelError> {
        let tcb = self.tcb_checked(t)?;
        if tcb.state == ThreadState::Inactive {
            tcb.state = ThreadState::Running;
            self.sched.enqueue(&mut self.tcbs, t);
        }
        Ok(())
    }

    /// Chooses the first thread to run, as the kernel does at the end of boot.
    pub fn start(&mut self) -> Resume {
        self.sched.action = SchedulerAction::ChooseNewThread;
        self.schedule();
        match self.current {
            Some(t) => {
                self.note_switch(t, false);
                Resume::Thread(t)
            }
            None => Resume::Idle,
        }
    }

    // ---- what the backend reads ----

    /// The running thread (None = idle).
    pub fn current(&self) -> Option<TcbId> {
        self.current
    }

    /// A thread.
    pub fn tcb(&self, t: TcbId) -> Option<&Tcb> {
        self.tcbs.get(t.0 as usize)
    }

    /// A thread's saved registers, for the backend to save into and load from.
    pub fn context_mut(&mut self, t: TcbId) -> Option<&mut UserContext> {
        self.tcbs.get_mut(t.0 as usize).map(|t| &mut t.context)
    }

    /// Every thread, in creation order.
    pub fn threads(&self) -> impl Iterator<Item = (TcbId, &Tcb)> {
        self.tcbs.iter().enumerate().map(|(i, t)| (TcbId(i as u32), t))
    }

    /// The address space a thread runs in.
    pub fn vspace_of(&self, t: TcbId) -> Option<VSpaceId> {
        match self.tcbs.get(t.0 as usize)?.vspace_root {
            Cap::VSpace { vspace } => Some(vspace),
            _ => None,
        }
    }

    /// Every address space, in creation order (for backends that write page tables out).
    pub fn vspaces(&self) -> impl Iterator<Item = &VSpace> {
        self.vspaces.iter()
    }

    /// One address space.
    pub fn vspace(&self, vs: VSpaceId) -> Option<&VSpace> {
        self.vspaces.get(vs.0 as usize)
    }

    /// The hardware ASID of an address space.
    pub fn asid_of(&self, vs: VSpaceId) -> Option<Asid> {
        self.vspaces.get(vs.0 as usize).map(|v| v.asid)
    }

    /// Translates `va` in `vs` through the kernel's page-table objects.
    ///
    /// An address space without a valid ASID (its pool or its ASID deleted) has no user mappings:
    /// seL4 runs its threads on the kernel's global page table.
    pub fn translate(&self, vs: VSpaceId, va: u64) -> Option<Translation> {
        if va < self.geo.kernel_base && !self.vspace_live(vs) {
            return None;
        }
        self.vspaces.get(vs.0 as usize)?.translate(&self.geo, (self.ram_base.0, self.ram_size), va)
    }

    /// The level (0: the top) at which a hardware walk of `va` in `vs` ends, at its page or at
    /// the empty entry that stops it (a root without a valid ASID: 0, as seL4's global table
    /// maps no user address). Fault status codes that name the level (ARM's section and page
    /// faults) come from it.
    pub fn walk_level(&self, vs: VSpaceId, va: u64) -> usize {
        if va < self.geo.kernel_base && !self.vspace_live(vs) {
            return 0;
        }
        self.vspaces.get(vs.0 as usize).map_or(0, |v| v.walk_level(&self.geo, va))
    }

    /// Whether `vs` is a valid VSpace root now (an ASID its pool maps to it): only then does the
    /// hardware walk its tables for user addresses.
    pub fn vspace_is_live(&self, vs: VSpaceId) -> bool {
        self.vspace_live(vs)
    }

    /// The descriptors a hardware walk of `va` in `vs` reads.
    pub fn walk_path(&self, vs: VSpaceId, va: u64) -> simcore::WalkPath {
        self.vspaces.get(vs.0 as usize).map(|v| v.walk_path(&self.geo, va)).unwrap_or_default()
    }

    /// The page-table geometry.
    pub fn geometry(&self) -> &VSpaceGeometry {
        &self.geo
    }

    /// The register ABI.
    pub fn abi(&self) -> &RegisterAbi {
        &self.abi
    }

    /// A user instruction fetch of `bytes` at `va` in `vs` (physically `pa`) through the instruction
    /// TLB and cache; the walk is computed only on a TLB miss.
    pub fn user_fetch(&mut self, vs: VSpaceId, va: VAddr, pa: PAddr, bytes: u64) {
        let Kernel { cost, vspaces, geo, .. } = self;
        let v = vspaces.get(vs.0 as usize);
        let mut walk = || v.map(|v| v.walk_path(geo, va.0)).unwrap_or_default();
        cost.fetch(va, pa, bytes, false, &mut walk);
    }

    /// The cost model (ledger, caches, TLBs).
    pub fn cost(&self) -> &CostModel {
        &self.cost
    }

    /// The cost model, for the backend to charge user execution.
    pub fn cost_mut(&mut self) -> &mut CostModel {
        &mut self.cost
    }

    /// What happened so far (faults, debug output).
    pub fn events(&self) -> &[KernelEvent] {
        &self.events
    }

    /// Path counters.
    pub fn stats(&self) -> KernelStats {
        self.stats
    }

    /// The privileged primitives a fastpath IPC issues: kernel entry and exit (with the state they
    /// move), the fastpath's address-space switch and the thread-switch sequence.
    pub fn ipc_primitives(&self) -> Vec<Primitive> {
        let mut v: Vec<Primitive> = [
            &self.trap_entry,
            &self.entry_state,
            &self.trap_exit,
            &self.exit_state,
            &self.switch_seq,
            &self.thread_switch_seq,
            &self.skim_entry,
            &self.skim_exit,
        ]
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
        v.sort_by_key(|p| p.key());
        v.dedup();
        v
    }

    /// The design choices the kernel runs with (the preset's, seL4's by default).
    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The preset's name.
    pub fn preset_name(&self) -> &str {
        &self.preset_name
    }

    /// Whether the fastpath is enabled.
    pub fn fastpath_enabled(&self) -> bool {
        self.fastpath
    }

    /// Physical RAM as (base, size).
    pub fn ram(&self) -> (PAddr, u64) {
        (self.ram_base, self.ram_size)
    }

    // ---- pricing helpers used by every path ----

    /// Charges one preset step to `cat`, and fetches its text through the instruction cache.
    pub(crate) fn charge_step(&mut self, id: StepId, cat: Category) {
        self.cost.charge_as(cat, Cycles::from_f64(self.step_price[id as usize]), || {
            format!("kernel: {}", id.name())
        });
        let (pa, bytes) = self.text[id as usize];
        if bytes > 0 {
            let va = VAddr(self.geo.kernel_base + (pa.0 - self.ram_base.0));
            self.kernel_fetch(va, pa, bytes);
        }
    }

    /// Resolves the preset's operation-dependent branches (`op_branches`) for a fastpath Call
    /// (`call` true: taken) or ReplyRecv (not taken) in the branch predictor, charging any
    /// misprediction to the kernel path.
    pub(crate) fn charge_op_branches(&mut self, call: bool) {
        for site in 0..self.op_branches as usize {
            // Branch sites are numbered by the kernel: these are the only ones it resolves.
            self.cost.branch(Category::KernelPath, site, call);
        }
    }

    /// Charges a step `n` times (e.g. per message register).
    pub(crate) fn charge_step_n(&mut self, id: StepId, cat: Category, n: u32) {
        if n == 0 {
            return;
        }
        self.cost.charge_as(cat, Cycles::from_f64(self.step_price[id as usize] * f64::from(n)), || {
            format!("kernel: {} x {n}", id.name())
        });
        let (pa, bytes) = self.text[id as usize];
        if bytes > 0 {
            let va = VAddr(self.geo.kernel_base + (pa.0 - self.ram_base.0));
            self.kernel_fetch(va, pa, bytes);
        }
    }

    fn kernel_va(&self, pa: PAddr) -> VAddr {
        VAddr(self.geo.kernel_base + pa.0.saturating_sub(self.ram_base.0))
    }

    /// A kernel access through the kernel window: the page-table walk (from the active address
    /// space's top-level table) is only computed if the TLBs miss.
    fn kernel_access(&mut self, va: VAddr, pa: PAddr, bytes: u64, instr: bool) {
        let Kernel { cost, vspaces, geo, active_vspace, .. } = self;
        let vs = active_vspace.and_then(|v| vspaces.get(v.0 as usize));
        let mut walk = || vs.map(|v| v.walk_path(geo, va.0)).unwrap_or_default();
        if instr {
            cost.fetch(va, pa, bytes, true, &mut walk);
        } else {
            cost.data(va, pa, bytes, true, &mut walk);
        }
    }

    fn kernel_fetch(&mut self, va: VAddr, pa: PAddr, bytes: u64) {
        self.kernel_access(va, pa, bytes, true);
    }

    /// A kernel data access to `bytes` at physical `pa` (through the kernel window).
    pub(crate) fn touch(&mut self, pa: PAddr, bytes: u64) {
        let va = self.kernel_va(pa);
        self.kernel_access(va, pa, bytes, false);
    }

    /// Touches a field of a TCB.
    pub(crate) fn touch_tcb(&mut self, t: TcbId, offset: u64, bytes: u64) {
        if let Some(pa) = self.tcbs.get(t.0 as usize).map(|x| x.paddr) {
            self.touch(pa.offset(offset), bytes);
        }
    }

    /// The skim window's page-table switch after a kernel entry (`exit` false) or before the
    /// return (`exit` true), with its TLB flush where there are no PCIDs.
    pub(crate) fn charge_skim(&mut self, exit: bool) {
        let seq = if exit { &self.skim_exit } else { &self.skim_entry };
        if seq.is_empty() {
            return;
        }
        self.cost.primitives(Category::AddressSpaceSwitch, seq);
        if self.skim_flush {
            self.cost.flush_tlbs();
        }
    }

    /// A process kernel (design `kernel_stack = "per_thread"`) leaving into another thread switches
    /// to that thread's kernel stack, at the top of its TCB block.
    pub(crate) fn charge_stack_switch(&mut self, next: TcbId) {
        if self.design.kernel_stack == KernelStack::PerThread {
            self.charge_step(StepId::StackSwitch, Category::KernelPath);
            let top = self.layout.tcb_bytes - 64;
            self.touch_tcb(next, top, 64);
        }
    }

    /// Bytes of the saved register file.
    pub(crate) fn regs_bytes(&self) -> u64 {
        u64::from(self.abi.saved_registers) * u64::from(self.abi.word_bytes)
    }

    /// Records a switch of the running thread: the address-space switch sequence (the fastpath's or
    /// the slowpath's), the new ASID, and the ledger's thread attribution.
    pub(crate) fn note_switch(&mut self, t: TcbId, fastpath: bool) {
        let vs = self.vspace_of(t);
        if vs != self.active_vspace || self.cost.ledger().thread() != Some(t.0) {
            self.stats.switches += 1;
        }
        if let Some(vs) = vs {
            if Some(vs) != self.active_vspace {
                let Kernel { cost, switch_seq, switch_seq_slowpath, .. } = self;
                let seq = if fastpath { switch_seq } else { switch_seq_slowpath };
                cost.primitives(Category::AddressSpaceSwitch, seq);
                // The hardware walks from the new page directory from now on; seL4 also reads the
                // stored hardware ASID from it.
                // seL4 keeps the hardware ASID in the page directory's last entries.
                let pd = self.vspaces[vs.0 as usize].paddr.offset(self.geo.root_table_bytes() - 64);
                self.touch(pd, u64::from(self.abi.word_bytes));
                let asid = self.vspaces[vs.0 as usize].asid;
                self.cost.set_asid(asid);
                self.active_vspace = Some(vs);
            }
        }
        self.cost.set_thread(Some(t.0));
    }
}

#[cfg(test)]
mod tests;
