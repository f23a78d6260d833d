//! # isa-x86 — the IA-32 and x86-64 backend
//!
//! Runs x86 user code on Unicorn in ring 3 and enters the simulated kernel on every trap, inside
//! the emulator's hooks.
//!
//! - **Paging for real**: the kernel's page-table objects are written out in the hardware format
//!   (IA-32: two levels of 1024 four-byte entries; x86-64: four levels of 512 eight-byte entries)
//!   at the objects' own physical addresses, with the kernel window added to every top-level table
//!   as supervisor-only global large pages; an address-space switch loads CR3.
//! - **Ring 3**: a GDT with user code and data segments; the first thread is entered by an
//!   `iret`/`iretq` from a ring-0 trampoline; later switches only rewrite registers, so the CPU stays
//!   in ring 3.
//! - **Traps**: `syscall` (x86-64) and `sysenter` (IA-32) enter the kernel with seL4's register
//!   ABIs; page faults (CR2), general-protection faults and undefined instructions become kernel
//!   fault events. The guest's `rdtsc` is hooked (no exception) and returns the simulated cycle
//!   count at that instruction.
//! - **Time**: user code is priced once per basic block (capstone, instruction classes), cached.

pub mod decode;
mod nested;
mod rdtsc;

use decode::Decoder;
use isa_common::block::{BlockCache, BlockInfo, CurrentBlock};
use isa_common::devices::Devices;
use isa_common::ram::Ram;
pub use isa_common::CounterRead;
use kernel::object::Pte;
use kernel::types::{TcbId, VSpaceId};
use kernel::vspace::VSpaceGeometry;
use kernel::{Event, Kernel, Resume};
use simcore::{Category, Cycles, FaultWord, PAddr, RegisterAbi, UserContext, VAddr};
use unicorn_engine::{uc_error, Arch, Mode, Prot, RegisterX86, Unicorn, X86CpuModel, X86Insn};

/// Which x86 mode the guests run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum X86Mode {
    /// 32-bit protected mode, two-level paging, `sysenter`.
    Ia32,
    /// 64-bit long mode, four-level paging, `syscall`.
    X86_64,
}

impl X86Mode {
    /// The mode for a guest architecture name (`ia32`, `x86_64`).
    pub fn for_arch(arch: &str) -> Option<X86Mode> {
        match arch {
            "ia32" => Some(X86Mode::Ia32),
            "x86_64" => Some(X86Mode::X86_64),
            _ => None,
        }
    }

    /// seL4's register ABI for this mode.
    pub fn abi(self) -> RegisterAbi {
        match self {
            X86Mode::Ia32 => ABI_IA32,
            X86Mode::X86_64 => ABI_X86_64,
        }
    }

    /// The page-table geometry and kernel window for this mode.
    pub fn geometry(self) -> VSpaceGeometry {
        match self {
            X86Mode::Ia32 => GEOMETRY_IA32,
            X86Mode::X86_64 => GEOMETRY_X86_64,
        }
    }
}

/// How guests enter the kernel for a system call (the kernel preset's choice for the CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallEntry {
    /// `sysenter` (IA-32 seL4): the return point is EDX + 2, as libsel4 passes it.
    Sysenter,
    /// `syscall` (x86-64 seL4): the return point is the next instruction.
    Syscall,
    /// `int n` through an interrupt gate (original L4 on the 486 and Pentium): the CPU saves the
    /// return point; `iret` resumes at the next instruction.
    Int(u8),
}

/// Which translation features the emulated page tables use: those the CPU has and the kernel
/// uses (the cost model follows the same choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    /// Map the kernel window with global pages (and set CR4.PGE).
    pub global_kernel: bool,
    /// Mark data pages no-execute (x86-64 only: IA-32 without PAE has no NX bit).
    pub nx: bool,
}

/// The vector of the `int` system-call gate used by the `ia32-int` guests.
pub const SYSCALL_VECTOR: u8 = 0x80;

/// x86-64 context layout: words 0–15 = RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8–R15;
/// 16 = RIP; 17 = RFLAGS.
const REGS_64: [RegisterX86; 18] = [
    RegisterX86::RAX,
    RegisterX86::RBX,
    RegisterX86::RCX,
    RegisterX86::RDX,
    RegisterX86::RSI,
    RegisterX86::RDI,
    RegisterX86::RBP,
    RegisterX86::RSP,
    RegisterX86::R8,
    RegisterX86::R9,
    RegisterX86::R10,
    RegisterX86::R11,
    RegisterX86::R12,
    RegisterX86::R13,
    RegisterX86::R14,
    RegisterX86::R15,
    RegisterX86::RIP,
    RegisterX86::RFLAGS,
];

/// IA-32 context layout: words 0–7 = EAX, EBX, ECX, EDX, ESI, EDI, EBP, ESP; 8 = EIP; 9 = EFLAGS.
const REGS_32: [RegisterX86; 10] = [
    RegisterX86::EAX,
    RegisterX86::EBX,
    RegisterX86::ECX,
    RegisterX86::EDX,
    RegisterX86::ESI,
    RegisterX86::EDI,
    RegisterX86::EBP,
    RegisterX86::ESP,
    RegisterX86::EIP,
    RegisterX86::EFLAGS,
];

