//! Kernel presets: the software facts of one kernel design — what each of its paths executes,
//! stated as instruction counts by class with their sources, shared by every machine it runs on.
//! (Hardware facts live in `simcore::Profile`.)

use serde::Deserialize;
use simcore::{InsnMix, Primitive};
use std::collections::BTreeMap;
use std::path::Path;

/// One kernel path step: its instruction mix and where the counts come from.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// ALU instructions.
    #[serde(default)]
    pub alu: u32,
    /// Multiplies.
    #[serde(default)]
    pub mul: u32,
    /// Loads.
    #[serde(default)]
    pub load: u32,
    /// Stores.
    #[serde(default)]
    pub store: u32,
    /// Branches.
    #[serde(default)]
    pub branch: u32,
    /// Load-multiple instructions.
    #[serde(default)]
    pub ldm: u32,
    /// Registers moved by load-multiples.
    #[serde(default)]
    pub ldm_regs: u32,
    /// Store-multiple instructions.
    #[serde(default)]
    pub stm: u32,
    /// Registers moved by store-multiples.
    #[serde(default)]
    pub stm_regs: u32,
    /// System-register reads.
    #[serde(default)]
    pub coproc_read: u32,
    /// System-register writes.
    #[serde(default)]
    pub coproc_write: u32,
    /// Data barriers.
    #[serde(default)]
    pub barrier: u32,
    /// Instruction barriers.
    #[serde(default)]
    pub isb: u32,
    /// EPIC code (IA-64): the step's instruction groups (stops). When non-zero the step is priced
    /// as its group schedule, `groups` x the profile's `instruction_group` + `stall_cycles`, and
    /// the class counts only size its text.
    #[serde(default)]
    pub groups: u32,
    /// Stall cycles the group schedule exposes (documented latencies not hidden by the schedule).
    #[serde(default)]
    pub stall_cycles: u32,
    /// The loads on the step's longest chain of address-dependent loads (each load's address
    /// computed from the previous one's result: a pointer chase), priced with the profile's
    /// `pipeline.load_use`. Required on the fastpath one-way IPC's steps; `None` elsewhere means
    /// not counted (the step's loads are then priced as independent). Not used by a step given as
    /// a group schedule, whose `stall_cycles` already expose its latencies.
    #[serde(default)]
    pub load_chain: Option<u32>,
    /// Where the counts were read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why the counts are an estimate.
    #[serde(default)]
    pub estimate: Option<String>,
}

impl Step {
    /// The instruction mix.
    pub fn mix(&self) -> InsnMix {
        InsnMix {
            alu: self.alu,
            mul: self.mul,
            load: self.load,
            store: self.store,
            branch: self.branch,
            ldm: self.ldm,
            ldm_regs: self.ldm_regs,
            stm: self.stm,
            stm_regs: self.stm_regs,
            coproc_read: self.coproc_read,
            coproc_write: self.coproc_write,
            barrier: self.barrier,
            isb: self.isb,
        }
    }

    /// True if the counts are an estimate.
    pub fn is_estimate(&self) -> bool {
        self.estimate.is_some()
    }
}

