//! Building and running a system: threads from ELF images in their own address spaces,
//! endpoints, capabilities with badges and rights — the library API a researcher embeds.
//!
//! ```no_run
//! use l4sim::system::{System, SystemConfig, ThreadSpec, CapSpec};
//! use l4sim::kernel::types::Rights;
//! let mut sys = System::new(SystemConfig::builtin("armv7", "cortex-a9", "sel4")?)?;
//! let ep = sys.endpoint()?;
//! let elf = l4sim::builtin::guest("armv7", "pingpong-server").unwrap();
//! let server = sys.thread(ThreadSpec::new("server", elf).cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }))?;
//! let exit = sys.run(1_000_000)?;
//! # Ok::<(), l4sim::Error>(())
//! ```

use crate::builtin;
pub use crate::machine::RunExit;
use crate::machine::{arch_facts, ArchFacts, GuestEntry, Machine};
use crate::Error;
use kernel::object::{Cap, FrameMapping, FrameRights, VmRights};
use kernel::preset::KernelPreset;
use kernel::types::{EpId, NtfnId, Rights, TcbId, VSpaceId};
use kernel::{Kernel, KernelConfig};
use simcore::elf::{ElfImage, ElfLimits, ElfMachine};
use simcore::{CostModel, PAddr, Profile, VAddr};

/// Everything a system is built from.
#[derive(Clone, Debug)]
pub struct SystemConfig {
    /// Guest architecture (`armv7`).
    pub arch: String,
    /// The microarchitecture profile (hardware facts).
    pub profile: Profile,
    /// The kernel preset (software facts).
    pub preset: KernelPreset,
    /// Use the IPC fastpath.
    pub fastpath: bool,
    /// Simulated RAM in MiB.
    pub ram_mib: u64,
    /// Where the kernel's text starts in its image, in bytes (see
    /// [`kernel::KernelConfig::text_offset`]); 0 by default.
    pub kernel_text_offset: u64,
    /// Check the kernel's invariants after every kernel entry (a broken one stops the run with
    /// [`Error::Invariant`]). On by default in debug builds (so in `cargo test`), off in release
    /// builds, where it would slow long runs; it never changes a cycle.
    pub check_invariants: bool,
    /// The kernel's preemption timer: a tick every so many cycles and a time slice of so many
    /// ticks (seL4's `CONFIG_TIMER_TICK_MS` and `CONFIG_TIME_SLICE`). None (the default): no
    /// ticks, so that a measurement sees no timer interrupts.
    pub timer: Option<(u64, u32)>,
}

impl SystemConfig {
    /// The ISA family whose paths the preset supplies for this configuration's guests.
    fn isa(&self) -> &str {
        crate::machine::isa_of(&self.arch)
    }

    /// Sets one switchable design choice of the preset; turning it on where the preset does not
    /// describe it (`defined` false) is an error, not a silent no-op.
    fn set_design_switch(
        &mut self,
        on: bool,
        defined: bool,
        missing: String,
        set: impl FnOnce(&mut kernel::preset::Design),
    ) -> Result<(), Error> {
        if on && !defined {
            return Err(Error::Unsupported(missing));
        }
        let mut d = self.preset.design();
        if self.preset.design.is_none() {
            d.source = Some("seL4's design choices, with one switched on the command line".into());
        }
        set(&mut d);
        self.preset.design = Some(d);
        Ok(())
    }

    /// Switches FPU-state switching on every thread switch on or off. Turning it on for a preset
    /// that gives no `[fpu_switch]` for the guest ISA is an error.
    pub fn set_fpu_switch(&mut self, on: bool) -> Result<(), Error> {
        let isa = self.isa().to_string();
        let defined = self.preset.fpu_switch.contains_key(&isa);
        let missing = format!(
            "kernel preset `{}` gives no FPU switching on {isa} ([fpu_switch.{isa}])",
            self.preset.name
        );
        self.set_design_switch(on, defined, missing, |d| d.fpu_switch = on)
    }

