//! # isa-arm — the ARM backend
//!
//! Runs ARM (A32) user code on Unicorn and enters the simulated kernel on every trap, inside the
//! emulator's hooks (never by stopping and restarting emulation per trap).
//!
//! - **CPU**: the Unicorn CPU model the profile names (Cortex-A9, ARM1136, PXA255, ...), always in
//!   user mode; the kernel is Rust, so no guest kernel code exists.
//! - **Address spaces**: Unicorn's virtual-TLB mode; every TLB fill is answered from the kernel's
//!   page-table objects for the running thread, with the mapping's rights (data pages are not
//!   executable); the emulator's TLB is flushed when the kernel switches address spaces.
//! - **Traps**: `svc` enters the kernel as a system call with seL4's aarch32 register ABI; memory
//!   faults, undefined instructions and other exceptions become kernel fault events.
//! - **Time**: user code is priced per basic block (capstone decode + the profile's instruction
//!   classes, cached); the guest reads the simulated cycle counter with the instruction benchmark
//!   code uses on that hardware (ARMv7 PMCCNTR, ARM11 CCNT, XScale CCNT: [`decode::CounterInsn`]),
//!   which traps and is emulated to the cycle.
//!
//! `unsafe` lives only in [`ram`] (host memory behind the emulator), in `regs` (batch register
//! transfer) and around the one raw mapping call, each with its `SAFETY` note.

pub mod decode;

pub use isa_common::ram;
use isa_common::regs;

use decode::Decoder;
use isa_common::block::{BlockCache, BlockInfo, CurrentBlock};
use isa_common::devices::Devices;
use kernel::types::{TcbId, VSpaceId};
use kernel::vspace::VSpaceGeometry;
use kernel::{Event, Kernel, Resume};
use ram::Ram;
use simcore::{Category, Cycles, FaultWord, PAddr, RegisterAbi, UserContext, VAddr};
use unicorn_engine::{
    uc_error, Arch, ArmCpuModel, MemType, Mode, Prot, RegisterARM, RegisterARMCP, TlbEntry, TlbType, Unicorn,
};

/// seL4's aarch32 register ABI over this backend's context layout (words 0–15 = r0–r15, 16 = CPSR).
pub const ABI: RegisterAbi = RegisterAbi {
    syscall: 7,
    cap_or_badge: 0,
    msg_info: 1,
    mrs: [2, 3, 4, 5],
    n_register_mrs: 4,
    pc: 15,
    sp: 13,
    word_bytes: 4,
    saved_registers: 17,
    syscall_insn_bytes: 4,
    flags: CPSR,
    user_flags_mask: 0xf800_0000, // N, Z, C, V, Q
    initial_flags: USER_CPSR,
    unknown_syscall_msg: &[
        FaultWord::Reg(0),
        FaultWord::Reg(1),
        FaultWord::Reg(2),
        FaultWord::Reg(3),
        FaultWord::Reg(4),
        FaultWord::Reg(5),
        FaultWord::Reg(6),
        FaultWord::Reg(7),
        FaultWord::FaultIp,
        FaultWord::Reg(13),
        FaultWord::Reg(14),
        FaultWord::Reg(CPSR),
        FaultWord::SyscallNumber,
    ],
};

/// Index of CPSR in the context.
pub const CPSR: usize = 16;

/// ARMv5–v7 short-descriptor page tables (4096 x 1 MiB top-level entries, 256 x 4 KiB second-level
/// entries, 4-byte descriptors) with seL4's aarch32 kernel window at 0xE000_0000 (1 MiB sections).
pub const GEOMETRY: VSpaceGeometry = VSpaceGeometry {
    level_bits: [12, 8, 0, 0],
    levels: 2,
    page_bits: 12,
    entry_bytes: 4,
    user_top: 0xE000_0000,
    kernel_base: 0xE000_0000,
};

/// User-mode CPSR (ARM state, interrupts as the user sees them).
pub const USER_CPSR: u64 = 0x10;

/// Where emulation is told to stop: a page no thread can map (in the kernel window), translated
/// by the backend itself so that Unicorn's look-up of `until - 1` succeeds.
const EXIT_VA: u64 = 0xFFFF_0000;
const EXIT_UNTIL: u64 = EXIT_VA + 0x800;

