//! Untyped memory and Retype: seL4's `decodeUntypedInvocation` and `invokeUntyped_Retype`,
//! non-MCS. Objects are carved from the region at naturally aligned addresses above the
//! capability's watermark; their capabilities are children of the untyped capability in the
//! derivation tree, so revoking it deletes them, and a Retype that finds no children starts the
//! region again from its base.
//!
//! Object types: every generic one (Untyped, TCB, Endpoint, Notification, CapTable) and, on
//! aarch32 and x86-64, the architecture's (VSpace roots, page tables, frames of every page size;
//! see `vm`), except x86-64's IOMMU page tables, which are refused with IllegalOperation. Frames
//! of normal memory are zeroed. The simulator also bounds a CNode at 2^20 slots (host memory): a
//! larger one is NotEnoughMemory.
//!
//! Pricing: the presets count no Retype path yet; it is charged the `decode_invocation` step,
//! the lookups and the slot writes.

use crate::abi::{Label, ObjectType, N_GENERIC_OBJECT_TYPES};
use crate::cspace::{LookupFault, SlotRef};
use crate::object::{Cap, MdbNode, Untyped};
use crate::tcb::{Invocation, InvocationError};
use crate::types::{Rights, SysError, UntypedId};
use crate::vm::ArchObject;
use crate::Kernel;
use simcore::PAddr;

/// seL4_MinUntypedBits.
const MIN_UNTYPED_BITS: u64 = 4;
/// CONFIG_RETYPE_FAN_OUT_LIMIT.
const FAN_OUT_LIMIT: u64 = 256;
/// The largest CNode the simulator makes (host memory), in radix bits.
const MAX_CNODE_RADIX: u64 = 20;

impl Kernel {
    /// seL4_MaxUntypedBits: 29 on 32-bit seL4, 47 on 64-bit.
    fn max_untyped_bits(&self) -> u64 {
        if self.abi.word_bytes == 4 {
            29
        } else {
            47
        }
    }

    /// The number of object types (`seL4_ObjectTypeCount`): aarch32 has 11, x86-64 13.
    fn object_type_count(&self) -> u64 {
        if self.abi.word_bytes == 4 {
            11
        } else {
            13
        }
    }

    /// Creates an untyped region of 2^size_bits bytes (as boot hands them out).
    pub fn create_untyped(&mut self, size_bits: u8) -> Result<UntypedId, crate::KernelError> {
        let max = self.max_untyped_bits();
        if u64::from(size_bits) < MIN_UNTYPED_BITS || u64::from(size_bits) > max {
            return Err(crate::KernelError::Invalid(format!(
                "an untyped of 2^{size_bits} bytes (seL4 allows 2^{MIN_UNTYPED_BITS}..2^{max})"
            )));
        }
        let bytes = 1u64 << size_bits;
        let paddr = self.alloc_phys(bytes, bytes)?;
        self.untypeds.push(Untyped { paddr, size_bits, device: false });
        Ok(UntypedId((self.untypeds.len() - 1) as u32))
    }

    /// A device untyped region: a device's registers at `paddr` (outside RAM), from which only
    /// frames and untypeds can be made (as boot lists the platform's devices).
    pub fn create_device_untyped(
        &mut self,
        paddr: PAddr,
        size_bits: u8,
    ) -> Result<UntypedId, crate::KernelError> {
        let bytes = 1u64 << size_bits;
        let (lo, hi) = (self.ram_base.0, self.ram_base.0 + self.ram_size);
        if paddr.0 % bytes != 0 || (paddr.0 < hi && paddr.0 + bytes > lo) {
            return Err(crate::KernelError::Invalid(format!(
                "a device region at {:#x}+{bytes:#x} must be aligned and outside RAM",
                paddr.0
            )));
        }
        self.untypeds.push(Untyped { paddr, size_bits, device: true });
        Ok(UntypedId((self.untypeds.len() - 1) as u32))
    }

    /// Whether an untyped region is device memory.
    pub fn untyped_is_device(&self, ut: UntypedId) -> bool {
        self.untypeds.get(ut.0 as usize).is_some_and(|u| u.device)
    }

    /// Boot's create_untypeds: all RAM not yet allocated becomes untyped regions, cut greedily
    /// from the start into the largest naturally aligned power-of-two blocks (2^4 to
    /// seL4_MaxUntypedBits; smaller fragments are dropped), at most `max` of them. Afterwards
    /// nothing is left to allocate outside them.
    pub fn claim_remaining_memory(&mut self, max: usize) -> Vec<UntypedId> {
        let end = self.ram_base.0 + self.ram_size;
        let mut at = self.next_free.next_multiple_of(1 << MIN_UNTYPED_BITS);
        let mut out = Vec::new();
        while out.len() < max && end.saturating_sub(at) >= 1 << MIN_UNTYPED_BITS {
            let align_bits = u64::from(at.trailing_zeros()).min(63);
            let fit_bits = 63 - u64::from((end - at).leading_zeros());
            let bits = align_bits.min(fit_bits).min(self.max_untyped_bits());
            self.untypeds.push(Untyped { paddr: PAddr(at), size_bits: bits as u8, device: false });
            out.push(UntypedId((self.untypeds.len() - 1) as u32));
            at += 1 << bits;
        }
        self.next_free = end;
        out
    }