/// The paths of one kernel, for one ISA family (e.g. `aarch32`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodePaths {
    /// Syscall entry stub: saving the user registers.
    pub entry: Step,
    /// Exit stub: restoring the user registers and returning.
    pub exit: Step,
    /// fastpath_call, without MR copying, address-space switch and exit.
    pub fastpath_call: Step,
    /// fastpath_reply_recv, with the same exclusions.
    pub fastpath_reply_recv: Step,
    /// Per message register copied by the fastpath.
    pub copy_mr: Step,
    /// Dispatch of a slowpath syscall.
    pub slowpath_entry: Step,
    /// One level of capability lookup.
    pub lookup_level: Step,
    /// Decoding an endpoint invocation.
    pub decode_invocation: Step,
    /// sendIPC without the transfer.
    pub send_ipc: Step,
    /// receiveIPC without the transfer.
    pub receive_ipc: Step,
    /// doIPCTransfer fixed part.
    pub do_ipc_transfer: Step,
    /// Per message register copied between IPC buffers.
    pub copy_mr_buffer: Step,
    /// Creating the reply capability.
    pub setup_caller_cap: Step,
    /// doReplyTransfer fixed part incl. deleting the reply cap.
    pub do_reply_transfer: Step,
    /// schedule() without chooseThread.
    pub schedule: Step,
    /// chooseThread.
    pub choose_thread: Step,
    /// switchToThread without the address-space switch.
    pub switch_to_thread: Step,
    /// possibleSwitchTo.
    pub possible_switch_to: Step,
    /// One queue operation.
    pub tcb_queue_op: Step,
    /// handleFault + fault message set-up.
    pub handle_fault: Step,
    /// Returning a syscall error.
    pub syscall_error: Step,
    /// Design `ipc_target = "thread_id"`: finding the destination TCB from a thread ID through the
    /// virtual TCB array, with the validity checks (once per IPC).
    #[serde(default)]
    pub thread_id_lookup: Option<Step>,
    /// Design `timeouts = true`: examining the IPC's timeouts (once per IPC phase that could block).
    #[serde(default)]
    pub timeout_check: Option<Step>,
    /// Design `kernel_stack = "per_thread"`: switching to the next thread's kernel stack (stack
    /// pointer, and on x86 the TSS's ring-0 stack pointer), once per thread switch.
    #[serde(default)]
    pub stack_switch: Option<Step>,
    /// The branches a fastpath Call and a fastpath ReplyRecv both execute (entry and exit
    /// included) whose direction differs between the two: in a ping-pong they flip on every
    /// kernel entry, and the core's branch predictor decides what that costs.
    pub op_branches: OpBranches,
}

/// A preset's operation-dependent branches (see [`CodePaths::op_branches`]).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpBranches {
    /// How many.
    pub count: u32,
    /// Where they were read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why the count is an estimate.
    #[serde(default)]
    pub estimate: Option<String>,
}

/// The counts of a mechanism step the preset does not use.
static NO_STEP: Step = Step {
    alu: 0,
    mul: 0,
    load: 0,
    store: 0,
    branch: 0,
    ldm: 0,
    ldm_regs: 0,
    stm: 0,
    stm_regs: 0,
    coproc_read: 0,
    coproc_write: 0,
    barrier: 0,
    isb: 0,
    groups: 0,
    stall_cycles: 0,
    load_chain: Some(0),
    source: None,
    estimate: None,
};

impl CodePaths {
    /// Every step the preset gives, with its name (the optional mechanism steps only if present).
    pub fn steps(&self) -> Vec<(&'static str, &Step)> {
        StepId::ALL.iter().filter(|id| self.has(**id)).map(|id| (id.name(), self.step(*id))).collect()
    }

    /// True if the preset gives this step (always, except for the optional mechanism steps).
    pub fn has(&self, id: StepId) -> bool {
        match id {
            StepId::ThreadIdLookup => self.thread_id_lookup.is_some(),
            StepId::TimeoutCheck => self.timeout_check.is_some(),
            StepId::StackSwitch => self.stack_switch.is_some(),
            _ => true,
        }
    }
}