/// seL4's x86-64 ABI: `syscall`; RDX = syscall number, RDI = capability/badge, RSI = message info,
/// R10, R8, R9, R15 = MR0–MR3 (libsel4 `syscalls_syscall.h`, kernel `registerset.c`).
pub const ABI_X86_64: RegisterAbi = RegisterAbi {
    syscall: 3,
    cap_or_badge: 5,
    msg_info: 4,
    mrs: [10, 8, 9, 15],
    n_register_mrs: 4,
    pc: 16,
    sp: 7,
    word_bytes: 8,
    saved_registers: 18,
    syscall_insn_bytes: 2,
    flags: 17,
    user_flags_mask: 0xcd5, // CF, PF, AF, ZF, SF, DF, OF
    initial_flags: 0x202,
    unknown_syscall_msg: &[
        FaultWord::Reg(0),
        FaultWord::Reg(1),
        FaultWord::Reg(2),
        FaultWord::Reg(3),
        FaultWord::Reg(4),
        FaultWord::Reg(5),
        FaultWord::Reg(6),
        FaultWord::Reg(8),
        FaultWord::Reg(9),
        FaultWord::Reg(10),
        FaultWord::Reg(11),
        FaultWord::Reg(12),
        FaultWord::Reg(13),
        FaultWord::Reg(14),
        FaultWord::Reg(15),
        FaultWord::FaultIp,
        FaultWord::Reg(7),
        FaultWord::Reg(17),
        FaultWord::SyscallNumber,
    ],
};

/// seL4's IA-32 ABI: `sysenter`; EAX = syscall number, EBX = capability/badge, ESI = message info,
/// EDI, EBP = MR0, MR1; ECX = user stack, EDX = return address (libsel4 ia32 `syscalls.h`).
pub const ABI_IA32: RegisterAbi = RegisterAbi {
    syscall: 0,
    cap_or_badge: 1,
    msg_info: 4,
    mrs: [5, 6, 0, 0],
    n_register_mrs: 2,
    pc: 8,
    sp: 7,
    word_bytes: 4,
    saved_registers: 10,
    syscall_insn_bytes: 2,
    flags: 9,
    user_flags_mask: 0xcd5, // CF, PF, AF, ZF, SF, DF, OF
    initial_flags: 0x202,
    unknown_syscall_msg: &[
        FaultWord::Reg(0),
        FaultWord::Reg(1),
        FaultWord::Reg(2),
        FaultWord::Reg(3),
        FaultWord::Reg(4),
        FaultWord::Reg(5),
        FaultWord::Reg(6),
        FaultWord::FaultIp,
        FaultWord::Reg(7),
        FaultWord::Reg(9),
        FaultWord::SyscallNumber,
    ],
};

/// IA-32: 1024 x 4 MiB directory entries, 1024 x 4 KiB table entries; seL4's kernel window at
/// 0xE000_0000 (4 MiB global pages).
pub const GEOMETRY_IA32: VSpaceGeometry = VSpaceGeometry {
    level_bits: [10, 10, 0, 0],
    levels: 2,
    page_bits: 12,
    entry_bytes: 4,
    user_top: 0xE000_0000,
    kernel_base: 0xE000_0000,
};

/// x86-64: four levels of 512 entries; user half below 2^47, seL4's kernel window at
/// 0xFFFF_FF80_0000_0000 (2 MiB global pages).
pub const GEOMETRY_X86_64: VSpaceGeometry = VSpaceGeometry {
    level_bits: [9, 9, 9, 9],
    levels: 4,
    page_bits: 12,
    entry_bytes: 8,
    user_top: 0x0000_8000_0000_0000,
    kernel_base: 0xFFFF_FF80_0000_0000,
};

/// Where the backend keeps its own structures (GDT, trampoline, kernel-window tables), as an
/// offset into RAM inside the kernel image the kernel reserves.
const BACKEND_OFFSET: u64 = 0x8_0000;
const GDT_OFF: u64 = BACKEND_OFFSET;
const TRAMPOLINE_OFF: u64 = BACKEND_OFFSET + 0x1000;
const FRAME_OFF: u64 = BACKEND_OFFSET + 0x2000;
const KPDPT_OFF: u64 = BACKEND_OFFSET + 0x3000;
const KPD_OFF: u64 = BACKEND_OFFSET + 0x4000;
/// Bytes the backend needs from the start of RAM (the kernel's reserved image must cover it).
pub const BACKEND_BYTES: u64 = BACKEND_OFFSET + 0x5000;

/// Segment selectors: kernel code 0x08, kernel data 0x10, user code 0x18|3, user data 0x20|3.
const USER_CS: u64 = 0x1b;
const USER_SS: u64 = 0x23;

/// The Unicorn CPU model for a profile's `unicorn_cpu` name.
pub fn cpu_model(name: &str) -> Option<X86CpuModel> {
    Some(match name {
        "486" => X86CpuModel::Model_486,
        "pentium" => X86CpuModel::PENTIUM,
        "pentium2" => X86CpuModel::PENTIUM2,
        "pentium3" => X86CpuModel::PENTIUM3,
        "coreduo" => X86CpuModel::COREDUO,
        "core2duo" => X86CpuModel::CORE2DUO,
        "nehalem" => X86CpuModel::NEHALEM,
        "westmere" => X86CpuModel::WESTMERE,
        "sandybridge" => X86CpuModel::SANDYBRIDGE,
        "ivybridge" => X86CpuModel::IVYBRIDGE,
        "haswell" => X86CpuModel::HASWELL,
        "broadwell" => X86CpuModel::BROADWELL,
        "skylake-client" => X86CpuModel::SKYLAKE_CLIENT,
        _ => return None,
    })
}

