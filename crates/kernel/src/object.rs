//! Kernel objects (seL4's Table III subset this kernel has so far) and capabilities.
//!
//! Every object has a simulated physical address, so the cost model's caches and TLBs see the
//! kernel's accesses to it; [`layout`] gives the offsets of the fields the IPC paths touch.

use crate::types::{AsidPoolId, CNodeId, EpId, FrameId, NtfnId, PtId, Rights, TcbId, UntypedId, VSpaceId};
use simcore::{Asid, PAddr, UserContext, VAddr};
use std::collections::VecDeque;

/// Offsets of the fields the kernel's paths touch inside objects, modelled on seL4's aarch32
/// layout (a 512-byte TCB block whose first half holds the TCB's CNode slots).
pub mod layout {
    /// Slot index of the CSpace root in a TCB's CNode.
    pub const SLOT_CTABLE: u64 = 0;
    /// Slot index of the VSpace root.
    pub const SLOT_VTABLE: u64 = 1;
    /// Slot index of the master reply cap.
    pub const SLOT_REPLY: u64 = 2;
    /// Slot index of the caller (reply) cap.
    pub const SLOT_CALLER: u64 = 3;
}

/// Where the fields the IPC paths touch lie in seL4's kernel objects, for one word size. Only the
/// cache lines matter to the model, so the offsets follow seL4's structure order (a TCB block whose
/// first half is the TCB's CNode, then `tcb_t`: the saved registers, thread state, queue links,
/// fault words) with sizes in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectLayout {
    /// Size of a TCB block (seL4_TCBBits: 9 on 32-bit, 11 on x86-64 with its FPU state).
    pub tcb_bytes: u64,
    /// Bytes per capability table entry (two-word cap + two-word MDB node).
    pub cte_bytes: u64,
    /// The saved user registers (the `tcb_t` proper starts at half the block).
    pub tcb_regs: u64,
    /// Thread state word(s), after the register file.
    pub tcb_state: u64,
    /// Endpoint/scheduler queue links and priority.
    pub tcb_queue: u64,
    /// Fault word(s) and fault handler.
    pub tcb_fault: u64,
    /// Size of an endpoint object (seL4_EndpointBits = 4: two words on 32-bit, 16 bytes on x86-64).
    pub ep_bytes: u64,
    /// Size of a notification object (seL4_NotificationBits: 4 on 32-bit, 5 on x86-64).
    pub ntfn_bytes: u64,
}

impl ObjectLayout {
    /// 32-bit seL4 (aarch32, IA-32): 4-byte words, 512-byte TCB blocks, 16-byte CTEs.
    pub const WORD32: ObjectLayout = ObjectLayout {
        tcb_bytes: 512,
        cte_bytes: 16,
        tcb_regs: 256,
        tcb_state: 256 + 0x50,
        tcb_queue: 256 + 0x60,
        tcb_fault: 256 + 0x70,
        ep_bytes: 16,
        ntfn_bytes: 16,
    };

    /// 64-bit seL4 (x86-64): 8-byte words, 2 KiB TCB blocks (seL4_TCBBits = 11), 32-byte CTEs; the
    /// `tcb_t` fields after a register file of twice the size.
    pub const WORD64: ObjectLayout = ObjectLayout {
        tcb_bytes: 2048,
        cte_bytes: 32,
        tcb_regs: 1024,
        tcb_state: 1024 + 0xa0,
        tcb_queue: 1024 + 0xc0,
        tcb_fault: 1024 + 0xe0,
        ep_bytes: 16,
        ntfn_bytes: 32,
    };

    /// The layout for a machine word of `bytes` bytes.
    pub fn for_word_bytes(bytes: u32) -> ObjectLayout {
        if bytes == 8 {
            ObjectLayout::WORD64
        } else {
            ObjectLayout::WORD32
        }
    }

    /// Offset of the TCB CNode's slot `index` in the TCB block.
    pub fn tcb_slot(&self, index: u64) -> u64 {
        index * self.cte_bytes
    }
}