/// Names a step of [`CodePaths`] (for pricing and for the kernel text layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepId {
    /// The `entry` step.
    Entry,
    /// The `exit` step.
    Exit,
    /// The `fastpath_call` step.
    FastpathCall,
    /// The `fastpath_reply_recv` step.
    FastpathReplyRecv,
    /// The `copy_mr` step.
    CopyMr,
    /// The `slowpath_entry` step.
    SlowpathEntry,
    /// The `lookup_level` step.
    LookupLevel,
    /// The `decode_invocation` step.
    DecodeInvocation,
    /// The `send_ipc` step.
    SendIpc,
    /// The `receive_ipc` step.
    ReceiveIpc,
    /// The `do_ipc_transfer` step.
    DoIpcTransfer,
    /// The `copy_mr_buffer` step.
    CopyMrBuffer,
    /// The `setup_caller_cap` step.
    SetupCallerCap,
    /// The `do_reply_transfer` step.
    DoReplyTransfer,
    /// The `schedule` step.
    Schedule,
    /// The `choose_thread` step.
    ChooseThread,
    /// The `switch_to_thread` step.
    SwitchToThread,
    /// The `possible_switch_to` step.
    PossibleSwitchTo,
    /// The `tcb_queue_op` step.
    TcbQueueOp,
    /// The `handle_fault` step.
    HandleFault,
    /// The `syscall_error` step.
    SyscallError,
    /// The `thread_id_lookup` step (optional).
    ThreadIdLookup,
    /// The `timeout_check` step (optional).
    TimeoutCheck,
    /// The `stack_switch` step (optional).
    StackSwitch,
}

impl StepId {
    /// The steps a fastpath one-way IPC charges: entry, exit, the two fastpath steps, the register
    /// copy and the design's mechanism steps.
    pub const FASTPATH_IPC: [StepId; 8] = [
        StepId::Entry,
        StepId::Exit,
        StepId::FastpathCall,
        StepId::FastpathReplyRecv,
        StepId::CopyMr,
        StepId::ThreadIdLookup,
        StepId::TimeoutCheck,
        StepId::StackSwitch,
    ];

    /// Every step, in file order.
    pub const ALL: [StepId; 24] = [
        StepId::Entry,
        StepId::Exit,
        StepId::FastpathCall,
        StepId::FastpathReplyRecv,
        StepId::CopyMr,
        StepId::SlowpathEntry,
        StepId::LookupLevel,
        StepId::DecodeInvocation,
        StepId::SendIpc,
        StepId::ReceiveIpc,
        StepId::DoIpcTransfer,
        StepId::CopyMrBuffer,
        StepId::SetupCallerCap,
        StepId::DoReplyTransfer,
        StepId::Schedule,
        StepId::ChooseThread,
        StepId::SwitchToThread,
        StepId::PossibleSwitchTo,
        StepId::TcbQueueOp,
        StepId::HandleFault,
        StepId::SyscallError,
        StepId::ThreadIdLookup,
        StepId::TimeoutCheck,
        StepId::StackSwitch,
    ];

    /// The step's name in the preset file.
    pub fn name(self) -> &'static str {
        match self {
            StepId::Entry => "entry",
            StepId::Exit => "exit",
            StepId::FastpathCall => "fastpath_call",
            StepId::FastpathReplyRecv => "fastpath_reply_recv",
            StepId::CopyMr => "copy_mr",
            StepId::SlowpathEntry => "slowpath_entry",
            StepId::LookupLevel => "lookup_level",
            StepId::DecodeInvocation => "decode_invocation",
            StepId::SendIpc => "send_ipc",
            StepId::ReceiveIpc => "receive_ipc",
            StepId::DoIpcTransfer => "do_ipc_transfer",
            StepId::CopyMrBuffer => "copy_mr_buffer",
            StepId::SetupCallerCap => "setup_caller_cap",
            StepId::DoReplyTransfer => "do_reply_transfer",
            StepId::Schedule => "schedule",
            StepId::ChooseThread => "choose_thread",
            StepId::SwitchToThread => "switch_to_thread",
            StepId::PossibleSwitchTo => "possible_switch_to",
            StepId::TcbQueueOp => "tcb_queue_op",
            StepId::HandleFault => "handle_fault",
            StepId::SyscallError => "syscall_error",
            StepId::ThreadIdLookup => "thread_id_lookup",
            StepId::TimeoutCheck => "timeout_check",
            StepId::StackSwitch => "stack_switch",
        }
    }
}