/// Errors of the backend itself (never of guest behaviour).
#[derive(Debug, thiserror::Error)]
pub enum X86Error {
    /// The profile names a CPU this backend cannot emulate.
    #[error("unknown x86 CPU model `{0}` (known: 486, pentium, pentium2, pentium3, nehalem, haswell, skylake-client, ...)")]
    UnknownCpu(String),
    /// Unicorn refused a set-up call.
    #[error("emulator error during {what}: {err:?}")]
    Emulator {
        /// What was being done.
        what: &'static str,
        /// Unicorn's error.
        err: uc_error,
    },
    /// RAM could not be allocated or is laid out wrongly.
    #[error("simulated RAM: {0}")]
    Ram(String),
    /// Capstone could not be set up.
    #[error("instruction decoder: {0}")]
    Decoder(String),
    /// A combination the backend does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
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

#[derive(Debug)]
struct State {
    mode: X86Mode,
    entry: SyscallEntry,
    paging: Paging,
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
    block: CurrentBlock,
    thread: Option<TcbId>,
    vspace: Option<VSpaceId>,
    asid: u16,
    stop: Option<RunExit>,
    halted: Option<TcbId>,
    cycle_limit: Cycles,
    counter_reads: u64,
    record: bool,
    log: Vec<CounterRead>,
    entered_user: bool,
    in_flight: Option<nested::InFlight>,
    /// A fault was forgotten since the last block: clear again at the next (see nested.rs).
    recheck_in_flight: bool,
    /// The PC of a double fault run again to raise its own fault (see `on_interrupt`).
    double_fault_retry: Option<u64>,
    /// User blocks' cycles, with the fraction not yet charged.
    user_cycles: isa_common::block::UserCycles,
}

/// An x86 machine: the emulator, its RAM and the kernel.
pub struct X86Machine {
    uc: Unicorn<'static, State>,
}

impl std::fmt::Debug for X86Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X86Machine").finish_non_exhaustive()
    }
}

fn emu(what: &'static str) -> impl Fn(uc_error) -> X86Error {
    move |err| X86Error::Emulator { what, err }
}

impl State {
    fn kva(&self, pa: u64) -> u64 {
        self.mode.geometry().kernel_base + (pa - self.ram.base().0)
    }
}