    /// An untyped region's base and size in bits.
    pub fn untyped_region(&self, ut: UntypedId) -> Option<(PAddr, u8)> {
        self.untypeds.get(ut.0 as usize).map(|u| (u.paddr, u.size_bits))
    }

    /// The physical range of the object a capability names, if it names one.
    pub(crate) fn cap_range(&self, cap: &Cap) -> Option<(u64, u64)> {
        Some(match *cap {
            Cap::Endpoint { ep, .. } => (self.endpoints.get(ep.0 as usize)?.paddr.0, self.layout.ep_bytes),
            Cap::Notification { ntfn, .. } => {
                (self.ntfns.get(ntfn.0 as usize)?.paddr.0, self.layout.ntfn_bytes)
            }
            Cap::CNode { cnode, .. } => {
                let c = self.cnodes.get(cnode.0 as usize)?;
                (c.paddr.0, c.slot_bytes << c.radix_bits)
            }
            Cap::Tcb { tcb } => (self.tcbs.get(tcb.0 as usize)?.paddr.0, self.layout.tcb_bytes),
            Cap::Untyped { ut, .. } => {
                let u = self.untypeds.get(ut.0 as usize)?;
                (u.paddr.0, 1u64 << u.size_bits)
            }
            Cap::Frame { frame, .. } => {
                let f = self.frames.get(frame.0 as usize)?;
                (f.paddr.0, 1u64 << f.size_bits)
            }
            Cap::VSpace { vspace } => {
                (self.vspaces.get(vspace.0 as usize)?.paddr.0, self.geo.root_table_bytes())
            }
            Cap::PageTable { pt } => {
                let t = self.page_tables.get(pt.0 as usize)?;
                (t.paddr.0, self.geo.table_bytes(usize::from(t.level).max(1)))
            }
            Cap::AsidPool { pool } => (self.asid_pools.get(pool.0 as usize)?.paddr?.0, 4096),
            Cap::Null | Cap::Reply { .. } | Cap::AsidControl | Cap::IrqControl | Cap::IrqHandler { .. } => {
                return None
            }
        })
    }

    /// insertNewCap: a capability to a new object, a child of the untyped capability it was
    /// made from, right after it in the tree.
    pub(crate) fn insert_new_cap(&mut self, parent: SlotRef, dest: SlotRef, cap: Cap) {
        let next = self.mdb_of(parent).next;
        self.write_slot(dest, cap, MdbNode { prev: Some(parent), next, revocable: true, first_badged: true });
        self.set_next(Some(parent), Some(dest));
        self.set_prev(next, Some(dest));
    }