impl CodePaths {
    /// The step named by `id`.
    pub fn step(&self, id: StepId) -> &Step {
        match id {
            StepId::Entry => &self.entry,
            StepId::Exit => &self.exit,
            StepId::FastpathCall => &self.fastpath_call,
            StepId::FastpathReplyRecv => &self.fastpath_reply_recv,
            StepId::CopyMr => &self.copy_mr,
            StepId::SlowpathEntry => &self.slowpath_entry,
            StepId::LookupLevel => &self.lookup_level,
            StepId::DecodeInvocation => &self.decode_invocation,
            StepId::SendIpc => &self.send_ipc,
            StepId::ReceiveIpc => &self.receive_ipc,
            StepId::DoIpcTransfer => &self.do_ipc_transfer,
            StepId::CopyMrBuffer => &self.copy_mr_buffer,
            StepId::SetupCallerCap => &self.setup_caller_cap,
            StepId::DoReplyTransfer => &self.do_reply_transfer,
            StepId::Schedule => &self.schedule,
            StepId::ChooseThread => &self.choose_thread,
            StepId::SwitchToThread => &self.switch_to_thread,
            StepId::PossibleSwitchTo => &self.possible_switch_to,
            StepId::TcbQueueOp => &self.tcb_queue_op,
            StepId::HandleFault => &self.handle_fault,
            StepId::SyscallError => &self.syscall_error,
            StepId::ThreadIdLookup => self.thread_id_lookup.as_ref().unwrap_or(&NO_STEP),
            StepId::TimeoutCheck => self.timeout_check.as_ref().unwrap_or(&NO_STEP),
            StepId::StackSwitch => self.stack_switch.as_ref().unwrap_or(&NO_STEP),
        }
    }
}

/// One way the kernel is entered for a system call and left again: the primitives, in order.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapMechanism {
    /// Primitives of kernel entry (e.g. `["syscall", "swapgs"]`).
    pub entry: Vec<String>,
    /// Primitives of the return to user mode (e.g. `["swapgs", "sysret"]`).
    pub exit: Vec<String>,
    /// Where the kernel's use of them was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why it is an assumption rather than read.
    #[serde(default)]
    pub estimate: Option<String>,
}

/// The primitives named (names were validated when the preset was loaded).
fn primitives_named(names: &[String]) -> Vec<Primitive> {
    names.iter().filter_map(|n| primitive_from_name(n)).collect()
}

impl TrapMechanism {
    /// The entry primitives.
    pub fn entry_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.entry)
    }

    /// The exit primitives.
    pub fn exit_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.exit)
    }
}

/// How the kernel uses x86 translation features (software facts; the CPU must also have them).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X86Paging {
    /// The kernel window is mapped with global pages (PGE), so it survives a CR3 write.
    pub global_kernel: bool,
    /// The kernel tags address spaces with PCIDs, so a CR3 write keeps user TLB entries.
    pub pcid: bool,
    /// Where this was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why it is an assumption.
    #[serde(default)]
    pub estimate: Option<String>,
}

/// What an IPC names as its destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcTarget {
    /// An endpoint capability, looked up in the sender's CSpace (seL4).
    #[default]
    Capability,
    /// A thread ID: the destination thread, found through the virtual TCB array (original L4,
    /// Hazelnut, Pistachio, OKL4 before capabilities).
    ThreadId,
}

/// Where the kernel runs on behalf of a thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelStack {
    /// One kernel stack per CPU: an event kernel (seL4, OKL4, NOVA).
    #[default]
    PerCpu,
    /// A kernel stack per thread, next to its TCB: a process kernel (original L4, Hazelnut,
    /// Pistachio); a thread switch switches stacks.
    PerThread,
}

/// How the kernel keeps address spaces apart on a switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressSpaces {
    /// A page-table switch; what the TLBs and caches keep is the hardware's (ASIDs, PCIDs, global
    /// pages; a virtually tagged cache is flushed).
    #[default]
    PageTable,
    /// Small address spaces (Liedtke, Pentium): small spaces share the page table and are
    /// separated by segment bases and limits, so a switch between them reloads segments and keeps
    /// the TLB.
    SmallSpaces,
    /// Fast address-space switching (Wiggins et al., ARMv5): spaces relocated by the FCSE PID and
    /// tagged by ARM domains, so a switch writes the DACR and PID and keeps caches and TLBs.
    Fass,
}