impl X86Machine {
    /// Builds the machine around `kernel` on the CPU model `cpu`, for guests of `mode` that enter
    /// the kernel with `entry`, with the translation features `paging`.
    pub fn new(
        kernel: Kernel,
        cpu: &str,
        mode: X86Mode,
        entry: SyscallEntry,
        paging: Paging,
    ) -> Result<X86Machine, X86Error> {
        match (mode, entry) {
            (X86Mode::Ia32, SyscallEntry::Syscall) | (X86Mode::X86_64, SyscallEntry::Sysenter) => {
                return Err(X86Error::Unsupported(format!("{entry:?} system calls in {mode:?} mode")))
            }
            _ => {}
        }
        let model = cpu_model(cpu).ok_or_else(|| X86Error::UnknownCpu(cpu.to_string()))?;
        let (base, size) = kernel.ram();
        if base.0 % (4 << 20) != 0 || size < BACKEND_BYTES {
            return Err(X86Error::Ram("RAM must start on a 4 MiB boundary".into()));
        }
        let ram =
            Ram::new(base, size).ok_or_else(|| X86Error::Ram(format!("cannot allocate {size} bytes")))?;
        let decoder = Decoder::new(mode).map_err(X86Error::Decoder)?;
        let state = State {
            mode,
            entry,
            paging,
            kernel,
            ram,
            decoder,
            blocks: BlockCache::new(12),
            vm_seen: 0,
            devices: Devices::for_isa("x86"),
            next_due: None,
            block: CurrentBlock::default(),
            thread: None,
            vspace: None,
            asid: 0,
            stop: None,
            halted: None,
            cycle_limit: Cycles(u64::MAX),
            counter_reads: 0,
            record: false,
            log: Vec::new(),
            entered_user: false,
            in_flight: None,
            recheck_in_flight: false,
            double_fault_retry: None,
            user_cycles: Default::default(),
        };
        let umode = match mode {
            X86Mode::Ia32 => Mode::MODE_32,
            X86Mode::X86_64 => Mode::MODE_64,
        };
        let mut uc = Unicorn::new_with_data(Arch::X86, umode, state).map_err(emu("creating the emulator"))?;
        uc.ctl_set_cpu_model(model as i32).map_err(emu("selecting the CPU model"))?;
        let ptr = uc.get_data().ram.as_ptr();
        // SAFETY: `ptr` points to `size` bytes owned by the `Ram` inside the emulator's own data,
        // which outlives the mapping (the engine is closed before its data is dropped); Rust code
        // touches the memory only while emulation is paused (hooks, between runs).
        #[allow(unsafe_code)]
        unsafe { uc.mem_map_ptr(base.0, size, Prot::ALL, ptr.cast()) }.map_err(emu("mapping RAM"))?;
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
                st.next_due = st.devices.tell(&mut st.kernel);
            };
            uc.mmio_map(base, bytes, Some(read), Some(write)).map_err(emu("mapping a device"))?;
        }
        write_gdt(&mut uc)?;
        match entry {
            SyscallEntry::Syscall => uc.add_insn_sys_hook(X86Insn::SYSCALL, 1, 0, on_syscall).map(drop),
            SyscallEntry::Sysenter => uc.add_insn_sys_hook(X86Insn::SYSENTER, 1, 0, on_syscall).map(drop),
            // `int n` arrives at the interrupt hook.
            SyscallEntry::Int(_) => Ok(()),
        }
        .map_err(emu("adding the system-call hook"))?;
        uc.add_intr_hook(on_interrupt).map_err(emu("adding the interrupt hook"))?;
        uc.add_insn_invalid_hook(on_invalid).map_err(emu("adding the invalid-instruction hook"))?;
        rdtsc::add_hook(&mut uc).map_err(emu("adding the RDTSC hook"))?;
        uc.add_block_hook(1, 0, on_block).map_err(emu("adding the block hook"))?;
        let in_flight = nested::InFlight::new(&uc).map_err(emu("saving the initial CPU context"))?;
        uc.get_data_mut().in_flight = Some(in_flight);
        Ok(X86Machine { uc })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.uc.get_data().kernel
    }

    /// The kernel and the RAM, for building a system.
    pub fn parts(&mut self) -> (&mut Kernel, &mut Ram) {
        let st = self.uc.get_data_mut();
        (&mut st.kernel, &mut st.ram)
    }

    /// Records every counter read with a ledger snapshot (off by default).
    pub fn record_counter_reads(&mut self, on: bool) {
        self.uc.get_data_mut().record = on;
    }

    /// The recorded counter reads, in time order.
    pub fn counter_log(&self) -> &[CounterRead] {
        &self.uc.get_data().log
    }

    /// How many times guests read the cycle counter.
    pub fn counter_reads(&self) -> u64 {
        self.uc.get_data().counter_reads
    }

    /// Reads `len` bytes of a thread's virtual memory (None if any page is unmapped).
    pub fn read_virt(&self, vs: VSpaceId, va: u64, len: usize) -> Option<Vec<u8>> {
        let st = self.uc.get_data();
        isa_common::read_virt(&st.kernel, &st.ram, vs, va, len)
    }

    /// Runs until a thread halts, no thread is runnable, or `max_cycles` simulated cycles in total.
    ///
    /// With nothing to run, the processor idles until the next interrupt (if one is due before
    /// the limit): time passes and the kernel takes it.
    pub fn run(&mut self, max_cycles: u64) -> Result<RunExit, X86Error> {
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

    fn run_until_stop(&mut self, max_cycles: u64) -> Result<RunExit, X86Error> {
        {
            let st = self.uc.get_data_mut();
            if let Some(t) = st.halted {
                return Ok(RunExit::Halted(t));
            }
            st.cycle_limit = Cycles(max_cycles);
            st.stop = None;
            st.next_due = st.devices.start_for(&mut st.kernel);
        }
        write_page_tables(self.uc.get_data_mut());
        if self.uc.get_data().thread.is_none() {
            let r = self.uc.get_data_mut().kernel.start();
            if let Some(exit) = apply(&mut self.uc, r) {
                return Ok(exit);
            }
        }
        // CR3 holds the first thread's tables now: paging can go on.
        set_control_registers(&mut self.uc)?;
        // The first entry to user mode goes through an `iret` from ring 0; afterwards the CPU
        // stays in ring 3 and switches are register writes.
        // Where to go on after a CPU shutdown that is run again (the thread's registers are in
        // the CPU, not in its saved context).
        let mut again_at: Option<u64> = None;
        loop {
            let (begin, until) = {
                let st = self.uc.get_data();
                let until = st.kva(st.ram.base().0 + BACKEND_OFFSET + 0xff0);
                if let Some(pc) = again_at.take() {
                    (pc, until)
                } else if st.entered_user {
                    let t = st.thread.and_then(|t| st.kernel.tcb(t)).map(|t| t.context.get(st.mode.abi().pc));
                    (t.unwrap_or(0), until)
                } else {
                    (st.kva(st.ram.base().0 + TRAMPOLINE_OFF), until)
                }
            };
            if !self.uc.get_data().entered_user {
                enter_user_frame(&mut self.uc)?;
            }
            // A run stopped inside a fault hook (the kernel went idle) leaves the CPU at the
            // faulting instruction, which QEMU may fault on again before it stops: nothing may be
            // in flight when user code starts again (nested.rs).
            if let Some(mut f) = self.uc.get_data_mut().in_flight.take() {
                f.clear(&self.uc);
                self.uc.get_data_mut().in_flight = Some(f);
            }
            let r = self.uc.emu_start(begin, until, 0, 0);
            if let Some(exit) = self.uc.get_data_mut().stop.take() {
                return Ok(exit);
            }
            match r {
                Err(err) => return Err(X86Error::Emulator { what: "running guest code", err }),
                Ok(()) if self.uc.get_data().thread.is_none() => return Ok(RunExit::Idle),
                Ok(()) => {
                    // The emulator stopped by itself while a thread ran: the thread reached the
                    // exit address (it jumped into the kernel window), or the CPU shut down (a
                    // QEMU triple fault, from an exception it still held as in flight; see
                    // nested.rs). Either is a fault of that thread, which the kernel takes;
                    // then the run goes on.
                    let pc_reg = if self.uc.get_data().mode == X86Mode::X86_64 {
                        RegisterX86::RIP
                    } else {
                        RegisterX86::EIP
                    };
                    let pc = self.uc.reg_read(pc_reg).unwrap_or(0);
                    let event = if pc == until {
                        Event::VmFault { addr: pc, instruction: true, write: false, fsr: 0x15 }
                    } else {
                        Event::UserException { number: 8, code: 0 }
                    };
                    // The shutdown leaves a double fault in flight: forget it (and anything else).
                    // If that was stale (the word was not known before), run the instruction
                    // again, once, for its own fault.
                    if let Some(mut f) = self.uc.get_data_mut().in_flight.take() {
                        let unknown = !f.known();
                        f.forget(&self.uc, 8);
                        f.clear(&self.uc);
                        let retry = unknown && f.known() && pc != until;
                        let st = self.uc.get_data_mut();
                        st.in_flight = Some(f);
                        if retry && st.double_fault_retry != Some(pc) {
                            st.double_fault_retry = Some(pc);
                            again_at = Some(pc);
                            continue;
                        }
                    }
                    let r = enter_kernel(&mut self.uc, event, pc);
                    if let Some(exit) = apply(&mut self.uc, r) {
                        return Ok(exit);
                    }
                }
            }
        }
    }
}

fn w32(ram: &mut Ram, pa: u64, v: u32) {
    ram.write(PAddr(pa), &v.to_le_bytes());
}

fn w64(ram: &mut Ram, pa: u64, v: u64) {
    ram.write(PAddr(pa), &v.to_le_bytes());
}

/// The GDT: null, kernel code, kernel data, user code (DPL 3), user data (DPL 3).
fn write_gdt(uc: &mut Unicorn<'_, State>) -> Result<(), X86Error> {
    let st = uc.get_data_mut();
    let long = st.mode == X86Mode::X86_64;
    let descriptors: [u64; 5] = if long {
        [0, 0x0020_9A00_0000_0000, 0x0000_9200_0000_0000, 0x0020_FA00_0000_0000, 0x0000_F200_0000_0000]
    } else {
        [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF, 0x00CF_FA00_0000_FFFF, 0x00CF_F200_0000_FFFF]
    };
    let gdt = st.ram.base().0 + GDT_OFF;
    for (i, d) in descriptors.iter().enumerate() {
        w64(&mut st.ram, gdt + 8 * i as u64, *d);
    }
    let gdt_va = st.kva(gdt);
    load_gdtr(uc, gdt_va)
}

