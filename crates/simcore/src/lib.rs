//! # simcore — the simulator's core vocabulary
//!
//! No Unicorn and no kernel live here: only what both sides share.
//!
//! 1. [`units`]: [`Cycles`], [`VAddr`], [`PAddr`], [`Asid`] — newtypes so units cannot be mixed up.
//! 2. [`ledger`]: every simulated cycle is charged to one [`Category`] and one thread.
//! 3. [`profile`]: microarchitecture profiles (TOML), hardware facts only, each with its source or
//!    marked as an estimate.
//! 4. [`cache`] and [`cost`]: LRU cache/TLB models and the [`CostModel`] that prices events.
//! 5. [`context`] and [`physmem`]: the CPU-facing types through which the ISA-free kernel sees user
//!    registers (by ABI role) and physical memory.
//! 6. [`insn`]: instruction classes, the vocabulary of user-code pricing and kernel path descriptions.
#![forbid(unsafe_code)]

pub mod cache;
pub mod context;
pub mod cost;
pub mod elf;
pub mod insn;
pub mod ledger;
pub mod physmem;
pub mod predictor;
pub mod profile;
pub mod units;

pub use context::{FaultWord, RegisterAbi, UserContext};
pub use cost::{CostModel, MemStats, Primitive, TraceEvent, WalkPath};
pub use elf::{ElfClass, ElfError, ElfImage, ElfLimits, ElfMachine};
pub use insn::{InsnClass, InsnMix};
pub use ledger::{Breakdown, Category, Ledger};
pub use physmem::{PhysMem, VecPhysMem};
pub use predictor::BranchPredictor;
pub use profile::{Family, Param, Predictor, PredictorKind, Profile, ProfileError};
pub use units::{Asid, Cycles, PAddr, VAddr};