/// The design choices of the paper's Table IV that change what an IPC does, each a mechanism of
/// the kernel (absent: seL4's choices).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// What an IPC names.
    #[serde(default)]
    pub ipc_target: IpcTarget,
    /// IPC carries timeouts, examined on every IPC (`timeout_check` step).
    #[serde(default)]
    pub timeouts: bool,
    /// Kernel stacks.
    #[serde(default)]
    pub kernel_stack: KernelStack,
    /// Address-space separation.
    #[serde(default)]
    pub address_spaces: AddressSpaces,
    /// The Meltdown mitigation of today's x86-64 seL4 (`KernelSkimWindow`): user address spaces
    /// map only a small kernel window, so every kernel entry switches to the kernel's page tables
    /// and every exit back (the preset's `[skim_window.<isa>]` says what that adds); on ISAs for
    /// which the preset gives no `[skim_window]`, there is none.
    #[serde(default)]
    pub skim_window: bool,
    /// Every thread switch saves and restores the FPU state (seL4 since 14.0 for threads without
    /// `seL4_TCBFlag_fpuDisabled`); the preset's `[fpu_switch.<isa>]` says what that adds. Off, the
    /// preset's paths are those of threads that do not switch FPU state.
    #[serde(default)]
    pub fpu_switch: bool,
    /// Lazy scheduling (Liedtke): a thread that blocks in IPC stays in the ready queue, to be
    /// removed when the scheduler next meets it; otherwise it is dequeued when it blocks.
    #[serde(default)]
    pub lazy_scheduling: bool,
    /// Where the design was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why it is an assumption.
    #[serde(default)]
    pub estimate: Option<String>,
}

/// What the skim window adds on one ISA: page-table switches on every kernel entry and exit,
/// instead of one at a thread switch, and the extra instructions of the paths.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkimWindow {
    /// Primitives right after the hardware entry (the switch to the kernel's page tables).
    pub entry: Vec<String>,
    /// Primitives right before the hardware return (the switch back to the user's).
    pub exit: Vec<String>,
    /// The thread switch's address-space sequence with the skim window (it replaces
    /// `[vspace_switch]` for this ISA's architectures).
    pub vspace_switch: Vec<String>,
    /// Instructions added to steps, by step name.
    #[serde(default)]
    pub steps: BTreeMap<String, Step>,
    /// Where it was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why it is an assumption.
    #[serde(default)]
    pub estimate: Option<String>,
}

impl SkimWindow {
    /// The entry primitives.
    pub fn entry_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.entry)
    }

    /// The exit primitives.
    pub fn exit_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.exit)
    }

    /// The thread-switch sequence.
    pub fn switch_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.vspace_switch)
    }
}

/// What switching the FPU state on every thread switch adds on one ISA.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FpuSwitch {
    /// The thread-switch primitives with FPU switching (they replace `[thread_switch]`).
    pub thread_switch: Vec<String>,
    /// Instructions added to steps, by step name.
    #[serde(default)]
    pub steps: BTreeMap<String, Step>,
    /// Where it was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why it is an assumption.
    #[serde(default)]
    pub estimate: Option<String>,
}

impl FpuSwitch {
    /// The thread-switch primitives.
    pub fn switch_primitives(&self) -> Vec<Primitive> {
        primitives_named(&self.thread_switch)
    }
}