/// GDTR := the GDT at linear address `base` (five descriptors).
fn load_gdtr(uc: &mut Unicorn<'_, State>, base: u64) -> Result<(), X86Error> {
    let mut mmr = [0u8; 24];
    mmr[8..16].copy_from_slice(&base.to_le_bytes());
    mmr[16..20].copy_from_slice(&(8 * 5 - 1u32).to_le_bytes());
    uc.reg_write_long(RegisterX86::GDTR, &mmr).map_err(emu("loading the GDT"))
}

/// Paging on (PAE and long mode for x86-64) and global pages. RDTSC stays unprivileged: the host
/// hooks the instruction itself.
fn set_control_registers(uc: &mut Unicorn<'_, State>) -> Result<(), X86Error> {
    let (mode, paging) = (uc.get_data().mode, uc.get_data().paging);
    let cr4 = uc.reg_read(RegisterX86::CR4).map_err(emu("reading CR4"))?;
    const PSE: u64 = 1 << 4;
    const PAE: u64 = 1 << 5;
    const PGE: u64 = 1 << 7;
    const TSD: u64 = 1 << 2;
    let pge = if paging.global_kernel { PGE } else { 0 };
    let cr4 = match mode {
        X86Mode::X86_64 => (cr4 | PAE | pge) & !TSD,
        X86Mode::Ia32 => ((cr4 & !(PAE | PGE)) | PSE | pge) & !TSD,
    };
    uc.reg_write(RegisterX86::CR4, cr4).map_err(emu("writing CR4"))?;
    if mode == X86Mode::X86_64 {
        // EFER: SCE | LME | LMA (| NXE if the CPU has NX), as Unicorn's `uc_x86_msr { u32 rid; u64 value; }` (C layout:
        // the value at offset 8).
        let mut msr = [0u8; 16];
        msr[0..4].copy_from_slice(&0xC000_0080u32.to_le_bytes());
        let efer: u64 = if paging.nx { 0xD01 } else { 0x501 };
        msr[8..16].copy_from_slice(&efer.to_le_bytes());
        uc.reg_write_long(RegisterX86::MSR, &msr).map_err(emu("writing EFER"))?;
    } else {
        // Flat 32-bit kernel data segments for the ring-0 trampoline's stack (Unicorn's 32-bit
        // mode starts with 16-bit ones). Paging is still off here, so the descriptors are read
        // through a GDTR holding the table's physical address; it moves to the kernel window below.
        let phys = uc.get_data().ram.base().0 + GDT_OFF;
        load_gdtr(uc, phys)?;
        for seg in [RegisterX86::SS, RegisterX86::DS, RegisterX86::ES] {
            uc.reg_write(seg, 0x10).map_err(emu("loading a data segment"))?;
        }
    }
    // CR0: PE | MP | ET | NE | WP | PG.
    uc.reg_write(RegisterX86::CR0, 0x8001_0033).map_err(emu("writing CR0"))?;
    let va = {
        let st = uc.get_data();
        st.kva(st.ram.base().0 + GDT_OFF)
    };
    load_gdtr(uc, va)
}

/// Writes every address space's page tables in the hardware format, plus the kernel window.
fn write_page_tables(st: &mut State) {
    st.vm_seen = st.kernel.vm_generation();
    let geo = st.mode.geometry();
    // Large supervisor pages (PS), present and writable; global (G) if the kernel maps itself so.
    let window_flags: u64 = if st.paging.global_kernel { 0x183 } else { 0x83 };
    let nx = st.paging.nx;
    let (base, size) = st.kernel.ram();
    let x64 = st.mode == X86Mode::X86_64;
    if x64 {
        // Kernel window: one PDPT entry -> a directory of 2 MiB global supervisor pages.
        let kpdpt = base.0 + KPDPT_OFF;
        let kpd = base.0 + KPD_OFF;
        w64(&mut st.ram, kpdpt, kpd | 3);
        for i in 0..size.div_ceil(2 << 20).min(512) {
            w64(&mut st.ram, kpd + 8 * i, (base.0 + (i << 21)) | window_flags);
        }
    }
    let State { kernel, ram, .. } = st;
    for (id, vs) in kernel.vspaces().enumerate() {
        let (tables, root) = (&vs.tables, vs.paddr.0);
        // A root that died has no tables (its memory may hold something else now); one without
        // a valid ASID maps no user memory.
        let live = kernel.vspace_is_live(VSpaceId(id as u32));
        for (j, table) in tables.iter().enumerate().take(if live { usize::MAX } else { 1 }) {
            let paddr = table.paddr;
            for (i, e) in table.entries.iter().enumerate() {
                let e = if live || j > 0 { *e } else { Pte::Empty };
                let v = match e {
                    Pte::Empty => 0,
                    Pte::Table(n) => tables[n as usize].paddr.0 | 7,
                    Pte::Page(m) => {
                        // Below the last level, a large page (PS).
                        let large = usize::from(table.level) + 1 < geo.levels;
                        let mut v = m.paddr.0 | 1 | if large { 0x80 } else { 0 };
                        if m.rights.write {
                            v |= 2;
                        }
                        if m.user {
                            v |= 4;
                        }
                        if x64 && nx && !m.rights.exec {
                            v |= 1 << 63;
                        }
                        v
                    }
                };
                if x64 {
                    w64(ram, paddr.0 + 8 * i as u64, v);
                } else {
                    w32(ram, paddr.0 + 4 * i as u64, v as u32);
                }
            }
        }
        if tables.is_empty() {
            continue;
        }
        if x64 {
            let idx = geo.index(geo.kernel_base, 0) as u64;
            w64(ram, root + 8 * idx, (base.0 + KPDPT_OFF) | 3);
        } else {
            // 4 MiB global supervisor pages from the window's base.
            let first = geo.index(geo.kernel_base, 0) as u64;
            for i in 0..size.div_ceil(4 << 20) {
                if first + i < 1024 {
                    w32(ram, root + 4 * (first + i), ((base.0 + (i << 22)) | window_flags) as u32);
                }
            }
        }
    }
}