    /// Switches the preset's x86-64 Meltdown skim window on or off. Turning it on for a guest
    /// ISA for which the preset defines no skim window is an error, not a silent no-op.
    pub fn set_skim_window(&mut self, on: bool) -> Result<(), Error> {
        let isa = self.isa().to_string();
        let defined = self.preset.skim_window.contains_key(&isa);
        let missing = format!(
            "kernel preset `{}` has no skim window on {isa} (it is an x86-64 mechanism of presets that define \
             [skim_window.{isa}])",
            self.preset.name
        );
        self.set_design_switch(on, defined, missing, |d| d.skim_window = on)
    }

    /// A configuration from the built-in profile and preset names.
    pub fn builtin(arch: &str, uarch: &str, kernel: &str) -> Result<SystemConfig, Error> {
        let ptext = builtin::profile(uarch).ok_or_else(|| Error::Unknown {
            what: "microarchitecture profile",
            name: uarch.into(),
            known: builtin::PROFILES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })?;
        let profile = Profile::from_toml(ptext, &format!("built-in profile {uarch}"))?;
        let ktext = builtin::preset(kernel).ok_or_else(|| Error::Unknown {
            what: "kernel preset",
            name: kernel.into(),
            known: builtin::PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })?;
        let preset = KernelPreset::from_toml(ktext, &format!("built-in preset {kernel}"))?;
        Ok(SystemConfig {
            arch: arch.into(),
            profile,
            preset,
            fastpath: true,
            ram_mib: 64,
            kernel_text_offset: 0,
            check_invariants: cfg!(debug_assertions),
            timer: None,
        })
    }
}

/// A capability to put in a thread's CSpace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapSpec {
    /// An endpoint capability.
    Endpoint {
        /// The endpoint.
        ep: EpId,
        /// Its badge.
        badge: u64,
        /// Its rights.
        rights: Rights,
    },
    /// A capability to the thread's own CSpace root CNode (as a root task has).
    OwnCNode,
    /// An untyped region of 2^size_bits bytes, new for this capability (the builder carves it
    /// from RAM, as boot hands untypeds to the root task).
    Untyped {
        /// log2 of its size.
        size_bits: u8,
    },
    /// A thread capability.
    Tcb {
        /// The thread.
        tcb: TcbId,
    },
    /// A capability to the thread being built itself.
    OwnTcb,
    /// A capability to the thread's own address space (its VSpace root), with which it can give
    /// threads it creates the same address space.
    OwnVSpace,
    /// A notification capability.
    Notification {
        /// The notification.
        ntfn: NtfnId,
        /// Its badge (OR-ed into the word by a Signal through it).
        badge: u64,
        /// Its rights (write: Signal; read: Wait, Poll).
        rights: Rights,
    },
}

/// One thread: an ELF image in its own address space, its capabilities and settings.
#[derive(Clone, Debug)]
pub struct ThreadSpec<'a> {
    /// A name for reports.
    pub name: String,
    /// The ELF image.
    pub elf: &'a [u8],
    /// Priority 0..=255.
    pub priority: u8,
    /// (slot, capability) pairs for its CSpace (a single-level CNode of 256 slots, 24-bit guard).
    pub caps: Vec<(usize, CapSpec)>,
    /// 32/64-bit words to patch into the image before loading: (symbol, value).
    pub patches: Vec<(String, u64)>,
    /// Fault handler capability pointer (0 = none).
    pub fault_handler: u64,
    /// The symbol the thread starts at (`None`: the ELF's entry point).
    pub entry: Option<String>,
    /// A notification bound to the thread (seL4_TCB_BindNotification).
    pub bound_notification: Option<NtfnId>,
    /// Start it as seL4 starts its root task (see [`ThreadSpec::root_task`]).
    pub root_task: bool,
}