/// The Unicorn CPU model for a profile's `unicorn_cpu` name.
pub fn cpu_model(name: &str) -> Option<ArmCpuModel> {
    Some(match name {
        "arm926" => ArmCpuModel::Model_926,
        "arm946" => ArmCpuModel::Model_946,
        "arm1026" => ArmCpuModel::Model_1026,
        "arm1136" => ArmCpuModel::Model_1136,
        "arm1136-r2" => ArmCpuModel::Model_1136_R2,
        "arm1176" => ArmCpuModel::Model_1176,
        "arm11mpcore" => ArmCpuModel::Model_11MPCORE,
        "cortex-a7" => ArmCpuModel::CORTEX_A7,
        "cortex-a8" => ArmCpuModel::CORTEX_A8,
        "cortex-a9" => ArmCpuModel::CORTEX_A9,
        "cortex-a15" => ArmCpuModel::CORTEX_A15,
        "pxa250" => ArmCpuModel::PXA250,
        "pxa255" => ArmCpuModel::PXA255,
        "pxa260" => ArmCpuModel::PXA260,
        "pxa270" => ArmCpuModel::PXA270,
        _ => return None,
    })
}

/// Errors of the backend itself (never of guest behaviour).
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// The architecture is not one this backend runs.
    #[error("unknown ARM architecture `{0}` (known: armv5, armv6, armv7)")]
    UnknownArch(String),
    /// The profile names a CPU this backend cannot emulate.
    #[error("unknown ARM CPU model `{0}` (known: arm926, arm1136, arm1176, cortex-a8, cortex-a9, cortex-a15, pxa255, ...)")]
    UnknownCpu(String),
    /// Unicorn refused a set-up call.
    #[error("emulator error during {what}: {err:?}")]
    Emulator {
        /// What was being done.
        what: &'static str,
        /// Unicorn's error.
        err: uc_error,
    },
    /// RAM could not be allocated.
    #[error("cannot allocate {0} bytes of simulated RAM")]
    Ram(u64),
    /// Capstone could not be set up.
    #[error("instruction decoder: {0}")]
    Decoder(String),
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// A thread called seL4_DebugHalt.
    Halted(TcbId),
    /// No thread is runnable.
    Idle,
    /// The cycle limit was reached.
    CycleLimit,
    /// The kernel stopped the machine: an invariant broke (`Kernel::invariant_violation`).
    KernelStopped,
}

pub use isa_common::CounterRead;

/// A fault seen by the TLB fill hook, waiting for the emulator to stop.
#[derive(Clone, Copy, Debug)]
struct PendingFault {
    page: u64,
    kind: MemType,
}

/// Everything the hooks need; owned by the emulator.
#[derive(Debug)]
struct State {
    kernel: Kernel,
    ram: Ram,
    decoder: Decoder,
    blocks: BlockCache,
    /// The kernel's VM generation the emulator's translations and block prices were made for.
    vm_seen: u64,
    /// The devices and the kernel's timer.
    devices: Devices,
    /// When the next interrupt is due.
    next_due: Option<Cycles>,
    thread: Option<TcbId>,
    vspace: Option<VSpaceId>,
    asid: u16,
    stop: Option<RunExit>,
    fault: Option<PendingFault>,
    block: CurrentBlock,
    cycle_limit: Cycles,
    exit_page: PAddr,
    counter_reads: u64,
    record: bool,
    log: Vec<CounterRead>,
    /// Set once a thread called seL4_DebugHalt: the machine stays halted.
    halted: Option<TcbId>,
    /// The emulator's TLBs: one per security state where the CPU model has TrustZone, else one.
    tlbs: EmulatorTlbs,
}

/// Which address space each of the emulator's TLBs holds translations for.
///
/// This is purely a host-speed device and changes no simulated result. QEMU keeps one software TLB
/// per MMU index and user code in the Secure and the Non-secure state of a TrustZone core uses
/// different indexes, so two address spaces can keep their translations across switches: a switch
/// between them is a write of SCR.NS instead of a full flush (which memsets the TLBs of all twelve
/// ARM MMU indexes). Without TrustZone there is one slot and every switch flushes.
#[derive(Debug, Clone, Copy)]
struct EmulatorTlbs {
    /// `slots[w]`: the address space whose translations world `w` (SCR.NS = w) may hold; None = empty.
    slots: [Option<VSpaceId>; 2],
    /// How many slots this CPU model has (1 or 2).
    count: usize,
    /// The current world (SCR.NS).
    world: usize,
}