/// Builds the `iret` frame (and trampoline) that enters the first thread in ring 3.
fn enter_user_frame(uc: &mut Unicorn<'_, State>) -> Result<(), X86Error> {
    let st = uc.get_data_mut();
    let mode = st.mode;
    let abi = mode.abi();
    let Some(ctx) = st.thread.and_then(|t| st.kernel.tcb(t)).map(|t| t.context) else {
        return Ok(());
    };
    let b = st.ram.base().0;
    let (pc, sp) = (ctx.get(abi.pc), ctx.get(abi.sp));
    let frame = b + FRAME_OFF;
    match mode {
        X86Mode::X86_64 => {
            st.ram.write(PAddr(b + TRAMPOLINE_OFF), &[0x48, 0xcf]); // iretq
            for (i, v) in [pc, USER_CS, 0x202, sp, USER_SS].iter().enumerate() {
                w64(&mut st.ram, frame + 8 * i as u64, *v);
            }
        }
        X86Mode::Ia32 => {
            st.ram.write(PAddr(b + TRAMPOLINE_OFF), &[0xcf]); // iretd
            for (i, v) in [pc, USER_CS, 0x202, sp, USER_SS].iter().enumerate() {
                w32(&mut st.ram, frame + 4 * i as u64, *v as u32);
            }
        }
    }
    let frame_va = st.kva(frame);
    st.entered_user = true;
    let sp_reg = if mode == X86Mode::X86_64 { RegisterX86::RSP } else { RegisterX86::ESP };
    uc.reg_write(sp_reg, frame_va).map_err(emu("setting the ring-0 stack"))?;
    Ok(())
}

fn read_context(uc: &Unicorn<'_, State>) -> UserContext {
    let mut ctx = UserContext::default();
    match uc.get_data().mode {
        X86Mode::X86_64 => {
            let v = isa_common::regs::read(uc, &REGS_64).unwrap_or([0; 18]);
            ctx.words[..18].copy_from_slice(&v);
        }
        X86Mode::Ia32 => {
            let v = isa_common::regs::read(uc, &REGS_32).unwrap_or([0; 10]);
            for (w, x) in ctx.words.iter_mut().zip(v) {
                *w = x & 0xffff_ffff;
            }
        }
    }
    ctx
}

/// Writes a context; `pc_adjust` is subtracted from the PC (Unicorn advances RIP past `syscall`
/// after the hook returns).
fn write_context(uc: &mut Unicorn<'_, State>, ctx: &UserContext, pc_adjust: u64) {
    match uc.get_data().mode {
        X86Mode::X86_64 => {
            let mut v = [0u64; 18];
            v.copy_from_slice(&ctx.words[..18]);
            v[17] = (v[17] & 0xcd5) | 0x202; // user-modifiable flags, IF set
            let pc = v[16].wrapping_sub(pc_adjust);
            let _ = isa_common::regs::write(uc, &REGS_64_GPRS, &gprs(&v));
            let _ = uc.reg_write(RegisterX86::RFLAGS, v[17]);
            let _ = uc.reg_write(RegisterX86::RIP, pc);
        }
        X86Mode::Ia32 => {
            let mut v = [0u64; 10];
            v.copy_from_slice(&ctx.words[..10]);
            v[9] = (v[9] & 0xcd5) | 0x202;
            let pc = v[8].wrapping_sub(pc_adjust) & 0xffff_ffff;
            let mut g = [0u64; 8];
            g.copy_from_slice(&v[..8]);
            let _ = isa_common::regs::write(uc, &REGS_32_GPRS, &g);
            let _ = uc.reg_write(RegisterX86::EFLAGS, v[9]);
            let _ = uc.reg_write(RegisterX86::EIP, pc);
        }
    }
}

const REGS_64_GPRS: [RegisterX86; 16] = {
    let mut out = [RegisterX86::RAX; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = REGS_64[i];
        i += 1;
    }
    out
};

const REGS_32_GPRS: [RegisterX86; 8] = {
    let mut out = [RegisterX86::EAX; 8];
    let mut i = 0;
    while i < 8 {
        out[i] = REGS_32[i];
        i += 1;
    }
    out
};

fn gprs(v: &[u64; 18]) -> [u64; 16] {
    let mut g = [0u64; 16];
    g.copy_from_slice(&v[..16]);
    g
}

/// Saves the running thread's registers (with `pc` as its PC) into its TCB and runs the kernel.
fn enter_kernel(uc: &mut Unicorn<'_, State>, event: Event, pc: u64) -> Resume {
    let mut ctx = read_context(uc);
    let st = uc.get_data_mut();
    let abi = st.mode.abi();
    ctx.set(abi.pc, pc);
    st.block.leave(&st.blocks, st.asid, pc, pc, st.kernel.cost_mut());
    if let Some(t) = st.thread {
        if let Some(c) = st.kernel.context_mut(t) {
            *c = ctx;
        }
    }
    let (k, ram) = (&mut st.kernel, &mut st.ram);
    k.handle(event, ram)
}

/// Installs what the kernel chose; returns the run's end if it stopped or idled.
fn apply_with(uc: &mut Unicorn<'_, State>, r: Resume, pc_adjust: u64) -> Option<RunExit> {
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
            let root = vs.and_then(|v| st.kernel.vspace(v)).map(|v| v.paddr.0);
            let ctx = st.kernel.tcb(n).map(|t| t.context).unwrap_or_default();
            if let (true, Some(root)) = (switch, root) {
                let _ = uc.reg_write(RegisterX86::CR3, root);
            }
            write_context(uc, &ctx, pc_adjust);
            None
        }
    }
}