impl<'a> ThreadSpec<'a> {
    /// A thread of priority 100 with no capabilities.
    pub fn new(name: &str, elf: &'a [u8]) -> ThreadSpec<'a> {
        ThreadSpec {
            name: name.into(),
            elf,
            priority: 100,
            caps: vec![],
            patches: vec![],
            fault_handler: 0,
            entry: None,
            bound_notification: None,
            root_task: false,
        }
    }

    /// Adds a capability at `slot`.
    pub fn cap(mut self, slot: usize, cap: CapSpec) -> Self {
        self.caps.push((slot, cap));
        self
    }

    /// Patches the word at `symbol`.
    pub fn patch(mut self, symbol: &str, value: u64) -> Self {
        self.patches.push((symbol.into(), value));
        self
    }

    /// Starts the thread at `symbol` instead of the ELF's entry point (several threads of one
    /// program, each in its own address space).
    pub fn entry(mut self, symbol: &str) -> Self {
        self.entry = Some(symbol.into());
        self
    }

    /// Binds a notification to the thread: a Signal then also wakes it from an endpoint Recv.
    pub fn bind_notification(mut self, ntfn: NtfnId) -> Self {
        self.bound_notification = Some(ntfn);
        self
    }

    /// Starts the thread as seL4 starts its root task: priority and MCP 255, a root CNode of
    /// 2^12 slots (guard of the rest of the word) holding the initial capabilities in seL4's slots
    /// (1 its TCB, 2 the CNode, 3 its VSpace, 4 IRQ control, 5 ASID control, 6 its ASID pool,
    /// 9 the boot-information frame, 10 its IPC buffer frame; the I/O and domain capabilities are
    /// not modelled and stay empty), from slot 16 a capability per page table of its address
    /// space and then per page of its image, all mapped, then an untyped capability per
    /// block of all remaining RAM and a device untyped per device (the timer's page);
    /// `seL4_BootInfo` in a frame mapped after its image, whose
    /// address it finds in its first argument register (r0 / rdi). It must be the last thing
    /// built: it owns all memory left. Capabilities given with [`ThreadSpec::cap`] are refused.
    pub fn root_task(mut self) -> Self {
        self.root_task = true;
        self.priority = 255;
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = p;
        self
    }

    /// Sets the fault handler capability pointer.
    pub fn fault_handler(mut self, cptr: u64) -> Self {
        self.fault_handler = cptr;
        self
    }
}

/// A thread's loaded image: what the host needs to read its memory back.
#[derive(Clone, Debug)]
pub struct LoadedThread {
    /// The kernel's TCB.
    pub tcb: TcbId,
    /// Its address space.
    pub vspace: VSpaceId,
    /// The parsed image (symbols).
    pub image: ElfImage,
}

/// A simulated system.
#[derive(Debug)]
pub struct System {
    config: SystemConfig,
    facts: ArchFacts,
    machine: Machine,
    threads: Vec<LoadedThread>,
    /// The root task took all remaining memory.
    sealed: bool,
}

const CNODE_RADIX: u8 = 8;
/// CONFIG_ROOT_CNODE_SIZE_BITS (seL4's default).
const ROOT_CNODE_RADIX: u8 = 12;
/// seL4_NumInitialCaps: the first slot after the fixed initial capabilities.
const NUM_INITIAL_CAPS: usize = 16;
/// CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS.
const MAX_BOOTINFO_UNTYPEDS: usize = 230;

impl System {
    /// An empty system.
    pub fn new(config: SystemConfig) -> Result<System, Error> {
        let arch = config.arch.as_str();
        let facts = arch_facts(arch, &config.profile, &config.preset)?;
        if !config.profile.guest_arches().iter().any(|g| g == arch) {
            return Err(Error::Unsupported(format!(
                "profile `{}` models a {} core that does not run {arch} guests (it runs: {})",
                config.profile.name,
                config.profile.arch,
                config.profile.guest_arches().join(", ")
            )));
        }
        let ram_size = config.ram_mib.clamp(4, 1024) << 20;
        let kcfg = KernelConfig {
            abi: facts.abi,
            geometry: facts.geometry,
            isa: facts.isa.into(),
            arch: arch.into(),
            insn_bytes: 4,
            preset: config.preset.clone(),
            ram_base: PAddr(0x1000_0000),
            ram_size,
            kernel_image_bytes: 1 << 20,
            text_offset: config.kernel_text_offset,
            fastpath: config.fastpath,
            trap_entry: facts.trap.0.clone(),
            trap_exit: facts.trap.1.clone(),
            check_invariants: config.check_invariants,
        };
        let mut cost = CostModel::new(config.profile.clone());
        // x86: global kernel entries and PCID-tagged user entries need the CPU feature and a
        // kernel that uses it; the emulated page tables follow the same choice.
        let f = &config.profile.features;
        let uses = config.preset.x86_paging(facts.isa);
        let paging = isa_x86::Paging { global_kernel: f.global_pages && uses.global_kernel, nx: f.nx };
        if config.profile.family() == Some(simcore::Family::X86) {
            cost.set_global_pages(paging.global_kernel);
            cost.set_tlb_tagged(f.pcid && uses.pcid);
        }
        let mut kernel = Kernel::new(kcfg, cost)?;
        if let Some((period, slice)) = config.timer {
            if period == 0 || slice == 0 {
                return Err(Error::Invalid("a timer tick and a time slice must be at least 1".into()));
            }
            kernel.set_timer(period, slice);
        }
        let machine = Machine::new(kernel, &config.profile.unicorn_cpu, arch, facts.entry, paging)?;
        Ok(System { config, machine, threads: vec![], facts, sealed: false })
    }