/// An ARM machine: the emulator, its RAM and the kernel.
pub struct ArmMachine {
    uc: Unicorn<'static, State>,
}

impl std::fmt::Debug for ArmMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmMachine").finish_non_exhaustive()
    }
}

const SAVE_REGS: [RegisterARM; 17] = [
    RegisterARM::R0,
    RegisterARM::R1,
    RegisterARM::R2,
    RegisterARM::R3,
    RegisterARM::R4,
    RegisterARM::R5,
    RegisterARM::R6,
    RegisterARM::R7,
    RegisterARM::R8,
    RegisterARM::R9,
    RegisterARM::R10,
    RegisterARM::R11,
    RegisterARM::R12,
    RegisterARM::SP,
    RegisterARM::LR,
    RegisterARM::PC,
    RegisterARM::CPSR,
];

/// Registers written on a switch, CPSR first (it selects the register bank), then r0–r14; PC is
/// written last, alone.
const LOAD_REGS: [RegisterARM; 16] = {
    let mut out = [RegisterARM::CPSR; 16];
    let mut i = 0;
    while i < 15 {
        out[i + 1] = SAVE_REGS[i];
        i += 1;
    }
    out
};

fn emu(what: &'static str) -> impl Fn(uc_error) -> ArmError {
    move |err| ArmError::Emulator { what, err }
}

