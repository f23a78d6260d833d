//! The kernel's vocabulary: object identifiers, capability pointers, rights, message info,
//! seL4's error codes and system-call numbers.

use std::fmt;

/// Index of a TCB in the kernel's object store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcbId(pub u32);
/// Index of an Endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpId(pub u32);
/// Index of a Notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtfnId(pub u32);
/// Index of an Untyped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UntypedId(pub u32);
/// Index of a CNode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CNodeId(pub u32);
/// Index of a VSpace (top-level page table with its second-level tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VSpaceId(pub u32);
/// Index of a Frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameId(pub u32);
/// Index of a page-table object (any level below the VSpace root).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PtId(pub u32);
/// Index of an ASID pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsidPoolId(pub u32);

/// A capability pointer: an address in a thread's CSpace. User-supplied, so "an allegation"
/// until [`crate::cspace`] resolves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CPtr(pub u64);

impl fmt::Display for CPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cptr {:#x}", self.0)
    }
}

/// Capability rights, as seL4's `seL4_CapRights` (grantReply, grant, read, write).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights {
    /// May receive (Recv) / read.
    pub read: bool,
    /// May send (Send/Call) / write.
    pub write: bool,
    /// May grant capabilities (and create a full reply capability).
    pub grant: bool,
    /// May grant a reply capability only.
    pub grant_reply: bool,
}

impl Rights {
    /// All rights.
    pub const ALL: Rights = Rights { read: true, write: true, grant: true, grant_reply: true };
    /// Read only.
    pub const READ: Rights = Rights { read: true, write: false, grant: false, grant_reply: false };
    /// Write only.
    pub const WRITE: Rights = Rights { read: false, write: true, grant: false, grant_reply: false };

    /// The intersection of two rights sets (what `Mint` with a rights mask leaves).
    pub fn and(self, o: Rights) -> Rights {
        Rights {
            read: self.read && o.read,
            write: self.write && o.write,
            grant: self.grant && o.grant,
            grant_reply: self.grant_reply && o.grant_reply,
        }
    }
}

/// Maximum message length in words (`seL4_MsgMaxLength`).
pub const MSG_MAX_LENGTH: usize = 120;
/// Maximum extra capabilities per message (`seL4_MsgMaxExtraCaps`).
pub const MSG_MAX_EXTRA_CAPS: usize = 3;

/// The message-info word: label (20 bits on 32-bit, 52 on 64-bit) | capsUnwrapped (3) | extraCaps (2) | length (7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageInfo {
    /// Message label (or error code / fault type in kernel-generated messages).
    pub label: u64,
    /// Bitmask of extra capabilities that were unwrapped to badges.
    pub caps_unwrapped: u8,
    /// Number of extra capabilities.
    pub extra_caps: u8,
    /// Number of message registers.
    pub length: u8,
}

impl MessageInfo {
    /// Decodes a message-info word; a length above [`MSG_MAX_LENGTH`] is clamped, as seL4 does.
    pub fn from_word(w: u64) -> MessageInfo {
        let length = (w & 0x7f) as u8;
        MessageInfo {
            label: w >> 12,
            caps_unwrapped: ((w >> 9) & 0x7) as u8,
            extra_caps: ((w >> 7) & 0x3) as u8,
            length: length.min(MSG_MAX_LENGTH as u8),
        }
    }

    /// Encodes as a message-info word.
    pub fn to_word(self) -> u64 {
        (self.label << 12)
            | (u64::from(self.caps_unwrapped & 0x7) << 9)
            | (u64::from(self.extra_caps & 0x3) << 7)
            | u64::from(self.length & 0x7f)
    }

    /// A message with just a label and a length.
    pub fn new(label: u64, length: u8) -> MessageInfo {
        MessageInfo { label, caps_unwrapped: 0, extra_caps: 0, length }
    }
}