/// A capability: a typed, rights-bearing reference to a kernel object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cap {
    /// An empty slot.
    #[default]
    Null,
    /// An endpoint capability with its badge and rights.
    Endpoint {
        /// The endpoint.
        ep: EpId,
        /// Badge delivered to receivers (0 = unbadged).
        badge: u64,
        /// Rights.
        rights: Rights,
    },
    /// A notification capability with its badge and rights (Write: Signal; Read: Wait, Poll).
    Notification {
        /// The notification.
        ntfn: NtfnId,
        /// Badge OR-ed into the notification word by a Signal through this capability.
        badge: u64,
        /// Rights.
        rights: Rights,
    },
    /// A reply capability (seL4 non-MCS): the master one lives in the TCB's reply slot, the
    /// one-shot one in the receiver's caller slot.
    Reply {
        /// The thread to reply to.
        tcb: TcbId,
        /// True for the master reply capability.
        master: bool,
        /// Whether the reply may grant capabilities.
        can_grant: bool,
    },
    /// A CNode capability with its guard.
    CNode {
        /// The CNode.
        cnode: CNodeId,
        /// Guard value.
        guard: u64,
        /// Guard size in bits.
        guard_bits: u8,
    },
    /// A thread capability.
    Tcb {
        /// The TCB.
        tcb: TcbId,
    },
    /// The root of an address space (seL4's page directory capability), with its ASID once assigned.
    VSpace {
        /// The VSpace.
        vspace: VSpaceId,
    },
    /// Untyped memory, from which Retype carves objects.
    Untyped {
        /// The region.
        ut: UntypedId,
        /// The watermark: bytes from the region's start already handed out (seL4's
        /// `capFreeIndex`, kept in bytes). Each capability to the region has its own.
        free: u64,
    },
    /// A frame of memory. Each capability to a frame maps it at most once (seL4's
    /// `capFMappedASID`/`capFMappedAddress`).
    Frame {
        /// The frame.
        frame: FrameId,
        /// The most a mapping through this capability may allow (seL4's `capFVMRights`).
        rights: FrameRights,
        /// Where this capability maps the frame, if it does.
        mapped: Option<FrameMapping>,
    },
    /// A page table below the VSpace root (ARM page table; x86-64 PDPT, page directory or page
    /// table). Whether and where it is mapped is kept in the object: only the original,
    /// unmapped capability may map it, and copies are made of mapped ones only.
    PageTable {
        /// The table.
        pt: PtId,
    },
    /// The authority to make ASID pools (seL4's `asid_control_cap`).
    AsidControl,
    /// An ASID pool: 2^asidLowBits address-space identifiers to assign to VSpace roots.
    AsidPool {
        /// The pool.
        pool: AsidPoolId,
    },
    /// The authority to issue IRQ handler capabilities (seL4's `irq_control_cap`).
    IrqControl,
    /// The authority to handle one IRQ: Ack, SetNotification, Clear.
    IrqHandler {
        /// The IRQ.
        irq: u32,
    },
}

/// The rights a frame capability allows its mappings (seL4's `vm_rights_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameRights {
    /// Mappings are kernel-only (seL4's VMKernelOnly): the user cannot touch them.
    KernelOnly,
    /// Read-only (VMReadOnly).
    ReadOnly,
    /// Read and write (VMReadWrite).
    ReadWrite,
}

impl FrameRights {
    /// maskVMRights: what remains of `self` under capability rights `r` (read, write).
    pub fn mask(self, read: bool, write: bool) -> FrameRights {
        match self {
            FrameRights::ReadOnly if read => FrameRights::ReadOnly,
            FrameRights::ReadWrite if read && write => FrameRights::ReadWrite,
            FrameRights::ReadWrite if read => FrameRights::ReadOnly,
            _ => FrameRights::KernelOnly,
        }
    }
}

/// Where a frame capability maps its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameMapping {
    /// The address space (seL4 records its ASID).
    pub vspace: VSpaceId,
    /// The virtual address.
    pub vaddr: u64,
}

impl Cap {
    /// seL4's name for the capability type, for diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cap::Null => "null_cap",
            Cap::Endpoint { .. } => "endpoint_cap",
            Cap::Notification { .. } => "notification_cap",
            Cap::Reply { .. } => "reply_cap",
            Cap::CNode { .. } => "cnode_cap",
            Cap::Tcb { .. } => "thread_cap",
            Cap::VSpace { .. } => "page_directory_cap",
            Cap::Frame { .. } => "frame_cap",
            Cap::Untyped { .. } => "untyped_cap",
            Cap::PageTable { .. } => "page_table_cap",
            Cap::AsidControl => "asid_control_cap",
            Cap::AsidPool { .. } => "asid_pool_cap",
            Cap::IrqControl => "irq_control_cap",
            Cap::IrqHandler { .. } => "irq_handler_cap",
        }
    }
}

/// A thread's scheduling/IPC state (seL4's `_thread_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Not runnable and not waiting (never started, suspended, or stopped after a fault with no handler).
    Inactive,
    /// Runnable.
    Running,
    /// Runnable; will re-execute its system call (or faulting instruction) when next activated.
    Restart,
    /// Waiting in an endpoint's receive queue.
    BlockedOnReceive {
        /// The endpoint.
        ep: EpId,
    },
    /// Waiting in an endpoint's send queue.
    BlockedOnSend {
        /// The endpoint.
        ep: EpId,
        /// Badge of the capability used.
        badge: u64,
        /// The capability had the Grant right.
        can_grant: bool,
        /// The capability had the GrantReply right.
        can_grant_reply: bool,
        /// The send is the first half of a Call.
        is_call: bool,
    },
    /// Waiting for a reply after a Call (or a fault message).
    BlockedOnReply,
    /// Waiting for a signal on a notification.
    BlockedOnNotification {
        /// The notification.
        ntfn: NtfnId,
    },
}