/// A kernel preset.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelPreset {
    /// Command-line name.
    pub name: String,
    /// What it models.
    pub description: String,
    /// The source version the counts were taken from.
    pub version: String,
    /// Paths per ISA family (`aarch32`, `ia32`, `x86_64`).
    pub code: BTreeMap<String, CodePaths>,
    /// Address-space switch primitive sequence per architecture (`armv7`, `armv6`, ...), as the
    /// IPC fastpath issues it.
    pub vspace_switch: BTreeMap<String, Vec<String>>,
    /// The slowpath's sequence, for architectures where its code differs from the fastpath's.
    #[serde(default)]
    pub vspace_switch_slowpath: BTreeMap<String, Vec<String>>,
    /// Kernel entry/exit per ISA family, alternatives in order of preference: the first one
    /// whose primitives the CPU has is used.
    pub trap: BTreeMap<String, Vec<TrapMechanism>>,
    /// x86 only, per ISA (`ia32`, `x86_64`): global kernel mappings and PCIDs.
    #[serde(default)]
    pub x86: BTreeMap<String, X86Paging>,
    /// Primitives issued when the kernel returns to a different thread than the one that entered
    /// (e.g. x86-64 seL4 writes the GS base for the new thread's IPC buffer), per architecture.
    #[serde(default)]
    pub thread_switch: BTreeMap<String, Vec<String>>,
    /// The design choices (absent: seL4's).
    #[serde(default)]
    pub design: Option<Design>,
    /// x86-64 Meltdown mitigation, per ISA (used when the design turns `skim_window` on).
    #[serde(default)]
    pub skim_window: BTreeMap<String, SkimWindow>,
    /// FPU-state switching on every thread switch, per ISA (used when the design turns
    /// `fpu_switch` on).
    #[serde(default)]
    pub fpu_switch: BTreeMap<String, FpuSwitch>,
}

/// Why a preset could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file could not be read.
    #[error("cannot read kernel preset {path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        err: std::io::Error,
    },
    /// Bad TOML or schema.
    #[error("invalid kernel preset {path}: {msg}")]
    Invalid {
        /// The file.
        path: String,
        /// What was wrong.
        msg: String,
    },
    /// The preset has no paths for this ISA / architecture.
    #[error("kernel preset {preset} does not support {what}")]
    Unsupported {
        /// The preset.
        preset: String,
        /// The missing ISA family or architecture.
        what: String,
    },
}

/// Parses a primitive name used in `vspace_switch` (a profile primitive key, see
/// [`Primitive::key`]).
pub fn primitive_from_name(n: &str) -> Option<Primitive> {
    Primitive::from_key(n)
}