    /// decodeUntypedInvocation and invokeUntyped_Retype, on the untyped capability in `slot`.
    pub(crate) fn invoke_untyped(
        &mut self,
        slot: SlotRef,
        inv: &Invocation<'_>,
        mem: &mut dyn simcore::PhysMem,
    ) -> Result<(), InvocationError> {
        if Label::from_word(inv.info.label) != Some(Label::UntypedRetype) {
            return Err((SysError::IllegalOperation, vec![]));
        }
        let truncated = || (SysError::TruncatedMessage, vec![]);
        if inv.mrs.len() < 6 {
            return Err(truncated());
        }
        let root = inv.caps.first().copied().ok_or_else(truncated)?;
        let (ty, user_size, node_index, node_depth, node_offset, num) =
            (inv.mrs[0], inv.mrs[1], inv.mrs[2], inv.mrs[3], inv.mrs[4], inv.mrs[5]);
        if ty >= self.object_type_count() {
            return Err((SysError::InvalidArgument, vec![0]));
        }
        let word_bits = u64::from(self.abi.word_bytes) * 8;
        let slot_bits = self.layout.cte_bytes.trailing_zeros() as u64;
        let generic = |t: ObjectType| ty == t as u64;
        let arch = self.arch_object(ty);
        let object_bits = if let Some(o) = arch {
            self.arch_object_bits(o)
        } else if generic(ObjectType::CapTable) {
            slot_bits + user_size
        } else if generic(ObjectType::Untyped) {
            user_size
        } else if generic(ObjectType::Endpoint) {
            u64::from(self.layout.ep_bytes.trailing_zeros())
        } else if generic(ObjectType::Notification) {
            u64::from(self.layout.ntfn_bytes.trailing_zeros())
        } else {
            u64::from(self.layout.tcb_bytes.trailing_zeros())
        };
        if user_size >= word_bits || object_bits > self.max_untyped_bits() {
            return Err((SysError::RangeError, vec![0, self.max_untyped_bits()]));
        }
        if generic(ObjectType::CapTable) && user_size == 0 {
            return Err((SysError::InvalidArgument, vec![1]));
        }
        if generic(ObjectType::Untyped) && user_size < MIN_UNTYPED_BITS {
            return Err((SysError::InvalidArgument, vec![1]));
        }
        // The destination CNode.
        let node_cap = if node_depth == 0 {
            root
        } else {
            let s = self.lookup_slot_for_cnode_op(root, node_index, node_depth, false)?;
            self.slot_cap(s)
        };
        let Cap::CNode { cnode, .. } = node_cap else {
            let lf = LookupFault::MissingCapability { bits_left: node_depth as u8 };
            let mut d = vec![0, lf.type_number()];
            d.extend(lf.message_words());
            return Err((SysError::FailedLookup, d));
        };
        let node_size = 1u64 << self.cnodes[cnode.0 as usize].radix_bits;
        if node_offset > node_size - 1 {
            return Err((SysError::RangeError, vec![0, node_size - 1]));
        }
        if !(1..=FAN_OUT_LIMIT).contains(&num) {
            return Err((SysError::RangeError, vec![1, FAN_OUT_LIMIT]));
        }
        if num > node_size - node_offset {
            return Err((SysError::RangeError, vec![1, node_size - node_offset]));
        }
        for i in node_offset..node_offset + num {
            if self.slot_cap(SlotRef { cnode, index: i as usize }) != Cap::Null {
                return Err((SysError::DeleteFirst, vec![]));
            }
        }
        // The watermark: an untyped without children starts again from its base.
        let Cap::Untyped { ut, free } = self.slot_cap(slot) else {
            return Err((SysError::IllegalOperation, vec![]));
        };
        let has_children = self.mdb_of(slot).next.is_some_and(|n| self.is_mdb_parent_of(slot, n));
        let free = if has_children { free } else { 0 };
        let region = &self.untypeds[ut.0 as usize];
        let (base, block_bits, device) = (region.paddr.0, u64::from(region.size_bits), region.device);
        let free_bytes = (1u64 << block_bits).saturating_sub(free);
        let fits = if object_bits >= 64 { 0 } else { free_bytes >> object_bits };
        if fits < num {
            return Err((SysError::NotEnoughMemory, vec![free_bytes]));
        }
        if device && !generic(ObjectType::Untyped) && !matches!(arch, Some(ArchObject::Frame(_))) {
            return Err((SysError::InvalidArgument, vec![1]));
        }
        // Types this kernel cannot make yet (TCBs, the architecture's), and CNodes beyond the
        // simulator's bound.
        let supported = [
            ObjectType::Untyped,
            ObjectType::Tcb,
            ObjectType::Endpoint,
            ObjectType::Notification,
            ObjectType::CapTable,
        ];
        let arch_ok = matches!(arch, Some(a) if a != ArchObject::Unsupported);
        if !arch_ok && (ty >= N_GENERIC_OBJECT_TYPES || !supported.iter().any(|t| generic(*t))) {
            return Err((SysError::IllegalOperation, vec![]));
        }
        if generic(ObjectType::CapTable) && user_size > MAX_CNODE_RADIX {
            return Err((SysError::NotEnoughMemory, vec![free_bytes]));
        }
        let size = 1u64 << object_bits;
        let aligned = (base + free).next_multiple_of(size);
        // invokeUntyped_Retype: the watermark moves past the new objects.
        let new_free = aligned + num * size - base;
        let mdb = self.mdb_of(slot);
        self.write_slot(slot, Cap::Untyped { ut, free: new_free }, mdb);
        for i in 0..num {
            let paddr = PAddr(aligned + i * size);
            let cap = match arch {
                Some(o) => self.create_arch_object(o, paddr, device, mem),
                None => self.create_object(ty, paddr, user_size, device),
            };
            self.insert_new_cap(slot, SlotRef { cnode, index: (node_offset + i) as usize }, cap);
        }
        Ok(())
    }

    /// createObject for the generic types this kernel makes.
    fn create_object(&mut self, ty: u64, paddr: PAddr, user_size: u64, device: bool) -> Cap {
        match ty {
            t if t == ObjectType::Endpoint as u64 => {
                Cap::Endpoint { ep: self.new_endpoint(paddr), badge: 0, rights: Rights::ALL }
            }
            t if t == ObjectType::Notification as u64 => {
                let rights = Rights { read: true, write: true, grant: false, grant_reply: false };
                Cap::Notification { ntfn: self.new_notification(paddr), badge: 0, rights }
            }
            t if t == ObjectType::Tcb as u64 => {
                // Inactive, priority and MCP 0, no CSpace or VSpace until Configure/SetSpace.
                Cap::Tcb { tcb: self.new_tcb(paddr, "retyped", Cap::Null, Cap::Null, 0, 0) }
            }
            t if t == ObjectType::CapTable as u64 => {
                Cap::CNode { cnode: self.new_cnode(paddr, user_size as u8), guard: 0, guard_bits: 0 }
            }
            _ => {
                self.untypeds.push(Untyped { paddr, size_bits: user_size as u8, device });
                Cap::Untyped { ut: UntypedId((self.untypeds.len() - 1) as u32), free: 0 }
            }
        }
    }
}