/// After the kernel changed an address space (a mapping, a table, an ASID): write the page
/// tables out again and forget every translation the emulator cached and every block priced.
fn sync_vm(uc: &mut Unicorn<'_, State>) {
    let generation = uc.get_data().kernel.vm_generation();
    if generation == uc.get_data().vm_seen {
        return;
    }
    let st = uc.get_data_mut();
    write_page_tables(st);
    st.blocks.clear();
    let _ = uc.ctl_flush_tlb();
    let _ = uc.ctl_flush_tb();
}

/// Takes the interrupts due now, one kernel entry each (the running thread resumes at `pc`),
/// installing what the kernel chooses after each. Returns whether any was raised, and the run's
/// end if the kernel stopped or idled.
fn take_interrupts(uc: &mut Unicorn<'_, State>, pc: u64) -> (bool, Option<RunExit>) {
    let st = uc.get_data_mut();
    let (lines, due) = st.devices.take_due(&mut st.kernel);
    st.next_due = due;
    if lines.is_empty() {
        return (false, None);
    }
    // Nothing of the block about to start has run.
    st.block = CurrentBlock::default();
    let mut exit = None;
    let mut first = true;
    for line in lines {
        // After the first, the thread the kernel chose is in the registers.
        let pc_reg = if uc.get_data().mode == X86Mode::X86_64 { RegisterX86::RIP } else { RegisterX86::EIP };
        let pc = if first { pc } else { uc.reg_read(pc_reg).unwrap_or(pc) };
        first = false;
        let r = enter_kernel(uc, Event::Interrupt { line }, pc);
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
        match take_interrupts(uc, 0) {
            (false, _) => return Some(RunExit::Idle),
            (true, Some(RunExit::Idle)) => continue,
            (true, exit) => return exit,
        }
    }
}

fn apply(uc: &mut Unicorn<'_, State>, r: Resume) -> Option<RunExit> {
    apply_with(uc, r, 0)
}

fn stop(uc: &mut Unicorn<'_, State>, exit: RunExit) {
    uc.get_data_mut().stop = Some(exit);
    let _ = uc.emu_stop();
}

/// `syscall` / `sysenter`: the hook sees the PC at the instruction; Unicorn then adds its length.
fn on_syscall(uc: &mut Unicorn<'_, State>) {
    let mode = uc.get_data().mode;
    // x86-64: RIP is the `syscall`. IA-32: as in seL4, the return point comes from the ABI — EDX
    // holds the address of the `sysenter` (libsel4 `leal 1f, %edx; 1: sysenter`) — and Unicorn's
    // EIP is not reliably up to date in this hook.
    let pc_reg = if mode == X86Mode::X86_64 { RegisterX86::RIP } else { RegisterX86::EDX };
    let at = uc.reg_read(pc_reg).unwrap_or(0);
    let r = enter_kernel(uc, Event::Syscall, at + 2);
    if let Some(exit) = apply_with(uc, r, 2) {
        stop(uc, exit);
    }
}

/// Exceptions (page faults, general-protection faults, everything else) and `int n` system calls.
fn on_interrupt(uc: &mut Unicorn<'_, State>, intno: u32) {
    let mode = uc.get_data().mode;
    let pc_reg = if mode == X86Mode::X86_64 { RegisterX86::RIP } else { RegisterX86::EIP };
    let pc = uc.reg_read(pc_reg).unwrap_or(0);
    // A double fault before the in-flight word is known (nested.rs) comes from a stale exception:
    // find and clear the word with it, and run the instruction again (once) for its own fault.
    if intno == 8 && uc.get_data().double_fault_retry != Some(pc) {
        if let Some(mut f) = uc.get_data_mut().in_flight.take() {
            let retry = !f.known() && {
                f.forget(uc, 8);
                f.known()
            };
            let st = uc.get_data_mut();
            st.in_flight = Some(f);
            if retry {
                st.double_fault_retry = Some(pc);
                return;
            }
        }
    }
    uc.get_data_mut().double_fault_retry = None;
    let entry = uc.get_data().entry;
    let (event, pc) = match intno {
        // `int n`: the PC is already the next instruction.
        n if entry == SyscallEntry::Int(n as u8) && n < 256 => (Event::Syscall, pc),
        14 => (page_fault(uc.get_data(), uc.reg_read(RegisterX86::CR2).unwrap_or(0), pc), pc),
        n => match software_interrupt(uc, n, pc) {
            Some(SoftInt::Ignored) => return,
            Some(SoftInt::Raised(event)) => (event, pc - 2),
            None => (Event::UserException { number: u64::from(n), code: 0 }, pc),
        },
    };
    let r = enter_kernel(uc, event, pc);
    let exit = apply(uc, r);
    // A page fault or contributory exception stays "in flight" in QEMU until delivered; the kernel
    // has handled it, so the CPU must forget it (else the next fault becomes a double fault).
    if matches!(intno, 0 | 8 | 10..=14) && !matches!(event, Event::Syscall) {
        if let Some(mut f) = uc.get_data_mut().in_flight.take() {
            f.forget(uc, intno);
            uc.get_data_mut().in_flight = Some(f);
            uc.get_data_mut().recheck_in_flight = true;
        }
    }
    if let Some(exit) = exit {
        stop(uc, exit);
    }
}

/// seL4's first user trap vector (pc99 `int_trap_min`, non-SMP: after the 128 IRQ vectors from
/// 0x20 and the timer's) and its spurious-interrupt vector.
const INT_TRAP_MIN: u32 = 158;
const INT_SPURIOUS: u32 = 255;

/// What seL4's IDT makes of a software interrupt.
enum SoftInt {
    /// The spurious vector: seL4 returns to the thread at once.
    Ignored,
    /// A fault or unknown syscall, reported at the `int` instruction.
    Raised(Event),
}

