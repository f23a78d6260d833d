//! The ISA backends behind one type: the system builder and the experiments talk to a
//! [`Machine`], whatever the guest architecture.

use crate::Error;
use isa_common::ram::Ram;
use isa_common::CounterRead;
use kernel::preset::KernelPreset;
use kernel::types::{TcbId, VSpaceId};
use kernel::vspace::VSpaceGeometry;
use kernel::Kernel;
use simcore::{CostModel, Primitive, Profile, RegisterAbi};

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// A thread called seL4_DebugHalt.
    Halted(TcbId),
    /// No thread is runnable.
    Idle,
    /// The cycle limit was reached.
    CycleLimit,
    /// The kernel stopped the machine because an invariant broke
    /// (`Kernel::invariant_violation` says which).
    KernelStopped,
}

impl From<isa_arm::RunExit> for RunExit {
    fn from(e: isa_arm::RunExit) -> RunExit {
        match e {
            isa_arm::RunExit::Halted(t) => RunExit::Halted(t),
            isa_arm::RunExit::Idle => RunExit::Idle,
            isa_arm::RunExit::CycleLimit => RunExit::CycleLimit,
            isa_arm::RunExit::KernelStopped => RunExit::KernelStopped,
        }
    }
}

impl From<isa_x86::RunExit> for RunExit {
    fn from(e: isa_x86::RunExit) -> RunExit {
        match e {
            isa_x86::RunExit::Halted(t) => RunExit::Halted(t),
            isa_x86::RunExit::Idle => RunExit::Idle,
            isa_x86::RunExit::CycleLimit => RunExit::CycleLimit,
            isa_x86::RunExit::KernelStopped => RunExit::KernelStopped,
        }
    }
}

/// What the kernel needs to know about a guest architecture.
#[derive(Clone, Debug)]
pub struct ArchFacts {
    /// Register roles.
    pub abi: RegisterAbi,
    /// Page tables and kernel window.
    pub geometry: VSpaceGeometry,
    /// ISA family whose paths the preset supplies.
    pub isa: &'static str,
    /// Kernel entry and exit primitives, as the preset issues them on this CPU.
    pub trap: (Vec<Primitive>, Vec<Primitive>),
    /// How guests enter the kernel (which guest flavour runs).
    pub entry: GuestEntry,
    /// The user-mode flags/status word a new thread starts with, and its context index.
    pub initial_flags: (usize, u64),
}

/// How guest programs enter the kernel: selects the built-in guest flavour and the backend's trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestEntry {
    /// ARM `svc`.
    Svc,
    /// x86 `sysenter`.
    Sysenter,
    /// x86-64 `syscall`.
    Syscall,
    /// x86 `int 0x80`.
    Int,
}

impl GuestEntry {
    /// The directory of built-in guests for `arch` with this entry (`ia32-int` for `int`).
    pub fn guest_dir(self, arch: &str) -> String {
        match self {
            GuestEntry::Int => format!("{arch}-int"),
            _ => arch.to_string(),
        }
    }
}

/// The ISA family whose kernel paths a preset supplies for guests of `arch` (`aarch32` for the
/// ARM architectures; every other guest architecture names its own).
pub fn isa_of(arch: &str) -> &str {
    match arch {
        "armv7" | "armv6" | "armv5" => "aarch32",
        other => other,
    }
}

