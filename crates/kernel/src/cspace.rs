//! CSpace addressing: seL4's guarded, multi-level capability lookup (`resolveAddressBits`).

use crate::object::{CNode, Cap};
use crate::types::{CNodeId, CPtr};
use simcore::PAddr;

/// Why a capability lookup failed (seL4's `lookup_fault`), as reported in a capability fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFault {
    /// The root (or an intermediate node) was not a CNode capability.
    InvalidRoot,
    /// No capability where one was needed.
    MissingCapability {
        /// Bits of the address left to resolve.
        bits_left: u8,
    },
    /// The address ran out of bits in the middle of a level.
    DepthMismatch {
        /// Bits left to resolve.
        bits_left: u8,
        /// Bits the level needed.
        bits_found: u8,
    },
    /// The guard did not match.
    GuardMismatch {
        /// Bits left to resolve.
        bits_left: u8,
        /// The guard found in the CNode capability.
        guard_found: u64,
        /// Its size in bits.
        guard_bits: u8,
    },
}

impl LookupFault {
    /// seL4's lookup-failure type number (`seL4_LookupFailureType`).
    pub fn type_number(&self) -> u64 {
        match self {
            LookupFault::InvalidRoot => 1,
            LookupFault::MissingCapability { .. } => 2,
            LookupFault::DepthMismatch { .. } => 3,
            LookupFault::GuardMismatch { .. } => 4,
        }
    }

    /// The words seL4 appends to a capability-fault message after the type.
    pub fn message_words(&self) -> Vec<u64> {
        match *self {
            LookupFault::InvalidRoot => vec![],
            LookupFault::MissingCapability { bits_left } => vec![u64::from(bits_left)],
            LookupFault::DepthMismatch { bits_left, bits_found } => {
                vec![u64::from(bits_left), u64::from(bits_found)]
            }
            LookupFault::GuardMismatch { bits_left, guard_found, guard_bits } => {
                vec![u64::from(bits_left), guard_found, u64::from(guard_bits)]
            }
        }
    }
}

/// Where a capability lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotRef {
    /// The CNode.
    pub cnode: CNodeId,
    /// The slot index.
    pub index: usize,
}