    /// The configuration.
    pub fn config(&self) -> &SystemConfig {
        &self.config
    }

    /// How guests enter the kernel on this system (the preset's choice for this CPU).
    pub fn guest_entry(&self) -> GuestEntry {
        self.facts.entry
    }

    /// The ISA family whose kernel paths the preset supplies (`aarch32`, `ia32`, `x86_64`).
    pub fn isa(&self) -> &'static str {
        self.facts.isa
    }

    /// The kernel entry and exit primitives (the preset's choice for this CPU).
    pub fn trap_primitives(&self) -> &(Vec<simcore::Primitive>, Vec<simcore::Primitive>) {
        &self.facts.trap
    }

    /// A built-in guest program in the flavour this system's guests need (e.g. `ia32-int` when
    /// the kernel is entered with `int`).
    pub fn builtin_guest(&self, name: &str) -> Option<&'static [u8]> {
        builtin::guest(&self.facts.entry.guest_dir(&self.config.arch), name)
    }

    /// Creates an endpoint.
    pub fn endpoint(&mut self) -> Result<EpId, Error> {
        self.check_not_sealed()?;
        Ok(self.machine.parts().0.create_endpoint()?)
    }

    fn check_not_sealed(&self) -> Result<(), Error> {
        if self.sealed {
            return Err(Error::Invalid("the root task owns all remaining memory: build it last".into()));
        }
        Ok(())
    }

    /// Creates a notification.
    pub fn notification(&mut self) -> Result<NtfnId, Error> {
        self.check_not_sealed()?;
        Ok(self.machine.parts().0.create_notification()?)
    }

    /// Loads a thread: validates the ELF, maps its segments page by page into a new address space
    /// (text executable, data not), sets its IPC buffer (symbol `ipc_buffer`), stack (`stack_top`),
    /// CSpace and priority, and makes it runnable.
    pub fn thread(&mut self, spec: ThreadSpec<'_>) -> Result<TcbId, Error> {
        self.check_not_sealed()?;
        if spec.root_task && !spec.caps.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: a root task gets seL4's initial capabilities, not chosen ones",
                spec.name
            )));
        }
        let facts = &self.facts;
        let limits = ElfLimits { user_range: (0x1000, facts.geometry.user_top), ..ElfLimits::default() };
        let mut image =
            ElfImage::parse(spec.elf, &limits).map_err(|e| Error::Elf { name: spec.name.clone(), err: e })?;
        let want = match self.config.arch.as_str() {
            "ia32" => ElfMachine::I386,
            "x86_64" => ElfMachine::X86_64,
            _ => ElfMachine::Arm,
        };
        if image.machine != want {
            return Err(Error::Unsupported(format!(
                "{}: a {:?} executable, but the system runs {} guests",
                spec.name, image.machine, self.config.arch
            )));
        }
        for (sym, value) in &spec.patches {
            let s = image
                .symbol(sym)
                .ok_or_else(|| Error::Invalid(format!("{}: no symbol `{sym}` to patch", spec.name)))?;
            // A machine word (4 or 8 bytes, as the symbol's size says).
            let n = if s.size == 8 { 8 } else { 4 };
            let bytes = value.to_le_bytes();
            image.patch(s.value, &bytes[..n]).map_err(|e| Error::Elf { name: spec.name.clone(), err: e })?;
        }
        let (k, ram) = self.machine.parts();
        let vs = k.create_vspace()?;
        let mut image_frames = Vec::new();
        for seg in &image.segments {
            let rights = VmRights { read: seg.read, write: seg.write, exec: seg.exec };
            let first = seg.vaddr & !0xfff;
            let end = seg.vaddr + seg.mem_size;
            let mut page = first;
            while page < end {
                let f = k.create_frame()?;
                k.map_frame(vs, page, f, rights)?;
                image_frames.push((page, f, seg.write));
                let pa = k.frame_paddr(f).ok_or_else(|| Error::Invalid("frame vanished".into()))?;
                // Copy the file-backed bytes that fall into this page (the rest stays zero: bss).
                let file_end = seg.vaddr + seg.data.len() as u64;
                let lo = page.max(seg.vaddr);
                let hi = (page + 4096).min(file_end);
                if lo < hi {
                    let src = &seg.data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize];
                    if !ram.write(PAddr(pa.0 + (lo - page)), src) {
                        return Err(Error::Invalid(format!("{}: segment does not fit in RAM", spec.name)));
                    }
                }
                page += 4096;
            }
        }
        let radix = if spec.root_task { ROOT_CNODE_RADIX } else { CNODE_RADIX };
        let cnode = k.create_cnode(radix)?;
        let word_bits = (facts.abi.word_bytes * 8) as u8;
        let root = Cap::CNode { cnode, guard: 0, guard_bits: word_bits - radix };
        let t = k.create_tcb(&spec.name, root, vs, spec.priority)?;
        for (slot, cap) in &spec.caps {
            let c = match *cap {
                CapSpec::Endpoint { ep, badge, rights } => Cap::Endpoint { ep, badge, rights },
                CapSpec::Notification { ntfn, badge, rights } => Cap::Notification { ntfn, badge, rights },
                CapSpec::Tcb { tcb } => Cap::Tcb { tcb },
                CapSpec::OwnTcb => Cap::Tcb { tcb: t },
                CapSpec::OwnVSpace => Cap::VSpace { vspace: vs },
                CapSpec::OwnCNode => root,
                CapSpec::Untyped { size_bits } => Cap::Untyped { ut: k.create_untyped(size_bits)?, free: 0 },
            };
            k.set_cap(cnode, *slot, c)?;
        }
        if let Some(ipc) = image.symbol("ipc_buffer") {
            if ipc.value & 0xfff != 0 {
                return Err(Error::Invalid(format!("{}: ipc_buffer is not page aligned", spec.name)));
            }
            k.set_ipc_buffer(t, VAddr(ipc.value))?;
        }
        k.set_fault_handler(t, spec.fault_handler)?;
        if let Some(n) = spec.bound_notification {
            k.bind_notification(t, n)?;
        }
        let bootinfo = if spec.root_task {
            let ipc = image.symbol("ipc_buffer").map(|s| s.value);
            let devices = isa_common::devices::Devices::for_isa(facts.isa).infos();
            let image = RootImage { frames: &image_frames, ipc_buffer: ipc, devices: &devices };
            Some(boot_root_task(k, ram, t, cnode, root, vs, &image, facts.abi.word_bytes)?)
        } else {
            None
        };
        let ctx = k.context_mut(t).ok_or_else(|| Error::Invalid("thread vanished".into()))?;
        if let Some(bi) = bootinfo {
            ctx.set(facts.abi.cap_or_badge, bi);
        }
        let pc = match &spec.entry {
            None => image.entry,
            Some(sym) => {
                image
                    .symbol(sym)
                    .ok_or_else(|| Error::Invalid(format!("{}: no entry symbol `{sym}`", spec.name)))?
                    .value
            }
        };
        ctx.set(facts.abi.pc, pc);
        ctx.set(facts.initial_flags.0, facts.initial_flags.1);
        if let Some(sp) = image.symbol("stack_top") {
            ctx.set(facts.abi.sp, sp.value);
        }
        k.resume(t)?;
        self.threads.push(LoadedThread { tcb: t, vspace: vs, image });
        self.sealed |= spec.root_task;
        Ok(t)
    }

    /// Runs until a thread halts, no thread can run, or `max_cycles` simulated cycles in total.
    /// A run the kernel's invariant checker stopped is an [`Error::Invariant`] naming the rule and
    /// the offending state.
    pub fn run(&mut self, max_cycles: u64) -> Result<RunExit, Error> {
        match self.machine.run(max_cycles)? {
            RunExit::KernelStopped => match self.kernel().invariant_violation() {
                Some(v) => Err(Error::Invariant(v.clone())),
                None => Err(Error::Invalid("the kernel stopped the machine without a reason".into())),
            },
            e => Ok(e),
        }
    }

    /// The kernel (ledger, events, threads).
    pub fn kernel(&self) -> &Kernel {
        self.machine.kernel()
    }

    /// A loaded thread.
    pub fn loaded(&self, t: TcbId) -> Option<&LoadedThread> {
        self.threads.iter().find(|l| l.tcb == t)
    }

    /// Reads `count` 32-bit words at `symbol` in thread `t`'s memory.
    pub fn read_words(&self, t: TcbId, symbol: &str, count: usize) -> Result<Vec<u32>, Error> {
        let l = self.loaded(t).ok_or_else(|| Error::Invalid(format!("no thread {}", t.0)))?;
        let s = l.image.symbol(symbol).ok_or_else(|| Error::Invalid(format!("no symbol `{symbol}`")))?;
        let bytes = self
            .machine
            .read_virt(l.vspace, s.value, count * 4)
            .ok_or_else(|| Error::Invalid(format!("`{symbol}` is not mapped")))?;
        Ok(bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// The counter reads the backend recorded: (thread, value, ledger snapshot) in time order.
    pub fn counter_log(&self) -> &[isa_common::CounterRead] {
        self.machine.counter_log()
    }

    /// Records every charge as a trace event (see [`simcore::CostModel::set_tracing`]).
    pub fn set_tracing(&mut self, on: bool) {
        self.machine.parts().0.cost_mut().set_tracing(on);
    }

    /// The trace events recorded so far.
    pub fn take_trace(&mut self) -> Vec<simcore::TraceEvent> {
        self.machine.parts().0.cost_mut().take_trace()
    }

    /// Records every guest cycle-counter read with a ledger snapshot (for breakdowns).
    pub fn record_counter_reads(&mut self, on: bool) {
        self.machine.record_counter_reads(on);
    }
}

/// What boot gives the root task besides memory: its image's frames (virtual address, frame,
/// writable), its IPC buffer's address, and the platform's devices.
struct RootImage<'a> {
    frames: &'a [(u64, kernel::types::FrameId, bool)],
    ipc_buffer: Option<u64>,
    devices: &'a [isa_common::devices::DeviceInfo],
}