/// The facts of `arch` on a CPU described by `profile`, running the kernel `preset`.
pub fn arch_facts(arch: &str, profile: &Profile, preset: &KernelPreset) -> Result<ArchFacts, Error> {
    let (abi, geometry, isa, initial_flags) = match arch {
        "armv7" | "armv6" | "armv5" => {
            (isa_arm::ABI, isa_arm::GEOMETRY, "aarch32", (isa_arm::CPSR, isa_arm::USER_CPSR))
        }
        "ia32" | "x86_64" => {
            let mode = isa_x86::X86Mode::for_arch(arch)
                .ok_or_else(|| Error::Unsupported(format!("architecture `{arch}`")))?;
            let abi = mode.abi();
            (abi, mode.geometry(), if arch == "ia32" { "ia32" } else { "x86_64" }, (abi.flags, 0x202))
        }
        other => {
            return Err(Error::Unsupported(format!(
                "architecture `{other}` (known: armv7, armv6, armv5, ia32, x86_64)"
            )))
        }
    };
    // The preset says how its kernel is entered, in order of preference; the CPU's profile says
    // which of those instructions exist (it prices exactly the primitives the CPU has).
    let cost = CostModel::new(profile.clone());
    let mech = preset.trap_for(isa, |p| cost.try_price_primitive(p).is_some())?;
    let (entry_ps, exit_ps) = (mech.entry_primitives(), mech.exit_primitives());
    let entry = match entry_ps.first() {
        Some(Primitive::Sysenter) => GuestEntry::Sysenter,
        Some(Primitive::Syscall) => GuestEntry::Syscall,
        Some(Primitive::IntEntry) => GuestEntry::Int,
        _ => GuestEntry::Svc,
    };
    let fits = match isa {
        "aarch32" => entry == GuestEntry::Svc,
        "ia32" => matches!(entry, GuestEntry::Sysenter | GuestEntry::Int),
        _ => entry == GuestEntry::Syscall,
    };
    if !fits {
        return Err(Error::Unsupported(format!(
            "kernel preset `{}` enters the kernel on {isa} with {}, which l4sim's {arch} guests cannot use",
            preset.name,
            mech.entry.join("+")
        )));
    }
    Ok(ArchFacts { abi, geometry, isa, trap: (entry_ps, exit_ps), entry, initial_flags })
}

/// An emulated machine of some architecture.
#[derive(Debug)]
pub enum Machine {
    /// ARMv5–v7.
    Arm(isa_arm::ArmMachine),
    /// IA-32 or x86-64.
    X86(isa_x86::X86Machine),
}

impl Machine {
    /// A machine for `arch` around `kernel`, on the CPU model `cpu`, with guests entering the
    /// kernel by `entry` (`paging` applies to x86 only).
    pub fn new(
        kernel: Kernel,
        cpu: &str,
        arch: &str,
        entry: GuestEntry,
        paging: isa_x86::Paging,
    ) -> Result<Machine, Error> {
        Ok(match isa_x86::X86Mode::for_arch(arch) {
            Some(mode) => {
                let entry = match entry {
                    GuestEntry::Sysenter => isa_x86::SyscallEntry::Sysenter,
                    GuestEntry::Syscall => isa_x86::SyscallEntry::Syscall,
                    GuestEntry::Int | GuestEntry::Svc => isa_x86::SyscallEntry::Int(isa_x86::SYSCALL_VECTOR),
                };
                Machine::X86(
                    isa_x86::X86Machine::new(kernel, cpu, mode, entry, paging)
                        .map_err(|e| Error::X86(e.to_string()))?,
                )
            }
            None => Machine::Arm(isa_arm::ArmMachine::new(kernel, cpu, arch)?),
        })
    }

    /// The kernel and the RAM.
    pub fn parts(&mut self) -> (&mut Kernel, &mut Ram) {
        match self {
            Machine::Arm(m) => m.parts(),
            Machine::X86(m) => m.parts(),
        }
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        match self {
            Machine::Arm(m) => m.kernel(),
            Machine::X86(m) => m.kernel(),
        }
    }

    /// Runs until a halt, idleness or the cycle limit.
    pub fn run(&mut self, max_cycles: u64) -> Result<RunExit, Error> {
        match self {
            Machine::Arm(m) => Ok(m.run(max_cycles)?.into()),
            Machine::X86(m) => Ok(m.run(max_cycles).map_err(|e| Error::X86(e.to_string()))?.into()),
        }
    }

    /// Reads a thread's virtual memory.
    pub fn read_virt(&self, vs: VSpaceId, va: u64, len: usize) -> Option<Vec<u8>> {
        match self {
            Machine::Arm(m) => m.read_virt(vs, va, len),
            Machine::X86(m) => m.read_virt(vs, va, len),
        }
    }

    /// The recorded counter reads.
    pub fn counter_log(&self) -> &[CounterRead] {
        match self {
            Machine::Arm(m) => m.counter_log(),
            Machine::X86(m) => m.counter_log(),
        }
    }

    /// Records counter reads with ledger snapshots.
    pub fn record_counter_reads(&mut self, on: bool) {
        match self {
            Machine::Arm(m) => m.record_counter_reads(on),
            Machine::X86(m) => m.record_counter_reads(on),
        }
    }
}