impl KernelPreset {
    /// Parses and validates a preset from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<KernelPreset, PresetError> {
        let p: KernelPreset = toml::from_str(text)
            .map_err(|e| PresetError::Invalid { path: origin.into(), msg: e.to_string() })?;
        let invalid = |msg: String| PresetError::Invalid { path: origin.into(), msg };
        for (isa, paths) in &p.code {
            for (name, s) in paths.steps() {
                if s.source.is_some() == s.estimate.is_some() {
                    return Err(invalid(format!(
                        "code.{isa}.{name}: give exactly one of `source` or `estimate`"
                    )));
                }
            }
            // The fastpath one-way IPC's steps must say how its loads depend on each other
            // (unless they are a group schedule, whose stalls already say it).
            for id in StepId::FASTPATH_IPC {
                let s = paths.step(id);
                if paths.has(id) && s.groups == 0 && s.load_chain.is_none() {
                    return Err(invalid(format!(
                        "code.{isa}.{}: `load_chain` missing (a fastpath step counts its chain of dependent loads)",
                        id.name()
                    )));
                }
            }
            let ob = &paths.op_branches;
            if ob.source.is_some() == ob.estimate.is_some() {
                return Err(invalid(format!(
                    "code.{isa}.op_branches: give exactly one of `source` or `estimate`"
                )));
            }
        }
        for isa in p.code.keys() {
            if p.trap.get(isa).is_none_or(|t| t.is_empty()) {
                return Err(invalid(format!("trap.{isa}: missing (how the kernel is entered on {isa})")));
            }
        }
        for (isa, ts) in &p.trap {
            for t in ts {
                if t.source.is_some() == t.estimate.is_some() {
                    return Err(invalid(format!("trap.{isa}: give exactly one of `source` or `estimate`")));
                }
                if t.entry.is_empty() || t.exit.is_empty() {
                    return Err(invalid(format!("trap.{isa}: entry and exit need at least one primitive")));
                }
                if let Some(n) = t.entry.iter().chain(&t.exit).find(|n| primitive_from_name(n).is_none()) {
                    return Err(invalid(format!("trap.{isa}: unknown primitive `{n}`")));
                }
            }
        }
        if let Some(d) = &p.design {
            if d.source.is_some() == d.estimate.is_some() {
                return Err(invalid("design: give exactly one of `source` or `estimate`".into()));
            }
            for (isa, paths) in &p.code {
                for (needed, id) in [
                    (d.ipc_target == IpcTarget::ThreadId, StepId::ThreadIdLookup),
                    (d.timeouts, StepId::TimeoutCheck),
                    (d.kernel_stack == KernelStack::PerThread, StepId::StackSwitch),
                ] {
                    if needed && !paths.has(id) {
                        return Err(invalid(format!(
                            "code.{isa}.{}: required by the design, missing",
                            id.name()
                        )));
                    }
                }
            }
        }
        // A design variant's section: provenance, primitive names and step names must be known.
        let check_variant = |what: String,
                             provenance: (&Option<String>, &Option<String>),
                             prims: Vec<&String>,
                             steps: &BTreeMap<String, Step>|
         -> Result<(), PresetError> {
            if provenance.0.is_some() == provenance.1.is_some() {
                return Err(invalid(format!("{what}: give exactly one of `source` or `estimate`")));
            }
            if let Some(n) = prims.iter().find(|n| primitive_from_name(n).is_none()) {
                return Err(invalid(format!("{what}: unknown primitive `{n}`")));
            }
            if let Some(n) = steps.keys().find(|n| !StepId::ALL.iter().any(|id| id.name() == n.as_str())) {
                return Err(invalid(format!("{what}.steps: unknown step `{n}`")));
            }
            Ok(())
        };
        for (isa, w) in &p.skim_window {
            let prims = w.entry.iter().chain(&w.exit).chain(&w.vspace_switch).collect();
            check_variant(format!("skim_window.{isa}"), (&w.source, &w.estimate), prims, &w.steps)?;
        }
        for (isa, f) in &p.fpu_switch {
            let prims = f.thread_switch.iter().collect();
            check_variant(format!("fpu_switch.{isa}"), (&f.source, &f.estimate), prims, &f.steps)?;
        }
        for (isa, x) in &p.x86 {
            if x.source.is_some() == x.estimate.is_some() {
                return Err(invalid(format!("x86.{isa}: give exactly one of `source` or `estimate`")));
            }
        }
        for (arch, seq) in
            p.vspace_switch.iter().chain(p.vspace_switch_slowpath.iter()).chain(p.thread_switch.iter())
        {
            for n in seq {
                if primitive_from_name(n).is_none() {
                    return Err(PresetError::Invalid {
                        path: origin.into(),
                        msg: format!("vspace_switch.{arch}: unknown primitive `{n}`"),
                    });
                }
            }
        }
        Ok(p)
    }

    /// Loads a preset file.
    pub fn load(path: &Path) -> Result<KernelPreset, PresetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| PresetError::Io { path: path.display().to_string(), err })?;
        KernelPreset::from_toml(&text, &path.display().to_string())
    }

    /// The paths for an ISA family.
    pub fn paths(&self, isa: &str) -> Result<&CodePaths, PresetError> {
        self.code
            .get(isa)
            .ok_or_else(|| PresetError::Unsupported { preset: self.name.clone(), what: format!("ISA {isa}") })
    }

    /// The address-space switch sequence for an architecture.
    pub fn switch_sequence(&self, arch: &str) -> Result<Vec<Primitive>, PresetError> {
        let seq = self.vspace_switch.get(arch).ok_or_else(|| PresetError::Unsupported {
            preset: self.name.clone(),
            what: format!("architecture {arch}"),
        })?;
        Ok(seq.iter().filter_map(|n| primitive_from_name(n)).collect())
    }

    /// The slowpath's address-space switch sequence for an architecture (the fastpath's where the
    /// preset gives no separate one).
    pub fn slowpath_switch_sequence(&self, arch: &str) -> Result<Vec<Primitive>, PresetError> {
        match self.vspace_switch_slowpath.get(arch) {
            Some(seq) => Ok(seq.iter().filter_map(|n| primitive_from_name(n)).collect()),
            None => self.switch_sequence(arch),
        }
    }

    /// The kernel entry/exit for `isa` on a CPU that has the primitives `has` accepts: the first
    /// of the preset's alternatives that the CPU supports.
    pub fn trap_for(
        &self,
        isa: &str,
        has: impl Fn(Primitive) -> bool,
    ) -> Result<&TrapMechanism, PresetError> {
        let alts = self.trap.get(isa).ok_or_else(|| PresetError::Unsupported {
            preset: self.name.clone(),
            what: format!("ISA {isa} (no kernel entry given)"),
        })?;
        alts.iter()
            .find(|t| t.entry_primitives().into_iter().chain(t.exit_primitives()).all(&has))
            .ok_or_else(|| PresetError::Unsupported {
                preset: self.name.clone(),
                what: format!(
                    "this CPU on {isa}: it enters the kernel with {} and the CPU has none of them",
                    alts.iter().map(|t| t.entry.join("+")).collect::<Vec<_>>().join(" or ")
                ),
            })
    }

    /// The primitives of a switch to another thread on `arch` (none if the preset lists none).
    pub fn thread_switch_sequence(&self, arch: &str) -> Vec<Primitive> {
        self.thread_switch
            .get(arch)
            .map_or_else(Vec::new, |seq| seq.iter().filter_map(|n| primitive_from_name(n)).collect())
    }

    /// The x86 translation features the kernel uses on `isa` (none if not given).
    pub fn x86_paging(&self, isa: &str) -> X86Paging {
        self.x86.get(isa).cloned().unwrap_or_default()
    }

    /// The design choices (seL4's where the preset gives none).
    pub fn design(&self) -> Design {
        self.design.clone().unwrap_or_default()
    }

    /// How many steps (for `isa`) are estimates.
    pub fn estimate_count(&self, isa: &str) -> usize {
        self.code.get(isa).map_or(0, |c| c.steps().iter().filter(|(_, s)| s.is_estimate()).count())
    }

    /// How many estimates a fastpath one-way IPC on `isa` depends on: the estimated steps it charges
    /// (see [`KernelPreset::fastpath_estimate_count`]), its operation-dependent branches, and the design, the kernel entry chosen for
    /// the CPU (`has` says which primitives it has) and the x86 translation choices where those are
    /// marked as estimates.
    pub fn ipc_estimate_count(&self, isa: &str, has: impl Fn(Primitive) -> bool) -> usize {
        self.fastpath_estimate_count(isa)
            + self.code.get(isa).map_or(0, |c| usize::from(c.op_branches.estimate.is_some()))
            + self.design.as_ref().map_or(0, |d| usize::from(d.estimate.is_some()))
            + self.trap_for(isa, has).map_or(0, |t| usize::from(t.estimate.is_some()))
            + self.x86.get(isa).map_or(0, |x| usize::from(x.estimate.is_some()))
    }

    /// How many of the steps a fastpath one-way IPC charges (for `isa`) are estimates: entry,
    /// exit, the two fastpath steps, the register copy and the design's mechanism steps.
    pub fn fastpath_estimate_count(&self, isa: &str) -> usize {
        let Some(c) = self.code.get(isa) else { return 0 };
        StepId::FASTPATH_IPC.iter().filter(|id| c.has(**id) && c.step(**id).is_estimate()).count()
    }
}
