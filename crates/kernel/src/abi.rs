//! seL4's user ABI numbers that the kernel decodes: invocation labels and object types, as
//! seL4 16.0.0's libsel4 generates them for the default non-MCS configurations of aarch32
//! (imx6, Cortex-A9: no hypervisor, no SMP) and x86-64 (pc99: IOMMU and 1 GiB pages on, no VT-x,
//! no SMP). Labels are generated in one enumeration: the generic ones from 0, then the
//! architecture's, so code built against that libsel4 sends exactly these numbers.
//! (System-call numbers are [`crate::types::Syscall`], error codes [`crate::types::SysError`].)

/// Defines [`Label`] and its table from one list, so the two cannot disagree.
macro_rules! labels {
    ($($name:ident = $value:literal,)*) => {
        /// The generic invocation labels (`enum invocation_label`, non-MCS, no SMP, no hardware
        /// debug API): the same on every architecture.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u64)]
        #[allow(missing_docs)] // named as libsel4 names them
        pub enum Label {
            $($name = $value,)*
        }

        impl Label {
            const ALL: &'static [Label] = &[$(Label::$name,)*];
        }
    };
}

labels! {
    InvalidInvocation = 0,
    UntypedRetype = 1,
    TcbReadRegisters = 2,
    TcbWriteRegisters = 3,
    TcbCopyRegisters = 4,
    TcbConfigure = 5,
    TcbSetPriority = 6,
    TcbSetMcPriority = 7,
    TcbSetSchedParams = 8,
    TcbSetIpcBuffer = 9,
    TcbSetSpace = 10,
    TcbSuspend = 11,
    TcbResume = 12,
    TcbBindNotification = 13,
    TcbUnbindNotification = 14,
    TcbSetTlsBase = 15,
    TcbSetFlags = 16,
    CNodeRevoke = 17,
    CNodeDelete = 18,
    CNodeCancelBadgedSends = 19,
    CNodeCopy = 20,
    CNodeMint = 21,
    CNodeMove = 22,
    CNodeMutate = 23,
    CNodeRotate = 24,
    CNodeSaveCaller = 25,
    IrqIssueIrqHandler = 26,
    IrqAckIrq = 27,
    IrqSetIrqHandler = 28,
    IrqClearIrqHandler = 29,
    DomainSetSet = 30,
    DomainScheduleConfigure = 31,
    DomainScheduleSetStart = 32,
}

/// The first label after the generic ones (`nInvocationLabels`).
pub const N_GENERIC_LABELS: u64 = 33;

impl Label {
    /// The generic label a message carries, if it is one (architecture labels are not).
    pub fn from_word(w: u64) -> Option<Label> {
        Label::ALL.get(usize::try_from(w).ok()?).copied()
    }
}

/// seL4's generic object types (`seL4_ObjectType`, non-MCS); the architecture's types follow
/// from [`N_GENERIC_OBJECT_TYPES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
#[allow(missing_docs)]
pub enum ObjectType {
    Untyped = 0,
    Tcb = 1,
    Endpoint = 2,
    Notification = 3,
    CapTable = 4,
}

/// `seL4_NonArchObjectTypeCount`.
pub const N_GENERIC_OBJECT_TYPES: u64 = 5;

/// The seL4_UserContext order of an architecture (what TCB Read/Write/CopyRegisters transfer):
/// for each word, the index of the register in the simulator's saved context, or `None` for a
/// register the simulator does not model (the thread-ID registers TPIDRURW/TPIDRURO on aarch32,
/// the FS/GS bases on x86-64: they read as 0 and writes to them are dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserContextLayout {
    /// The words, in seL4_UserContext order.
    pub words: &'static [Option<usize>],
    /// How many of them are "frame" registers (`n_frameRegisters`); the rest are "gp" registers.
    pub frame: usize,
}

/// aarch32: pc, sp, cpsr, r0, r1, r8-r12 (frame), then r2-r7, lr, tpidrurw, tpidruro (gp).
pub const USER_CONTEXT_AARCH32: UserContextLayout = UserContextLayout {
    words: &[
        Some(15),
        Some(13),
        Some(16),
        Some(0),
        Some(1),
        Some(8),
        Some(9),
        Some(10),
        Some(11),
        Some(12),
        Some(2),
        Some(3),
        Some(4),
        Some(5),
        Some(6),
        Some(7),
        Some(14),
        None,
        None,
    ],
    frame: 10,
};

/// x86-64: rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15 (frame), fs_base,
/// gs_base (gp).
pub const USER_CONTEXT_X86_64: UserContextLayout = UserContextLayout {
    words: &[
        Some(16),
        Some(7),
        Some(17),
        Some(0),
        Some(1),
        Some(2),
        Some(3),
        Some(4),
        Some(5),
        Some(6),
        Some(8),
        Some(9),
        Some(10),
        Some(11),
        Some(12),
        Some(13),
        Some(14),
        Some(15),
        None,
        None,
    ],
    frame: 18,
};

/// The highest priority (`seL4_MaxPrio`).
pub const MAX_PRIO: u64 = 255;

/// Word offset of `caps_or_badges[0]` in the IPC buffer (`tag`, `msg[120]`, `userData` come first).
pub const IPC_BUFFER_CAPS_OR_BADGES: u64 = 1 + 120 + 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_stop_at_the_generic_range() {
        for (i, l) in Label::ALL.iter().enumerate() {
            assert_eq!(*l as u64, i as u64);
            assert_eq!(Label::from_word(i as u64), Some(*l));
        }
        assert_eq!(Label::from_word(N_GENERIC_LABELS), None);
        assert_eq!(Label::from_word(u64::MAX), None);
        // Spot checks against seL4 16.0.0's generated invocation.h.
        assert_eq!(Label::TcbBindNotification as u64, 13);
        assert_eq!(Label::CNodeSaveCaller as u64, 25);
    }

    #[test]
    fn user_context_layouts_have_the_sel4_lengths() {
        assert_eq!(USER_CONTEXT_AARCH32.words.len(), 19);
        assert_eq!(USER_CONTEXT_X86_64.words.len(), 20);
        assert_eq!(USER_CONTEXT_AARCH32.words[0], Some(15));
        assert_eq!(USER_CONTEXT_X86_64.words[0], Some(16));
    }
}
