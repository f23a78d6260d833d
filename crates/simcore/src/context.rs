//! The user-visible register state as the kernel sees it after kernel entry, and the ABI roles
//! through which the (ISA-free) kernel reads and writes it.

/// Number of machine words in a saved user context. Large enough for every backend
/// (ARM: r0–r15 + CPSR; x86-64: 16 GPRs + RIP + RFLAGS + segment bases).
pub const CONTEXT_WORDS: usize = 32;

/// Maximum number of message registers passed in CPU registers by any supported ABI.
pub const MAX_REGISTER_MRS: usize = 4;

/// The saved user register file of one thread. The layout (which word is which register)
/// belongs to the ISA backend; the kernel only indexes it through a [`RegisterAbi`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserContext {
    /// Raw register words, in the backend's layout.
    pub words: [u64; CONTEXT_WORDS],
}

impl Default for UserContext {
    fn default() -> Self {
        UserContext { words: [0; CONTEXT_WORDS] }
    }
}

/// One word of a kernel-built fault message, as the architecture's seL4 ABI lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultWord {
    /// A saved user register (context index).
    Reg(usize),
    /// The faulting instruction's address (seL4's FaultIP).
    FaultIp,
    /// The system-call number (UnknownSyscall messages).
    SyscallNumber,
}

/// Where each ABI role lives in a [`UserContext`]. Built by the ISA backend (e.g. seL4's aarch32
/// ABI: r7 = syscall number, r0 = capability/badge, r1 = message info, r2–r5 = MR0–MR3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterAbi {
    /// Syscall number register.
    pub syscall: usize,
    /// Capability pointer on entry; badge on return from a receive.
    pub cap_or_badge: usize,
    /// Message-info word.
    pub msg_info: usize,
    /// Message registers held in CPU registers (only the first `n_register_mrs` are used).
    pub mrs: [usize; MAX_REGISTER_MRS],
    /// How many message registers travel in CPU registers.
    pub n_register_mrs: usize,
    /// Program counter (fault IP, restart point).
    pub pc: usize,
    /// Stack pointer.
    pub sp: usize,
    /// Bytes in a machine word (4 on aarch32 and IA-32, 8 on x86-64).
    pub word_bytes: u32,
    /// How many registers the kernel saves on entry and restores on exit (the user-visible state).
    pub saved_registers: u32,
    /// Size in bytes of the system-call instruction, for restarting a system call.
    pub syscall_insn_bytes: u64,
    /// The processor status/flags register (CPSR, RFLAGS).
    pub flags: usize,
    /// The bits of the flags register user code may set (a fault handler's reply can change only
    /// these: the condition flags, never the mode or privilege bits).
    pub user_flags_mask: u64,
    /// The flags register of a new thread (seL4's `Arch_initContext`: user mode, interrupts on).
    pub initial_flags: u64,
    /// Layout of the `seL4_Fault_UnknownSyscall` message (e.g. aarch32: R0–R7, FaultIP, SP, LR,
    /// CPSR, Syscall).
    pub unknown_syscall_msg: &'static [FaultWord],
}

impl UserContext {
    /// The word at `idx` (a role index from the [`RegisterAbi`]).
    pub fn get(&self, idx: usize) -> u64 {
        self.words[idx]
    }

    /// Sets the word at `idx`.
    pub fn set(&mut self, idx: usize, v: u64) {
        self.words[idx] = v;
    }
}