/// What seL4's boot does for its root task, after the image is loaded: the initial capabilities
/// in their slots, the image's frames, all remaining memory as untypeds, and `seL4_BootInfo` in a
/// frame mapped after the image (the page after a one-page gap). Returns the boot-information
/// address.
#[allow(clippy::too_many_arguments)]
fn boot_root_task(
    k: &mut kernel::Kernel,
    ram: &mut isa_common::ram::Ram,
    t: TcbId,
    cnode: kernel::types::CNodeId,
    root: Cap,
    vs: VSpaceId,
    image: &RootImage<'_>,
    word_bytes: u32,
) -> Result<u64, Error> {
    let (image_frames, ipc_buffer) = (image.frames, image.ipc_buffer);
    let image_end = image_frames.iter().map(|(va, _, _)| va + 4096).max().unwrap_or(0x10000);
    let bi_va = image_end + 4096;
    let bi_frame = k.create_frame()?;
    k.map_frame(vs, bi_va, bi_frame, VmRights { read: true, write: false, exec: false })?;
    // The fixed initial capabilities (seL4_RootCNodeCapSlots); those of objects l4sim does not
    // have (I/O ports and space, domain) stay empty.
    let frame_cap = |frame, vaddr, writable: bool| Cap::Frame {
        frame,
        rights: if writable { FrameRights::ReadWrite } else { FrameRights::ReadOnly },
        mapped: Some(FrameMapping { vspace: vs, vaddr }),
    };
    k.set_cap(cnode, 1, Cap::Tcb { tcb: t })?;
    k.set_cap(cnode, 2, root)?;
    k.set_cap(cnode, 3, Cap::VSpace { vspace: vs })?;
    k.set_cap(cnode, 4, Cap::IrqControl)?;
    k.set_cap(cnode, 5, Cap::AsidControl)?;
    let pool = k.initial_asid_pool_cap()?;
    k.set_cap(cnode, 6, pool)?;
    k.set_cap(cnode, 9, frame_cap(bi_frame, bi_va, false))?;
    let ipc_frame = ipc_buffer.and_then(|va| image_frames.iter().find(|(p, _, _)| *p == va));
    if let Some((va, f, _)) = ipc_frame {
        k.set_cap(cnode, 10, frame_cap(*f, *va, true))?;
    }
    let mut slot = NUM_INITIAL_CAPS;
    // The paging structures first (userImagePaging), then the image's frames.
    let paging_start = slot;
    for cap in k.adopt_page_tables(vs) {
        k.set_cap(cnode, slot, cap)?;
        slot += 1;
    }
    let paging_end = slot;
    let frames_start = slot;
    for (va, f, w) in image_frames {
        k.set_cap(cnode, slot, frame_cap(*f, *va, *w))?;
        slot += 1;
    }
    let frames_end = slot;
    let room = MAX_BOOTINFO_UNTYPEDS.min((1 << ROOT_CNODE_RADIX) - slot).saturating_sub(image.devices.len());
    let mut untypeds = k.claim_remaining_memory(room);
    // Then the devices' registers, as device untypeds (one page each).
    for d in image.devices {
        untypeds.push(k.create_device_untyped(d.paddr, 12)?);
    }
    let untyped_start = slot;
    let mut list = Vec::new();
    for ut in untypeds {
        let (paddr, bits) = k.untyped_region(ut).ok_or_else(|| Error::Invalid("untyped vanished".into()))?;
        // Boot's untypeds are "full": the first Retype (which finds no children) starts them anew.
        k.set_cap(cnode, slot, Cap::Untyped { ut, free: 1 << bits })?;
        list.push((paddr, bits, k.untyped_is_device(ut)));
        slot += 1;
    }
    // seL4_BootInfo, word by word (libsel4 bootinfo_types.h).
    let w = u64::from(word_bytes);
    let region = |a: usize, b: usize| [a as u64, b as u64];
    let mut words: Vec<u64> = vec![0, 0, 1, 0, ipc_buffer.unwrap_or(0)];
    for r in [
        region(slot, 1 << ROOT_CNODE_RADIX), // empty
        region(0, 0),                        // sharedFrames
        region(frames_start, frames_end),    // userImageFrames
        region(paging_start, paging_end),    // userImagePaging
        region(0, 0),                        // ioSpaceCaps
        region(0, 0),                        // extraBIPages
    ] {
        words.extend(r);
    }
    words.extend([u64::from(ROOT_CNODE_RADIX), 0]);
    words.extend(region(untyped_start, slot));
    let bi_pa = k.frame_paddr(bi_frame).ok_or_else(|| Error::Invalid("frame vanished".into()))?;
    let mut bytes = Vec::new();
    for x in words {
        bytes.extend_from_slice(&x.to_le_bytes()[..w as usize]);
    }
    for (paddr, bits, device) in list {
        // seL4_UntypedDesc: paddr, sizeBits, isDevice, padding to two words.
        bytes.extend_from_slice(&paddr.0.to_le_bytes()[..w as usize]);
        let mut rest = vec![0u8; w as usize];
        rest[0] = bits;
        rest[1] = u8::from(device);
        bytes.extend_from_slice(&rest);
    }
    if !ram.write(bi_pa, &bytes) {
        return Err(Error::Invalid("the boot information does not fit in RAM".into()));
    }
    Ok(bi_va)
}