impl ArmMachine {
    /// Builds the machine around `kernel` (whose RAM layout it maps) on the CPU model `cpu`, for
    /// guest code of architecture `arch` (`armv7`, `armv6`, `armv5`: it selects the cycle-counter
    /// instruction the guests use).
    pub fn new(kernel: Kernel, cpu: &str, arch: &str) -> Result<ArmMachine, ArmError> {
        let model = cpu_model(cpu).ok_or_else(|| ArmError::UnknownCpu(cpu.to_string()))?;
        let counter =
            decode::CounterInsn::for_arch(arch).ok_or_else(|| ArmError::UnknownArch(arch.into()))?;
        let (base, size) = kernel.ram();
        let ram = Ram::new(base, size).ok_or(ArmError::Ram(size))?;
        let decoder = Decoder::new(counter).map_err(ArmError::Decoder)?;
        let exit_page = PAddr(base.0 + size);
        let state = State {
            kernel,
            ram,
            decoder,
            blocks: BlockCache::new(12),
            vm_seen: 0,
            devices: Devices::for_isa("aarch32"),
            next_due: None,
            thread: None,
            vspace: None,
            asid: 0,
            stop: None,
            fault: None,
            block: CurrentBlock::default(),
            cycle_limit: Cycles(u64::MAX),
            exit_page,
            counter_reads: 0,
            record: false,
            log: Vec::new(),
            halted: None,
            tlbs: EmulatorTlbs { slots: [None, None], count: 1, world: 0 },
        };
        let mut uc =
            Unicorn::new_with_data(Arch::ARM, Mode::ARM, state).map_err(emu("creating the emulator"))?;
        uc.ctl_set_cpu_model(model as i32).map_err(emu("selecting the CPU model"))?;
        uc.ctl_set_tlb_type(TlbType::VIRTUAL).map_err(emu("enabling the virtual TLB"))?;
        let ptr = uc.get_data().ram.as_ptr();
        // SAFETY: `ptr` points to `size` bytes owned by the `Ram` inside the emulator's own data,
        // which outlives the mapping (the engine is closed before its data is dropped); the memory
        // is only accessed by Rust code while emulation is paused (hooks, between runs).
        #[allow(unsafe_code)]
        unsafe { uc.mem_map_ptr(base.0, size, Prot::ALL, ptr.cast()) }.map_err(emu("mapping RAM"))?;
        uc.mem_map(exit_page.0, 4096, Prot::ALL).map_err(emu("mapping the exit page"))?;
        for (base, bytes) in uc.get_data().devices.regions() {
            let base = base.0;
            let read = move |uc: &mut Unicorn<'_, State>, off: u64, size: usize| -> u64 {
                let st = uc.get_data_mut();
                let now = st.kernel.cost().now();
                st.devices.read(base + off, size, now)
            };
            let write = move |uc: &mut Unicorn<'_, State>, off: u64, size: usize, v: u64| {
                let st = uc.get_data_mut();
                let now = st.kernel.cost().now();
                st.devices.write(base + off, size, v, now);
                refresh_due(st);
            };
            uc.mmio_map(base, bytes, Some(read), Some(write)).map_err(emu("mapping a device"))?;
        }
        uc.reg_write(RegisterARM::CPSR, USER_CPSR).map_err(emu("entering user mode"))?;
        // Only cores with the Security Extensions have SCR (asking the others makes Unicorn warn).
        let trustzone = matches!(
            model,
            ArmCpuModel::CORTEX_A7
                | ArmCpuModel::CORTEX_A8
                | ArmCpuModel::CORTEX_A9
                | ArmCpuModel::CORTEX_A15
                | ArmCpuModel::Model_1176
        );
        let worlds = if trustzone && set_world(&mut uc, 0) && set_world(&mut uc, 1) { 2 } else { 1 };
        uc.get_data_mut().tlbs = EmulatorTlbs { slots: [None, None], count: worlds, world: 1 };
        uc.add_tlb_hook(1, 0, tlb_fill).map_err(emu("adding the TLB hook"))?;
        uc.add_intr_hook(on_interrupt).map_err(emu("adding the interrupt hook"))?;
        uc.add_block_hook(1, 0, on_block).map_err(emu("adding the block hook"))?;
        uc.add_insn_invalid_hook(on_invalid).map_err(emu("adding the invalid-instruction hook"))?;
        Ok(ArmMachine { uc })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.uc.get_data().kernel
    }

    /// The kernel and the RAM, for building a system (mapping ELF images, patching data).
    pub fn parts(&mut self) -> (&mut Kernel, &mut Ram) {
        let st = self.uc.get_data_mut();
        (&mut st.kernel, &mut st.ram)
    }

    /// How many times guests read the cycle counter.
    pub fn counter_reads(&self) -> u64 {
        self.uc.get_data().counter_reads
    }

    /// Records every counter read with a ledger snapshot (off by default).
    pub fn record_counter_reads(&mut self, on: bool) {
        self.uc.get_data_mut().record = on;
    }

    /// The recorded counter reads, in time order.
    pub fn counter_log(&self) -> &[CounterRead] {
        &self.uc.get_data().log
    }

    /// Reads `len` bytes of a thread's virtual memory (None if any page is unmapped).
    pub fn read_virt(&self, vs: VSpaceId, va: u64, len: usize) -> Option<Vec<u8>> {
        let st = self.uc.get_data();
        isa_common::read_virt(&st.kernel, &st.ram, vs, va, len)
    }

    /// Runs until a thread halts, no thread is runnable, or `max_cycles` simulated cycles have
    /// passed in total. Guest faults never end a run by themselves: they go to the kernel.
    ///
    /// With nothing to run, the processor idles until the next interrupt (if one is due before
    /// the limit): time passes and the kernel takes it.
    pub fn run(&mut self, max_cycles: u64) -> Result<RunExit, ArmError> {
        loop {
            let exit = self.run_until_stop(max_cycles)?;
            if exit != RunExit::Idle {
                return Ok(exit);
            }
            if let Some(exit) = wake_from_idle(&mut self.uc) {
                return Ok(exit);
            }
        }
    }

    fn run_until_stop(&mut self, max_cycles: u64) -> Result<RunExit, ArmError> {
        {
            let st = self.uc.get_data_mut();
            if let Some(t) = st.halted {
                return Ok(RunExit::Halted(t));
            }
            st.cycle_limit = Cycles(max_cycles);
            st.stop = None;
            start_kernel_tick(st);
        }
        if self.uc.get_data().thread.is_none() {
            let r = self.uc.get_data_mut().kernel.start();
            if let Some(exit) = apply(&mut self.uc, r) {
                return Ok(exit);
            }
        }
        loop {
            let pc = {
                let st = self.uc.get_data();
                match st.thread.and_then(|t| st.kernel.tcb(t)) {
                    Some(t) => t.context.get(ABI.pc),
                    None => return Ok(RunExit::Idle),
                }
            };
            let r = self.uc.emu_start(pc, EXIT_UNTIL, 0, 0);
            if let Some(exit) = self.uc.get_data_mut().stop.take() {
                return Ok(exit);
            }
            let fault = self.uc.get_data_mut().fault.take();
            let event = match (r, fault) {
                (Err(uc_error::EXCEPTION), Some(f)) => Some(fault_event(&self.uc, f)),
                // Reaching the exit address means the guest jumped into the kernel window.
                (Ok(()), _) => {
                    Some(Event::VmFault { addr: EXIT_UNTIL, instruction: true, write: false, fsr: 0 })
                }
                (Err(e), _) => {
                    // Anything else the emulator raises for guest behaviour (e.g. an access that
                    // escaped translation) is a fault of the running thread at its PC.
                    let pc = self.uc.pc_read().unwrap_or(0);
                    let _ = e;
                    Some(Event::VmFault { addr: pc, instruction: true, write: false, fsr: 0 })
                }
            };
            if let Some(ev) = event {
                let r = enter_kernel(&mut self.uc, ev);
                if let Some(exit) = apply(&mut self.uc, r) {
                    return Ok(exit);
                }
            }
        }
    }
}