/// A software interrupt `int n` (Unicorn leaves the PC past its two bytes, CD n), as seL4's IDT
/// treats it (`init_idt_entry`, `c_handle_interrupt`): user mode may raise #BP (vector 3, handled
/// as Unicorn reports it) and the trap vectors from `int_trap_min` up, each an unknown system call
/// numbered `(n << 24) | (eax & 0xffffff)` (255, spurious, is ignored); any other vector's gate is
/// kernel-only, so the `int` itself is a general-protection fault with the gate's selector error
/// code `(n << 3) | 2`. Unicorn's interrupt hook bypasses the IDT, so the check is made here.
/// None: not an `int n` (a hardware exception, or #BP).
fn software_interrupt(uc: &Unicorn<'_, State>, n: u32, pc: u64) -> Option<SoftInt> {
    let st = uc.get_data();
    let vs = st.vspace?;
    let bytes = isa_common::read_virt(&st.kernel, &st.ram, vs, pc.checked_sub(2)?, 2)?;
    if bytes[..] != [0xcd, n as u8] || n == 3 {
        return None;
    }
    Some(match n {
        INT_SPURIOUS => SoftInt::Ignored,
        INT_TRAP_MIN.. => {
            let eax = uc.reg_read(RegisterX86::RAX).unwrap_or(0) & 0xff_ffff;
            SoftInt::Raised(Event::UnknownSyscall { number: u64::from(n) << 24 | eax })
        }
        _ => SoftInt::Raised(Event::UserException { number: 13, code: u64::from(n) << 3 | 2 }),
    })
}

/// The invalid-instruction hook: Unicorn stops at an instruction it cannot decode (`ud2`, or bytes
/// that are no instruction) instead of raising #UD; the kernel gets the user exception the CPU
/// would have raised (vector 6, no error code), and the run goes on.
fn on_invalid(uc: &mut Unicorn<'_, State>) -> bool {
    let mode = uc.get_data().mode;
    let pc_reg = if mode == X86Mode::X86_64 { RegisterX86::RIP } else { RegisterX86::EIP };
    let pc = uc.reg_read(pc_reg).unwrap_or(0);
    let r = enter_kernel(uc, Event::UserException { number: 6, code: 0 }, pc);
    if let Some(exit) = apply(uc, r) {
        stop(uc, exit);
    }
    true
}

/// Decodes a page fault at `addr` by the instruction at `pc` into the kernel's event, with the x86
/// page-fault error code as its status word: bit 0 P (the page is mapped: a protection
/// violation), bit 1 W (a write), bit 2 U (user mode: always), bit 4 I (an instruction fetch).
/// Unicorn's interrupt hook does not pass the CPU's error code, so it is rebuilt from the page
/// tables and the faulting instruction.
fn page_fault(st: &State, addr: u64, pc: u64) -> Event {
    let mapping = st.vspace.and_then(|vs| st.kernel.translate(vs, addr));
    // A fetch fault is at the instruction's own bytes, on a page it cannot execute from.
    let fetch = addr >= pc && addr - pc < 16 && !mapping.is_some_and(|m| m.user && m.rights.exec);
    let write = !fetch
        && st.vspace.is_some_and(|vs| {
            let bytes = isa_common::read_virt(&st.kernel, &st.ram, vs, pc, 16).or_else(|| {
                isa_common::read_virt(&st.kernel, &st.ram, vs, pc, (0x1000 - (pc & 0xfff)) as usize)
            });
            bytes.and_then(|b| st.decoder.first_writes_memory(pc, &b)).unwrap_or(false)
        });
    let present = mapping.is_some();
    let fsr = u64::from(present) | u64::from(write) << 1 | 1 << 2 | u64::from(fetch) << 4;
    Event::VmFault { addr, instruction: fetch, write, fsr }
}

/// The simulated time at the counter read at `pc` (recorded if asked).
pub(crate) fn counter_value(st: &mut State, pc: u64) -> u64 {
    let now = st.kernel.cost().now();
    // The hooked RDTSC does not leave the block: the time is that of its place in the block.
    let value = st.block.time_at(&st.blocks, st.asid, pc).unwrap_or(now);
    st.counter_reads += 1;
    if st.record {
        let now = st.kernel.cost().now();
        let mut snapshot = st.kernel.cost().ledger().snapshot();
        snapshot.sub(Category::User, now.0.saturating_sub(value.0));
        st.log.push(CounterRead { thread: st.thread, value: value.0, snapshot });
    }
    value.0
}

/// Prices the block (cached) and charges it, with its fetch through the instruction TLB and cache.
fn on_block(uc: &mut Unicorn<'_, State>, va: u64, size: u32) {
    if std::mem::take(&mut uc.get_data_mut().recheck_in_flight) {
        if let Some(mut f) = uc.get_data_mut().in_flight.take() {
            f.clear(uc);
            uc.get_data_mut().in_flight = Some(f);
        }
    }
    let st = uc.get_data_mut();
    let Some(vs) = st.vspace else { return };
    if va >= st.mode.geometry().kernel_base {
        return; // the ring-0 trampoline that enters user mode: not guest work
    }
    // An interrupt due: taken before this block runs (it runs, and is hooked, again when the
    // thread resumes here).
    if st.next_due.is_some_and(|d| st.kernel.cost().now() >= d) {
        let (raised, exit) = take_interrupts(uc, va);
        if raised {
            if let Some(e) = exit {
                stop(uc, e);
            }
            return;
        }
    }
    let st = uc.get_data_mut();
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
    let whole = st.user_cycles.add(cost);
    let cm = st.kernel.cost_mut();
    st.block = CurrentBlock { va, size, exec_start: cm.now() };
    cm.charge_as(Category::User, whole, || format!("user block at {va:#x} ({size} bytes)"));
    if cm.now() >= st.cycle_limit {
        st.stop = Some(RunExit::CycleLimit);
        let _ = uc.emu_stop();
    }
}