/// The result of a successful lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The slot found.
    pub slot: SlotRef,
    /// The capability in it (possibly Null).
    pub cap: Cap,
    /// CNode levels traversed (for the cost model).
    pub levels: u32,
    /// Address bits left unresolved: the lookup stopped at a slot that is not a CNode before the
    /// depth was used up (invocations accept that; CNode operations need 0).
    pub bits_left: u32,
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Resolves `cptr` (using its low `depth` bits) starting at the CNode capability `root`, as seL4's
/// `resolveAddressBits` does. `touched` receives the physical address of every slot read, in order,
/// so the caller can price the accesses.
pub fn resolve(
    cnodes: &[CNode],
    root: Cap,
    cptr: CPtr,
    depth: u32,
    touched: &mut Vec<PAddr>,
) -> Result<Lookup, LookupFault> {
    let mut node_cap = root;
    let mut n_bits = depth;
    let mut levels = 0u32;
    loop {
        let Cap::CNode { cnode, guard, guard_bits } = node_cap else {
            return Err(LookupFault::InvalidRoot);
        };
        let Some(node) = cnodes.get(cnode.0 as usize) else {
            return Err(LookupFault::InvalidRoot);
        };
        levels += 1;
        let radix = u32::from(node.radix_bits);
        let gbits = u32::from(guard_bits);
        let level_bits = radix + gbits;
        if level_bits == 0 {
            // A zero-sized level can never consume bits: treat as a depth mismatch rather than loop forever.
            return Err(LookupFault::DepthMismatch { bits_left: n_bits as u8, bits_found: 0 });
        }
        // (A shift by the whole word, a guardless level at depth 64, finds the empty guard,
        // as seL4's shift masked to the word radix does.)
        let found_guard = if gbits > n_bits {
            None
        } else {
            Some(cptr.0.checked_shr(n_bits - gbits).unwrap_or(0) & mask(gbits))
        };
        if found_guard != Some(guard & mask(gbits)) {
            return Err(LookupFault::GuardMismatch {
                bits_left: n_bits as u8,
                guard_found: guard,
                guard_bits,
            });
        }
        if level_bits > n_bits {
            return Err(LookupFault::DepthMismatch { bits_left: n_bits as u8, bits_found: level_bits as u8 });
        }
        let index = ((cptr.0 >> (n_bits - level_bits)) & mask(radix)) as usize;
        let slot = SlotRef { cnode, index };
        let cap = node.slots.get(index).copied().unwrap_or(Cap::Null);
        touched.push(node.paddr.offset(index as u64 * node.slot_bytes));
        if n_bits == level_bits {
            return Ok(Lookup { slot, cap, levels, bits_left: 0 });
        }
        n_bits -= level_bits;
        if !matches!(cap, Cap::CNode { .. }) {
            return Ok(Lookup { slot, cap, levels, bits_left: n_bits });
        }
        node_cap = cap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EpId, Rights};

    fn cnode(radix: u8) -> CNode {
        CNode {
            paddr: PAddr(0x1000),
            slot_bytes: 16,
            radix_bits: radix,
            slots: vec![Cap::Null; 1 << radix],
            mdb: vec![Default::default(); 1 << radix],
        }
    }

    fn ep(n: u32) -> Cap {
        Cap::Endpoint { ep: EpId(n), badge: 0, rights: Rights::ALL }
    }

    #[test]
    fn single_level_lookup_with_guard_finds_the_slot() {
        let mut nodes = vec![cnode(8)];
        nodes[0].slots[5] = ep(1);
        let root = Cap::CNode { cnode: CNodeId(0), guard: 0, guard_bits: 24 };
        let mut t = vec![];
        let l = resolve(&nodes, root, CPtr(5), 32, &mut t).expect("lookup");
        assert_eq!(l.cap, ep(1));
        assert_eq!(l.slot.index, 5);
        assert_eq!(t, vec![PAddr(0x1000 + 5 * 16)]);
    }

    #[test]
    fn guard_mismatch_is_reported_with_sel4_fields() {
        let nodes = vec![cnode(8)];
        let root = Cap::CNode { cnode: CNodeId(0), guard: 0, guard_bits: 24 };
        let err = resolve(&nodes, root, CPtr(0x100), 32, &mut vec![]).unwrap_err();
        assert_eq!(err, LookupFault::GuardMismatch { bits_left: 32, guard_found: 0, guard_bits: 24 });
    }

    #[test]
    fn two_level_lookup_descends_through_a_cnode_cap() {
        let mut nodes = vec![cnode(4), cnode(4)];
        nodes[0].slots[2] = Cap::CNode { cnode: CNodeId(1), guard: 0, guard_bits: 0 };
        nodes[1].slots[7] = ep(9);
        let root = Cap::CNode { cnode: CNodeId(0), guard: 0, guard_bits: 24 };
        let l = resolve(&nodes, root, CPtr(0x27), 32, &mut vec![]).expect("lookup");
        assert_eq!(l.cap, ep(9));
        assert_eq!(l.levels, 2);
    }

    #[test]
    fn depth_mismatch_and_invalid_root() {
        let nodes = vec![cnode(8)];
        let root = Cap::CNode { cnode: CNodeId(0), guard: 0, guard_bits: 0 };
        assert!(matches!(
            resolve(&nodes, root, CPtr(1), 4, &mut vec![]),
            Err(LookupFault::DepthMismatch { .. })
        ));
        assert_eq!(resolve(&nodes, Cap::Null, CPtr(1), 32, &mut vec![]), Err(LookupFault::InvalidRoot));
    }
}