/// The kernel event for a fault the TLB hook recorded, with the exact address when the faulting
/// instruction's addressing can be decoded.
fn fault_event(uc: &Unicorn<'_, State>, f: PendingFault) -> Event {
    let instruction = matches!(f.kind, MemType::FETCH | MemType::FETCH_PROT | MemType::FETCH_UNMAPPED);
    let write = matches!(f.kind, MemType::WRITE | MemType::WRITE_PROT | MemType::WRITE_UNMAPPED);
    let pc = uc.pc_read().unwrap_or(0);
    let addr = if instruction { pc.max(f.page) } else { data_fault_address(uc, pc).unwrap_or(f.page) };
    // A short-descriptor DFSR/IFSR (ARM ARM B4.1.52): translation fault 0b00101 (section, the
    // first-level entry is empty) or 0b00111 (page); permission fault 0b01101 (a section or
    // supersection mapping) or 0b01111 (a page); bit 11 = write (WnR).
    let st = uc.get_data();
    let mapped = st.vspace.and_then(|vs| st.kernel.translate(vs, addr)).is_some();
    let first_level = st.vspace.map_or(0, |vs| st.kernel.walk_level(vs, addr)) == 0;
    let status = match (mapped, first_level) {
        (false, true) => 0x05,
        (false, false) => 0x07,
        (true, true) => 0x0d,
        (true, false) => 0x0f,
    };
    let fsr = status | if write { 1 << 11 } else { 0 };
    Event::VmFault { addr, instruction, write, fsr }
}

/// Decodes the load/store at `pc` and computes its address from the saved registers
/// (base register + immediate offset forms, which is what compilers emit for most accesses).
fn data_fault_address(uc: &Unicorn<'_, State>, pc: u64) -> Option<u64> {
    let st = uc.get_data();
    let tr = st.kernel.translate(st.vspace?, pc)?;
    let b = st.ram.read(tr.paddr, 4)?;
    let w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let reg = |n: u32| -> Option<u64> { uc.reg_read(SAVE_REGS[n as usize]).ok() };
    let rn = (w >> 16) & 0xf;
    let up = w & (1 << 23) != 0;
    let pre = w & (1 << 24) != 0;
    let base = if rn == 15 { pc + 8 } else { reg(rn)? };
    let apply_off = |off: u64| -> u64 {
        let a = if up { base.wrapping_add(off) } else { base.wrapping_sub(off) };
        (if pre { a } else { base }) & 0xffff_ffff
    };
    match (w >> 25) & 0x7 {
        // LDR/STR/LDRB/STRB immediate.
        0b010 => Some(apply_off(u64::from(w & 0xfff))),
        // LDR/STR register offset without shift.
        0b011 if (w >> 4) & 0xff == 0 => Some(apply_off(reg(w & 0xf)?)),
        // LDRH/STRH/LDRD/STRD/LDRSB/LDRSH, immediate form.
        0b000 if (w >> 4) & 0x9 == 0x9 && w & (1 << 22) != 0 => {
            Some(apply_off(u64::from(((w >> 4) & 0xf0) | (w & 0xf))))
        }
        // LDM/STM: the lowest address accessed.
        0b100 => {
            let n = u64::from((w & 0xffff).count_ones());
            Some(
                match (pre, up) {
                    (false, true) => base,
                    (true, true) => base.wrapping_add(4),
                    (false, false) => base.wrapping_sub(4 * n).wrapping_add(4),
                    (true, false) => base.wrapping_sub(4 * n),
                } & 0xffff_ffff,
            )
        }
        _ => None,
    }
}

