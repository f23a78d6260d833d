//! # l4sim — a cycle-accurate L4 microkernel simulator
//!
//! l4sim runs an seL4-style kernel (written in Rust, [`kernel`]) over an emulated CPU and MMU
//! (Unicorn, [`isa_arm`]), with real machine code as user programs, and prices every event with a
//! per-microarchitecture cost model ([`simcore`]), so that it can say, cycle by cycle, where an
//! IPC's time goes.
//!
//! - [`system`]: build a system (threads from ELF images, endpoints, capabilities) and run it.
//! - [`ipc`]: the one-way IPC experiment, measured as seL4's benchmark suite measures.
//! - [`model_only`]: the ping-pong on cores that cannot be emulated (MIPS64, Alpha, IA-64).
//! - [`explain`]: one IPC taken apart, step by step, with the cycles of each step.
//! - [`report`]: tables for people, JSON and CSV for programs.
//! - [`table1`]: the paper's Table I, every row simulated next to the published figure.
//! - [`validation`]: published seL4 results beyond Table I next to the simulated ones.
//! - [`builtin`]: the profiles, presets and guest programs shipped with l4sim.
#![forbid(unsafe_code)]

pub mod builtin;
pub mod explain;
pub mod ipc;
pub mod machine;
pub mod model_only;
pub mod report;
pub mod scenario;
pub mod system;
pub mod table1;
pub mod validation;

pub use isa_arm;
pub use isa_x86;
pub use kernel;
pub use simcore;

/// Everything that can go wrong building or running a system. Guest misbehaviour is never an
/// error: it becomes a kernel fault, visible in the kernel's events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named thing (profile, preset, guest) does not exist.
    #[error("unknown {what} `{name}` (known: {known})")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// A profile did not load.
    #[error(transparent)]
    Profile(#[from] simcore::ProfileError),
    /// A preset did not load.
    #[error(transparent)]
    Preset(#[from] kernel::preset::PresetError),
    /// An ELF image was rejected.
    #[error("guest image `{name}` rejected: {err}")]
    Elf {
        /// The thread it was for.
        name: String,
        /// Why.
        err: simcore::elf::ElfError,
    },
    /// The kernel refused a construction request.
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    /// The ARM backend failed.
    #[error(transparent)]
    Arm(#[from] isa_arm::ArmError),
    /// The x86 backend failed.
    #[error("x86 backend: {0}")]
    X86(String),
    /// A combination this build does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A request that does not make sense.
    #[error("{0}")]
    Invalid(String),
    /// The kernel's invariant checker stopped the run (a kernel bug, never the guest's fault).
    #[error(transparent)]
    Invariant(#[from] kernel::InvariantViolation),
    /// The experiment did not complete as expected.
    #[error("experiment failed: {0}")]
    Experiment(String),
}