impl ThreadState {
    /// True for states the scheduler may run.
    pub fn is_runnable(self) -> bool {
        matches!(self, ThreadState::Running | ThreadState::Restart)
    }
}

/// A fault a thread took, as seL4 records it in `tcbFault` and sends in a fault message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A capability lookup failed (seL4_Fault_CapFault).
    CapFault {
        /// The capability address that failed.
        addr: u64,
        /// True if it failed in the receive phase.
        in_recv_phase: bool,
        /// The lookup failure.
        lookup: crate::cspace::LookupFault,
    },
    /// An unknown system call number (seL4_Fault_UnknownSyscall).
    UnknownSyscall {
        /// The syscall number register.
        number: u64,
    },
    /// A processor exception other than a memory fault (seL4_Fault_UserException).
    UserException {
        /// Architecture-specific exception number.
        number: u64,
        /// Architecture-specific code.
        code: u64,
    },
    /// A memory-management fault (seL4_Fault_VMFault).
    VmFault {
        /// The faulting address.
        addr: u64,
        /// True for an instruction fetch (prefetch abort).
        instruction: bool,
        /// Fault status, in the architecture's encoding as the backend reports it.
        fsr: u64,
    },
}

impl Fault {
    /// The fault message label (seL4_FaultType, non-MCS numbering).
    pub fn label(&self) -> u64 {
        match self {
            Fault::CapFault { .. } => 1,
            Fault::UnknownSyscall { .. } => 2,
            Fault::UserException { .. } => 3,
            Fault::VmFault { .. } => 5,
        }
    }
}

/// A thread control block.
#[derive(Clone, Debug)]
pub struct Tcb {
    /// Simulated physical address of the TCB block.
    pub paddr: PAddr,
    /// A name for reports.
    pub name: String,
    /// The saved user registers.
    pub context: UserContext,
    /// Scheduling/IPC state.
    pub state: ThreadState,
    /// Priority, 0..=255.
    pub priority: u8,
    /// Maximum controlled priority: the highest priority this thread, as an authority, may give
    /// a thread (seL4's `tcbMCP`).
    pub mcp: u8,
    /// The CSpace root capability (TCB slot CTable).
    pub cspace_root: Cap,
    /// The VSpace root capability (TCB slot VTable).
    pub vspace_root: Cap,
    /// The caller slot: the reply capability of the thread that Called this one.
    pub caller: Cap,
    /// Virtual address of the IPC buffer (0 = none).
    pub ipc_buffer: VAddr,
    /// Capability pointer of the fault handler endpoint (0 = none).
    pub fault_handler: u64,
    /// The fault being handled, if any.
    pub fault: Option<Fault>,
    /// In a ready queue.
    pub queued: bool,
    /// Where the thread resumes if restarted: its system call or faulting instruction (seL4's FaultIP).
    pub restart_pc: u64,
    /// Thread-ID kernels (design `ipc_target = "thread_id"`): the queue of threads sending to this
    /// one and the state of its receive, kept in the TCB as original L4 keeps it.
    pub own_ep: Option<crate::types::EpId>,
    /// The notification bound to this thread (seL4's `tcbBoundNotification`): a signal to it
    /// wakes the thread also while it waits on an endpoint.
    pub bound_ntfn: Option<NtfnId>,
    /// Preemption-timer ticks left in its time slice (seL4's `tcbTimeSlice`).
    pub time_slice: u32,
}

/// An endpoint's state (seL4's `EPState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpState {
    /// No one waiting.
    Idle,
    /// Senders waiting.
    Send,
    /// Receivers waiting.
    Recv,
}

/// An IPC endpoint: a queue of waiting senders or receivers.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Simulated physical address.
    pub paddr: PAddr,
    /// State.
    pub state: EpState,
    /// Waiting threads, head first.
    pub queue: VecDeque<TcbId>,
}

/// A notification's state (seL4's `NtfnState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtfnState {
    /// No signal pending, no one waiting.
    Idle,
    /// Threads waiting.
    Waiting,
    /// A signal pending: the word holds the OR of the badges.
    Active,
}

/// A notification: a word of signal bits, and a queue of waiting threads (seL4's `notification_t`).
#[derive(Clone, Debug)]
pub struct Notification {
    /// Simulated physical address.
    pub paddr: PAddr,
    /// State.
    pub state: NtfnState,
    /// The OR of the badges of the signals not yet received.
    pub word: u64,
    /// Waiting threads, head first.
    pub queue: VecDeque<TcbId>,
    /// The thread it is bound to.
    pub bound_tcb: Option<TcbId>,
}