/// The TLB fill hook: translates through the kernel's page tables for the running thread.
fn tlb_fill(uc: &mut Unicorn<'_, State>, va: u64, kind: MemType) -> Option<TlbEntry> {
    let st = uc.get_data_mut();
    if va & !0xfff == EXIT_VA {
        return Some(TlbEntry { paddr: st.exit_page.0 + (va & 0xfff), perms: Prot::READ | Prot::EXEC });
    }
    let tr = st.vspace.and_then(|vs| st.kernel.translate(vs, va));
    let allowed = tr.filter(|t| {
        t.user
            && match kind {
                MemType::READ => t.rights.read,
                MemType::WRITE => t.rights.write,
                MemType::FETCH => t.rights.exec,
                _ => false,
            }
    });
    match allowed {
        Some(t) => {
            let mut perms = Prot::NONE;
            if t.rights.read {
                perms |= Prot::READ;
            }
            if t.rights.write {
                perms |= Prot::WRITE;
            }
            if t.rights.exec {
                perms |= Prot::EXEC;
            }
            Some(TlbEntry { paddr: t.paddr.0, perms })
        }
        None => {
            st.fault = Some(PendingFault { page: va, kind });
            None
        }
    }
}

/// The block hook: prices the block (cached) and charges it, with its fetches through the
/// instruction TLB and cache.
fn on_block(uc: &mut Unicorn<'_, State>, va: u64, size: u32) {
    // An interrupt due: taken before this block runs (it runs, and is hooked, again when the
    // thread resumes here).
    let st = uc.get_data_mut();
    if st.next_due.is_some_and(|d| st.kernel.cost().now() >= d) {
        let (raised, exit) = take_interrupts(uc);
        if raised {
            if let Some(e) = exit {
                uc.get_data_mut().stop = Some(e);
                let _ = uc.emu_stop();
            }
            return;
        }
    }
    let st = uc.get_data_mut();
    st.fault = None;
    let Some(vs) = st.vspace else { return };
    let asid = st.asid;
    let (cost, pa) = match st.blocks.get(va, asid, size) {
        Some(b) => (b.cost, b.pa),
        None => {
            let Some(tr) = st.kernel.translate(vs, va) else { return };
            let bytes = st.ram.read(tr.paddr, size as usize).map(<[u8]>::to_vec).unwrap_or_default();
            let info: BlockInfo = st.decoder.price(st.kernel.cost(), va, asid, tr.paddr, &bytes);
            let r = (info.cost, info.pa);
            st.blocks.put(info);
            r
        }
    };
    st.kernel.user_fetch(vs, VAddr(va), pa, u64::from(size));
    let cm = st.kernel.cost_mut();
    st.block = CurrentBlock { va, size, exec_start: cm.now() };
    cm.charge_as(Category::User, Cycles::from_f64(cost), || {
        format!("user block at {va:#x} ({} instructions)", size / 4)
    });
    if cm.now() >= st.cycle_limit {
        st.stop = Some(RunExit::CycleLimit);
        let _ = uc.emu_stop();
    }
}

/// The interrupt hook: system calls, the cycle-counter read, and every other exception.
fn on_interrupt(uc: &mut Unicorn<'_, State>, intno: u32) {
    let event = match intno {
        2 => Event::Syscall,
        1 => {
            if emulate_counter_read(uc) {
                return;
            }
            // seL4 aarch32 reports an undefined instruction as UserException 0, code 0
            // (c_handle_undefined_instruction).
            Event::UserException { number: 0, code: 0 }
        }
        3 | 4 => {
            let f = uc.get_data_mut().fault.take().unwrap_or(PendingFault {
                page: uc.pc_read().unwrap_or(0),
                kind: if intno == 3 { MemType::FETCH } else { MemType::READ },
            });
            fault_event(uc, f)
        }
        n => Event::UserException { number: u64::from(n), code: 0 },
    };
    let r = enter_kernel(uc, event);
    if let Some(exit) = apply(uc, r) {
        uc.get_data_mut().stop = Some(exit);
        let _ = uc.emu_stop();
    }
}

/// The invalid-instruction hook (Unicorn reports undefined instructions here, not as an
/// interrupt): the cycle-counter read is emulated; anything else is a user exception for the kernel.
fn on_invalid(uc: &mut Unicorn<'_, State>) -> bool {
    if emulate_counter_read(uc) {
        return true;
    }
    let r = enter_kernel(uc, Event::UserException { number: 0, code: 0 });
    if let Some(exit) = apply(uc, r) {
        uc.get_data_mut().stop = Some(exit);
        let _ = uc.emu_stop();
    }
    true
}