/// seL4's error codes (`seL4_Error`), returned to the caller of a failed invocation as the label of the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SysError {
    /// seL4_InvalidArgument.
    InvalidArgument = 1,
    /// seL4_InvalidCapability.
    InvalidCapability = 2,
    /// seL4_IllegalOperation.
    IllegalOperation = 3,
    /// seL4_RangeError.
    RangeError = 4,
    /// seL4_AlignmentError.
    AlignmentError = 5,
    /// seL4_FailedLookup.
    FailedLookup = 6,
    /// seL4_TruncatedMessage.
    TruncatedMessage = 7,
    /// seL4_DeleteFirst.
    DeleteFirst = 8,
    /// seL4_RevokeFirst.
    RevokeFirst = 9,
    /// seL4_NotEnoughMemory.
    NotEnoughMemory = 10,
}

/// seL4's non-MCS system calls (`seL4_Syscall_ID`), plus the debug calls the benchmarks use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// seL4_SysCall (-1).
    Call,
    /// seL4_SysReplyRecv (-2).
    ReplyRecv,
    /// seL4_SysSend (-3).
    Send,
    /// seL4_SysNBSend (-4).
    NBSend,
    /// seL4_SysRecv (-5).
    Recv,
    /// seL4_SysReply (-6).
    Reply,
    /// seL4_SysYield (-7).
    Yield,
    /// seL4_SysNBRecv (-8).
    NBRecv,
    /// seL4_SysDebugPutChar (-9, debug kernels).
    DebugPutChar,
    /// seL4_SysDebugHalt (-11, debug kernels): stops the simulation.
    DebugHalt,
}

impl Syscall {
    /// Decodes a syscall-number register (a negative number in two's complement of `word_bits`).
    pub fn from_word(w: u64, word_bytes: u32) -> Option<Syscall> {
        let v = if word_bytes == 4 { i64::from(w as u32 as i32) } else { w as i64 };
        Some(match v {
            -1 => Syscall::Call,
            -2 => Syscall::ReplyRecv,
            -3 => Syscall::Send,
            -4 => Syscall::NBSend,
            -5 => Syscall::Recv,
            -6 => Syscall::Reply,
            -7 => Syscall::Yield,
            -8 => Syscall::NBRecv,
            -9 => Syscall::DebugPutChar,
            -11 => Syscall::DebugHalt,
            _ => return None,
        })
    }

    /// The syscall number as seL4 defines it.
    pub fn number(self) -> i64 {
        match self {
            Syscall::Call => -1,
            Syscall::ReplyRecv => -2,
            Syscall::Send => -3,
            Syscall::NBSend => -4,
            Syscall::Recv => -5,
            Syscall::Reply => -6,
            Syscall::Yield => -7,
            Syscall::NBRecv => -8,
            Syscall::DebugPutChar => -9,
            Syscall::DebugHalt => -11,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_round_trips_and_matches_sel4_layout() {
        let mi = MessageInfo { label: 0x12345, caps_unwrapped: 5, extra_caps: 2, length: 9 };
        let w = mi.to_word();
        assert_eq!(w, (0x12345 << 12) | (5 << 9) | (2 << 7) | 9);
        assert_eq!(MessageInfo::from_word(w), mi);
    }

    #[test]
    fn overlong_message_length_is_clamped() {
        assert_eq!(MessageInfo::from_word(127).length as usize, MSG_MAX_LENGTH);
    }

    #[test]
    fn syscall_numbers_decode_in_32_and_64_bits() {
        assert_eq!(Syscall::from_word(0xffff_ffff, 4), Some(Syscall::Call));
        assert_eq!(Syscall::from_word(u64::MAX - 1, 8), Some(Syscall::ReplyRecv));
        assert_eq!(Syscall::from_word(0xffff_fff5, 4), Some(Syscall::DebugHalt));
        assert_eq!(Syscall::from_word(5, 4), None);
        for s in [Syscall::Call, Syscall::NBRecv, Syscall::DebugPutChar] {
            assert_eq!(Syscall::from_word(s.number() as u64, 8), Some(s));
        }
    }
}
