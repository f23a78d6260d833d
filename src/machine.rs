//! The ISA backends behind one type: the system builder and the experiments talk to a
//! [`Machine`], whatever the guest architecture.

use crate::Error;
use isa_common::ram::Ram;
use isa_common::CounterRead;
use kernel::types::{TcbId, VSpaceId};
use kernel::vspace::VSpaceGeometry;
use kernel::Kernel;
use simcore::{Primitive, Profile, RegisterAbi};

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// A thread called seL4_DebugHalt.
    Halted(TcbId),
    /// No thread is runnable.
    Idle,
    /// The cycle limit was reached.
    CycleLimit,
}

impl From<isa_arm::RunExit> for RunExit {
    fn from(e: isa_arm::RunExit) -> RunExit {
        match e {
            isa_arm::RunExit::Halted(t) => RunExit::Halted(t),
            isa_arm::RunExit::Idle => RunExit::Idle,
            isa_arm::RunExit::CycleLimit => RunExit::CycleLimit,
        }
    }
}

impl From<isa_x86::RunExit> for RunExit {
    fn from(e: isa_x86::RunExit) -> RunExit {
        match e {
            isa_x86::RunExit::Halted(t) => RunExit::Halted(t),
            isa_x86::RunExit::Idle => RunExit::Idle,
            isa_x86::RunExit::CycleLimit => RunExit::CycleLimit,
        }
    }
}

/// What the kernel needs to know about a guest architecture.
#[derive(Clone, Copy, Debug)]
pub struct ArchFacts {
    /// Register roles.
    pub abi: RegisterAbi,
    /// Page tables and kernel window.
    pub geometry: VSpaceGeometry,
    /// ISA family whose paths the preset supplies.
    pub isa: &'static str,
    /// Kernel entry and exit mechanism.
    pub trap: (Primitive, Primitive),
    /// The user-mode flags/status word a new thread starts with, and its context index.
    pub initial_flags: (usize, u64),
}

/// The facts of `arch` on a CPU described by `profile`.
pub fn arch_facts(arch: &str, profile: &Profile) -> Result<ArchFacts, Error> {
    Ok(match arch {
        "armv7" | "armv6" | "armv5" => ArchFacts {
            abi: isa_arm::ABI,
            geometry: isa_arm::GEOMETRY,
            isa: "aarch32",
            trap: (Primitive::ExceptionEntry, Primitive::ExceptionReturn),
            initial_flags: (isa_arm::CPSR, isa_arm::USER_CPSR),
        },
        "ia32" | "x86_64" => {
            let mode = isa_x86::X86Mode::for_arch(arch)
                .ok_or_else(|| Error::Unsupported(format!("architecture `{arch}`")))?;
            let trap = match mode {
                isa_x86::X86Mode::X86_64 if profile.features.syscall => {
                    (Primitive::Syscall, Primitive::Sysret)
                }
                isa_x86::X86Mode::X86_64 => {
                    return Err(Error::Unsupported(format!("profile `{}` has no SYSCALL", profile.name)))
                }
                // seL4 on IA-32 enters with sysenter; a CPU without it would need `int`.
                isa_x86::X86Mode::Ia32 if profile.features.sysenter => {
                    (Primitive::Sysenter, Primitive::Sysexit)
                }
                isa_x86::X86Mode::Ia32 => (Primitive::IntEntry, Primitive::Iret),
            };
            let abi = mode.abi();
            ArchFacts {
                abi,
                geometry: mode.geometry(),
                isa: arch_isa(arch),
                trap,
                initial_flags: (abi.flags, 0x202),
            }
        }
        other => {
            return Err(Error::Unsupported(format!(
                "architecture `{other}` (known: armv7, armv6, armv5, ia32, x86_64)"
            )))
        }
    })
}

fn arch_isa(arch: &str) -> &'static str {
    if arch == "ia32" {
        "ia32"
    } else {
        "x86_64"
    }
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
    /// A machine for `arch` around `kernel`, on the CPU model `cpu`.
    pub fn new(kernel: Kernel, cpu: &str, arch: &str) -> Result<Machine, Error> {
        Ok(match isa_x86::X86Mode::for_arch(arch) {
            Some(mode) => Machine::X86(
                isa_x86::X86Machine::new(kernel, cpu, mode).map_err(|e| Error::X86(e.to_string()))?,
            ),
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