/// If the undefined instruction at PC is the PMCCNTR read, performs it: Rd = the simulated cycle
/// count at that instruction, PC += 4.
fn emulate_counter_read(uc: &mut Unicorn<'_, State>) -> bool {
    let Ok(pc) = uc.pc_read() else { return false };
    let st = uc.get_data_mut();
    let Some(vs) = st.vspace else { return false };
    let Some(word) = st
        .kernel
        .translate(vs, pc)
        .and_then(|t| st.ram.read(t.paddr, 4))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return false;
    };
    if !st.decoder.counter().matches(word) {
        return false;
    }
    let rd = decode::mrc_rd(word);
    if rd == 15 {
        return false;
    }
    let now_before = st.kernel.cost().now();
    // The block was charged whole at its start; the counter shows the time at this instruction.
    let value = leave_block(st, pc, pc + 4).unwrap_or(now_before);
    let now = st.kernel.cost().now();
    st.counter_reads += 1;
    if st.record {
        let mut snapshot = st.kernel.cost().ledger().snapshot();
        snapshot.sub(Category::User, now.0.saturating_sub(value.0));
        st.log.push(CounterRead { thread: st.thread, value: value.0, snapshot });
    }
    let ok = uc.reg_write(SAVE_REGS[rd], value.0 & 0xffff_ffff).is_ok();
    ok && uc.reg_write(RegisterARM::PC, pc + 4).is_ok()
}

/// Leaves the current block at `pc` (see [`CurrentBlock::leave`]).
fn leave_block(st: &mut State, pc: u64, resume: u64) -> Option<Cycles> {
    st.block.leave(&st.blocks, st.asid, pc, resume, st.kernel.cost_mut())
}

/// Saves the running thread's registers into its TCB and runs the kernel.
fn enter_kernel(uc: &mut Unicorn<'_, State>, event: Event) -> Resume {
    let vals = regs::read(uc, &SAVE_REGS).unwrap_or([0; SAVE_REGS.len()]);
    let st = uc.get_data_mut();
    // A trap in the middle of a block: what follows the trapping instruction did not run.
    if let Some(pc) = vals.get(ABI.pc) {
        leave_block(st, *pc, *pc);
    }
    if let Some(t) = st.thread {
        if let Some(ctx) = st.kernel.context_mut(t) {
            for (i, v) in vals.iter().enumerate() {
                ctx.words[i] = *v & 0xffff_ffff;
            }
        }
    }
    let (k, ram) = (&mut st.kernel, &mut st.ram);
    k.handle(event, ram)
}

/// Installs what the kernel chose: the next thread's registers and address space.
/// Returns the run's end if the kernel stopped or idled.
fn apply(uc: &mut Unicorn<'_, State>, r: Resume) -> Option<RunExit> {
    sync_vm(uc);
    match r {
        Resume::Halt(t) => {
            uc.get_data_mut().halted = Some(t);
            Some(RunExit::Halted(t))
        }
        Resume::Idle => {
            uc.get_data_mut().thread = None;
            Some(RunExit::Idle)
        }
        Resume::Stopped => Some(RunExit::KernelStopped),
        Resume::Thread(n) => {
            let st = uc.get_data_mut();
            let vs = st.kernel.vspace_of(n);
            let switch = vs != st.vspace;
            st.vspace = vs;
            st.thread = Some(n);
            st.asid = vs.and_then(|v| st.kernel.asid_of(v)).map_or(0, |a| a.0);
            let ctx: UserContext = st.kernel.tcb(n).map(|t| t.context).unwrap_or_default();
            if let (true, Some(vs)) = (switch, vs) {
                switch_emulator_tlb(uc, vs);
            }
            write_context(uc, &ctx);
            None
        }
    }
}

/// Starts the kernel's tick (if it has a timer) and notes when the next interrupt is due.
fn start_kernel_tick(st: &mut State) {
    st.next_due = st.devices.start_for(&mut st.kernel);
}

/// Notes when the next interrupt is due, here and in the kernel (for its preemption points).
fn refresh_due(st: &mut State) {
    st.next_due = st.devices.tell(&mut st.kernel);
}