/// A CNode: 2^radix capability slots.
#[derive(Clone, Debug)]
pub struct CNode {
    /// Simulated physical address.
    pub paddr: PAddr,
    /// Bytes per slot.
    pub slot_bytes: u64,
    /// log2 of the slot count.
    pub radix_bits: u8,
    /// The slots.
    pub slots: Vec<Cap>,
    /// Each slot's node in the capability derivation tree.
    pub mdb: Vec<MdbNode>,
}

/// A slot's place in the capability derivation tree (seL4's `mdb_node_t`): the slots form one
/// doubly linked list in depth-first order of derivation, and a slot's descendants are the run
/// of slots after it of which it is the parent (`isMDBParentOf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MdbNode {
    /// The previous slot in the list.
    pub prev: Option<crate::cspace::SlotRef>,
    /// The next slot in the list.
    pub next: Option<crate::cspace::SlotRef>,
    /// The capability may have children (an original, or a badged copy of an unbadged one).
    pub revocable: bool,
    /// The first capability with its badge (the badged copies after it are its children).
    pub first_badged: bool,
}

/// A region of untyped memory: a power-of-two block, aligned to its size.
#[derive(Clone, Debug)]
pub struct Untyped {
    /// Physical address.
    pub paddr: PAddr,
    /// log2 of the size.
    pub size_bits: u8,
    /// Device memory (only frames and untypeds may be made from it).
    pub device: bool,
}

/// A frame of physical memory.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Physical address.
    pub paddr: PAddr,
    /// log2 of the size.
    pub size_bits: u8,
    /// Device memory (a device's registers, outside RAM).
    pub device: bool,
}

/// A page-table object below the VSpace root, made by Retype.
#[derive(Clone, Debug)]
pub struct PageTableObject {
    /// Physical address.
    pub paddr: PAddr,
    /// The level it serves in an address space (1 = just below the root).
    pub level: u8,
    /// The address space and (rounded) virtual address it was mapped at, if it was (seL4 keeps
    /// this in the capability: `capPTMappedASID`, `capPTMappedAddress`).
    pub mapped: Option<(VSpaceId, u64)>,
}

/// An ASID pool: a page of VSpace roots indexed by the low bits of their ASIDs.
#[derive(Clone, Debug)]
pub struct AsidPool {
    /// Physical address (None: the initial pool of a system built by the host without a root
    /// task, which nothing can name).
    pub paddr: Option<PAddr>,
    /// The first ASID it serves (its index in the ASID table, shifted by asidLowBits).
    pub base: u64,
    /// The address spaces assigned, by ASID low bits.
    pub entries: Vec<Option<VSpaceId>>,
}

/// Access rights of a page mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmRights {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

/// One page mapping in a page table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Physical address of the page.
    pub paddr: PAddr,
    /// Rights.
    pub rights: VmRights,
    /// Accessible from user mode (false = kernel-only).
    pub user: bool,
    /// log2 of the size of the page it is part of (ARM's 64 KiB pages and 16 MiB supersections
    /// fill 16 entries, each mapping a sixteenth).
    pub size_bits: u8,
}

/// One page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pte {
    /// Nothing mapped.
    Empty,
    /// The next-level table (index into the VSpace's tables).
    Table(u32),
    /// A page. Below the last level a page is a large one (ARM section, x86 2 MiB or 1 GiB
    /// page); ARM's 64 KiB pages and 16 MiB supersections fill 16 consecutive entries.
    Page(Mapping),
}

/// A page table at some level of an address space (seL4's page directory, page table, PML4, ...).
#[derive(Clone, Debug)]
pub struct PageTable {
    /// Simulated physical address.
    pub paddr: PAddr,
    /// Level: 0 = the top-level table.
    pub level: u8,
    /// Entries.
    pub entries: Vec<Pte>,
    /// The page-table object it is (None: a table the host built, e.g. for a loaded image).
    pub object: Option<PtId>,
}

/// An address space: a tree of page tables; `tables[0]` is the top-level table.
#[derive(Clone, Debug)]
pub struct VSpace {
    /// Physical address of the top-level table.
    pub paddr: PAddr,
    /// The tag the cost model's TLBs and the backends' block caches use for it: unique per
    /// address space (its index + 1), whatever seL4 ASID it has.
    pub asid: Asid,
    /// The seL4 ASID assigned by an ASID pool (None: not a valid VSpace root yet, or any more).
    pub sel4_asid: Option<u64>,
    /// The tables, top-level first.
    pub tables: Vec<PageTable>,
}