/// Takes the interrupts due now, one kernel entry each, installing what the kernel chooses
/// after each. Returns whether any was raised, and the run's end if the kernel stopped or idled.
fn take_interrupts(uc: &mut Unicorn<'_, State>) -> (bool, Option<RunExit>) {
    let st = uc.get_data_mut();
    let (lines, due) = st.devices.take_due(&mut st.kernel);
    st.next_due = due;
    if lines.is_empty() {
        return (false, None);
    }
    // Nothing of the block about to start has run.
    st.block = CurrentBlock::default();
    let mut exit = None;
    for line in lines {
        let r = enter_kernel(uc, Event::Interrupt { line });
        exit = apply(uc, r);
        if matches!(exit, Some(RunExit::Halted(_) | RunExit::KernelStopped)) {
            break;
        }
    }
    (true, exit)
}

/// With nothing runnable: lets time pass to the next interrupt due before the cycle limit and
/// takes it, until a thread can run (None) or the run ends (idle, with no interrupt to come
/// before the limit, or stopped by the kernel).
fn wake_from_idle(uc: &mut Unicorn<'_, State>) -> Option<RunExit> {
    loop {
        let st = uc.get_data_mut();
        let Some(due) = st.next_due.filter(|d| *d < st.cycle_limit) else { return Some(RunExit::Idle) };
        st.kernel.cost_mut().idle_until(due);
        match take_interrupts(uc) {
            (false, _) => return Some(RunExit::Idle),
            (true, Some(RunExit::Idle)) => continue,
            (true, exit) => return exit,
        }
    }
}

/// After the kernel changed an address space (a mapping, a table, an ASID): forget every
/// translation the emulator cached and every block priced, since any may be stale.
fn sync_vm(uc: &mut Unicorn<'_, State>) {
    let generation = uc.get_data().kernel.vm_generation();
    if generation == uc.get_data().vm_seen {
        return;
    }
    let _ = uc.ctl_flush_tlb();
    let _ = uc.ctl_flush_tb();
    let st = uc.get_data_mut();
    st.vm_seen = generation;
    st.blocks.clear();
    let world = st.tlbs.world;
    st.tlbs.slots = [None, None];
    st.tlbs.slots[world] = st.vspace;
}

/// Writes SCR.NS (the security state user code runs in); true if the CPU model has it and took it.
fn set_world(uc: &mut Unicorn<'_, State>, ns: usize) -> bool {
    let scr = RegisterARMCP { cp: 15, is64: 0, sec: 1, crn: 1, crm: 1, opc1: 0, opc2: 0, val: ns as u64 };
    if uc.reg_write_arm_coproc(&scr).is_err() {
        return false;
    }
    let mut back = RegisterARMCP { val: !0, ..scr };
    uc.reg_read_arm_coproc(&mut back).is_ok() && back.val & 1 == ns as u64
}

/// Makes the emulator translate for `vs`: switch to the world that holds it, or to an empty one,
/// or flush everything and start over.
fn switch_emulator_tlb(uc: &mut Unicorn<'_, State>, vs: VSpaceId) {
    let t = uc.get_data().tlbs;
    let held = (0..t.count).find(|w| t.slots[*w] == Some(vs));
    let empty = (0..t.count).find(|w| t.slots[*w].is_none());
    let world = match (held, empty) {
        (Some(w), _) => w,
        (None, Some(w)) => {
            uc.get_data_mut().tlbs.slots[w] = Some(vs);
            w
        }
        (None, None) => {
            let _ = uc.ctl_flush_tlb();
            // Keep using the current world; the other one is now empty too.
            let w = t.world.min(t.count - 1);
            let tl = &mut uc.get_data_mut().tlbs;
            tl.slots = [None, None];
            tl.slots[w] = Some(vs);
            w
        }
    };
    if t.count == 2 && world != t.world {
        set_world(uc, world);
    }
    uc.get_data_mut().tlbs.world = world;
}

fn write_context(uc: &mut Unicorn<'_, State>, ctx: &UserContext) {
    let cpsr = (ctx.words[CPSR] & !0x3f) | USER_CPSR;
    let mut vals = [0u64; 16];
    vals[0] = cpsr;
    vals[1..16].copy_from_slice(&ctx.words[0..15]);
    let _ = regs::write(uc, &LOAD_REGS, &vals);
    let _ = uc.reg_write(RegisterARM::PC, ctx.words[ABI.pc] & !1);
}
