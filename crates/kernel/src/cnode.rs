//! The capability derivation tree and the CNode invocations: seL4's `cteInsert`, `cteMove`,
//! `cteSwap`, `cteDelete`, `cteRevoke`, `isMDBParentOf`, `isFinalCapability`, `finaliseCap`,
//! and `decodeCNodeInvocation` (Copy, Mint, Move, Mutate, Rotate, Delete, Revoke, SaveCaller,
//! CancelBadgedSends), non-MCS.
//!
//! The tree covers CNode slots. A thread's own slots (CSpace and VSpace roots, the caller slot)
//! are fields of its TCB here, outside the tree; `isFinalCapability` looks at them too, so a
//! CNode or address space a thread still uses is never finalised under it. Reply capabilities
//! stay outside the tree (their lifetime is the call's), as do the TCB-held copies.
//!
//! Revoke and Delete have seL4's preemption points: every 100 capabilities deleted (by a Revoke,
//! or with a CNode whose last capability is deleted) they check whether an interrupt is due, and
//! if so stop; the thread restarts its system call after the interrupt and the work goes on where
//! it stopped. One difference: a CNode half emptied that way keeps its capability as it was until
//! the deletion completes, where seL4 turns it into a Zombie that nothing else may use.
//!
//! A finalised object is dead: no capability may name it, and its memory can be retyped once its
//! untyped is revoked.
//!
//! Pricing: the presets count no CNode operations yet; an invocation is charged the
//! `decode_invocation` step, one `lookup_level` step per CNode level resolved, and its slot
//! accesses; each capability deleted (by Delete, Revoke, or with its CNode) is charged one more
//! `decode_invocation` step as a stand-in for cteDelete's work, so that a long Revoke takes time
//! and meets its preemption points.

use crate::abi::Label;
use crate::cspace::{self, LookupFault, SlotRef};
use crate::object::{Cap, EpState, MdbNode, NtfnState, ThreadState};
use crate::tcb::{Invocation, InvocationError};
use crate::types::{CNodeId, CPtr, EpId, NtfnId, Rights, SysError, TcbId};
use crate::Kernel;

/// seL4's `CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION`.
const WORK_UNITS_PER_PREEMPTION: u32 = 100;

fn illegal() -> InvocationError {
    (SysError::IllegalOperation, vec![])
}

/// The object a capability names, for sameObjectAs (None: it names none, e.g. Null).
pub(crate) fn object_of(c: &Cap) -> Option<(u8, u64)> {
    Some(match *c {
        Cap::Null => return None,
        Cap::Endpoint { ep, .. } => (1, u64::from(ep.0)),
        Cap::Notification { ntfn, .. } => (2, u64::from(ntfn.0)),
        Cap::Reply { tcb, .. } => (3, u64::from(tcb.0)),
        Cap::CNode { cnode, .. } => (4, u64::from(cnode.0)),
        Cap::Tcb { tcb } => (5, u64::from(tcb.0)),
        Cap::VSpace { vspace } => (6, u64::from(vspace.0)),
        Cap::Frame { frame, .. } => (7, u64::from(frame.0)),
        Cap::Untyped { ut, .. } => (8, u64::from(ut.0)),
        Cap::PageTable { pt } => (9, u64::from(pt.0)),
        Cap::AsidPool { pool } => (10, u64::from(pool.0)),
        Cap::AsidControl => (11, 0),
        Cap::IrqControl => (12, 0),
        Cap::IrqHandler { irq } => (13, u64::from(irq)),
    })
}

/// sameObjectAs (and, for the objects this kernel has, sameRegionAs).
pub(crate) fn same_object(a: &Cap, b: &Cap) -> bool {
    // (object_of: its kind and index)
    object_of(a).is_some() && object_of(a) == object_of(b)
}

fn badge_of(c: &Cap) -> Option<u64> {
    match *c {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => Some(badge),
        _ => None,
    }
}

/// isCapRevocable: a copy that applies a badge is the parent of its own copies, and a copy of
/// an untyped capability is the parent of what is retyped from it.
fn is_cap_revocable(new: &Cap, src: &Cap) -> bool {
    if matches!(new, Cap::Untyped { .. }) {
        return true;
    }
    match (badge_of(new), badge_of(src)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// maskCapRights.
fn mask_rights(rights: u64, cap: Cap) -> Cap {
    let r = Rights {
        write: rights & 1 != 0,
        read: rights & 2 != 0,
        grant: rights & 4 != 0,
        grant_reply: rights & 8 != 0,
    };
    match cap {
        Cap::Endpoint { ep, badge, rights } => Cap::Endpoint { ep, badge, rights: rights.and(r) },
        Cap::Notification { ntfn, badge, rights } => {
            let keep = Rights { grant: false, grant_reply: false, ..r };
            Cap::Notification { ntfn, badge, rights: rights.and(keep) }
        }
        Cap::Reply { tcb, master, can_grant } => Cap::Reply { tcb, master, can_grant: can_grant && r.grant },
        Cap::Frame { frame, rights, mapped } => {
            Cap::Frame { frame, rights: rights.mask(r.read, r.write), mapped }
        }
        other => other,
    }
}

impl Kernel {
    // ---- slots ----

    pub(crate) fn slot_cap(&self, s: SlotRef) -> Cap {
        self.cnodes.get(s.cnode.0 as usize).and_then(|c| c.slots.get(s.index)).copied().unwrap_or(Cap::Null)
    }

    pub(crate) fn mdb_of(&self, s: SlotRef) -> MdbNode {
        self.cnodes.get(s.cnode.0 as usize).and_then(|c| c.mdb.get(s.index)).copied().unwrap_or_default()
    }

    pub(crate) fn write_slot(&mut self, s: SlotRef, cap: Cap, mdb: MdbNode) {
        if let Some(c) = self.cnodes.get_mut(s.cnode.0 as usize) {
            if s.index < c.slots.len() {
                c.slots[s.index] = cap;
                c.mdb[s.index] = mdb;
            }
        }
        if let Some(pa) =
            self.cnodes.get(s.cnode.0 as usize).map(|c| c.paddr.offset(s.index as u64 * c.slot_bytes))
        {
            self.touch(pa, self.layout.cte_bytes);
        }
    }

    pub(crate) fn set_prev(&mut self, s: Option<SlotRef>, prev: Option<SlotRef>) {
        if let Some(s) = s {
            let mut m = self.mdb_of(s);
            m.prev = prev;
            let cap = self.slot_cap(s);
            self.write_slot(s, cap, m);
        }
    }

    pub(crate) fn set_next(&mut self, s: Option<SlotRef>, next: Option<SlotRef>) {
        if let Some(s) = s {
            let mut m = self.mdb_of(s);
            m.next = next;
            let cap = self.slot_cap(s);
            self.write_slot(s, cap, m);
        }
    }

    // ---- the derivation tree ----

    /// cteInsert: `cap`, derived from the one in `src`, goes into the empty `dest`, right after
    /// its source in the tree.
    pub(crate) fn cte_insert(&mut self, cap: Cap, src: SlotRef, dest: SlotRef) {
        // setUntypedCapAsFull: a copy of an untyped capability leaves the original unable to
        // allocate (only the copy, its child, may).
        if let (Cap::Untyped { ut, .. }, Cap::Untyped { ut: src_ut, .. }) = (cap, self.slot_cap(src)) {
            if ut == src_ut {
                let full = 1u64 << self.untypeds[ut.0 as usize].size_bits;
                let m = self.mdb_of(src);
                self.write_slot(src, Cap::Untyped { ut, free: full }, m);
            }
        }
        let src_mdb = self.mdb_of(src);
        let revocable = is_cap_revocable(&cap, &self.slot_cap(src));
        let mdb = MdbNode { prev: Some(src), next: src_mdb.next, revocable, first_badged: revocable };
        self.write_slot(dest, cap, mdb);
        self.set_next(Some(src), Some(dest));
        self.set_prev(mdb.next, Some(dest));
    }

    /// Installs an original capability (as boot does, and Retype): a root of the tree. A second
    /// capability to an object that already has one in the tree is inserted after it as its
    /// copy, so that all capabilities to one object stay adjacent (what `isFinalCapability`
    /// relies on).
    pub(crate) fn install_cap(&mut self, cap: Cap, dest: SlotRef) {
        let existing = (0..self.cnodes.len()).find_map(|c| {
            let node = &self.cnodes[c];
            (0..node.slots.len())
                .find(|i| same_object(&node.slots[*i], &cap))
                .map(|index| SlotRef { cnode: CNodeId(c as u32), index })
        });
        match existing {
            Some(src) if !matches!(cap, Cap::Reply { .. }) => self.cte_insert(cap, src, dest),
            _ => {
                let original = !matches!(cap, Cap::Reply { .. } | Cap::Null);
                let mdb = MdbNode { prev: None, next: None, revocable: original, first_badged: original };
                self.write_slot(dest, cap, mdb);
            }
        }
    }

    /// cteMove: `cap` (the capability in `src`, possibly changed) moves to the empty `dest` and
    /// takes its place in the tree.
    fn cte_move(&mut self, cap: Cap, src: SlotRef, dest: SlotRef) {
        let mdb = self.mdb_of(src);
        self.write_slot(src, Cap::Null, MdbNode::default());
        self.write_slot(dest, cap, mdb);
        self.set_next(mdb.prev, Some(dest));
        self.set_prev(mdb.next, Some(dest));
    }

    /// cteSwap: the two slots exchange capabilities and places in the tree.
    fn cte_swap(&mut self, cap1: Cap, slot1: SlotRef, cap2: Cap, slot2: SlotRef) {
        let (m1, m2) = (self.mdb_of(slot1), self.mdb_of(slot2));
        let fix = |x: Option<SlotRef>| match x {
            Some(s) if s == slot1 => Some(slot2),
            Some(s) if s == slot2 => Some(slot1),
            other => other,
        };
        // Slot1's new node is slot2's old one and vice versa, with references between the two
        // swapped (they may be neighbours).
        let n1 = MdbNode { prev: fix(m2.prev), next: fix(m2.next), ..m2 };
        let n2 = MdbNode { prev: fix(m1.prev), next: fix(m1.next), ..m1 };
        self.write_slot(slot1, cap2, n1);
        self.write_slot(slot2, cap1, n2);
        for (node, me) in [(n1, slot1), (n2, slot2)] {
            if node.prev != Some(slot1) && node.prev != Some(slot2) {
                self.set_next(node.prev, Some(me));
            }
            if node.next != Some(slot1) && node.next != Some(slot2) {
                self.set_prev(node.next, Some(me));
            }
        }
    }

    /// isMDBParentOf(a, b).
    pub(crate) fn is_mdb_parent_of(&self, a: SlotRef, b: SlotRef) -> bool {
        let (ma, mb) = (self.mdb_of(a), self.mdb_of(b));
        let (ca, cb) = (self.slot_cap(a), self.slot_cap(b));
        if !ma.revocable || !self.same_region(&ca, &cb) {
            return false;
        }
        match (badge_of(&ca), badge_of(&cb)) {
            (Some(0), _) => true,
            (Some(x), Some(y)) => x == y && !mb.first_badged,
            _ => true,
        }
    }

    /// sameRegionAs: an untyped capability covers every object inside its region; IRQ control
    /// covers every IRQ handler (so that handlers are its children and its Revoke deletes them);
    /// other capabilities, their own object.
    fn same_region(&self, a: &Cap, b: &Cap) -> bool {
        match a {
            Cap::IrqControl => matches!(b, Cap::IrqControl | Cap::IrqHandler { .. }),
            Cap::Untyped { .. } => match (self.cap_range(a), self.cap_range(b)) {
                (Some((a0, an)), Some((b0, bn))) => b0 >= a0 && b0 + bn <= a0 + an,
                _ => false,
            },
            _ => same_object(a, b),
        }
    }

    /// isFinalCapability: no other capability to the object, in the tree next to it or held by
    /// a thread (its CSpace or VSpace root). Untyped capabilities are always final (their
    /// finalisation does nothing).
    pub(crate) fn is_final(&self, s: SlotRef) -> bool {
        let cap = self.slot_cap(s);
        if matches!(cap, Cap::Untyped { .. }) {
            return true;
        }
        let m = self.mdb_of(s);
        let neighbour = |x: Option<SlotRef>| x.is_some_and(|x| same_object(&self.slot_cap(x), &cap));
        if neighbour(m.prev) || neighbour(m.next) {
            return false;
        }
        !self.tcbs.iter().any(|t| same_object(&t.cspace_root, &cap) || same_object(&t.vspace_root, &cap))
    }

    /// emptySlot: the slot leaves the tree; a following badged copy inherits "first badged".
    fn empty_slot(&mut self, s: SlotRef) {
        if self.slot_cap(s) == Cap::Null {
            return;
        }
        let m = self.mdb_of(s);
        self.set_next(m.prev, m.next);
        self.set_prev(m.next, m.prev);
        if let Some(n) = m.next {
            let mut nm = self.mdb_of(n);
            nm.first_badged |= m.first_badged;
            let cap = self.slot_cap(n);
            self.write_slot(n, cap, nm);
        }
        self.write_slot(s, Cap::Null, MdbNode::default());
    }

    /// cteDelete: finalise the capability if it is the last one to its object, then empty the
    /// slot.
    ///
    /// Returns false if it stopped at a preemption point (deleting a CNode's contents), with the
    /// capability still in its slot.
    pub(crate) fn cte_delete(&mut self, s: SlotRef) -> bool {
        // A frame capability's own mapping goes with it, final or not.
        self.unmap_frame_cap(s);
        let cap = self.slot_cap(s);
        if cap == Cap::Null {
            return true;
        }
        // Stand-in price of cteDelete's work until the presets count it (see the module note).
        self.charge_step(crate::preset::StepId::DecodeInvocation, simcore::Category::KernelPath);
        if self.is_final(s) && !self.finalise_cap(cap) {
            return false;
        }
        self.empty_slot(s);
        true
    }

    /// cteRevoke: delete every descendant of the capability.
    /// Returns false if it stopped at a preemption point (an interrupt is due) with children
    /// left: the caller restarts it after the interrupt.
    pub(crate) fn cte_revoke(&mut self, s: SlotRef) -> bool {
        while let Some(next) = self.mdb_of(s).next {
            if !self.is_mdb_parent_of(s, next) {
                break;
            }
            if !self.cte_delete(next) || !self.preemption_point() {
                return false;
            }
        }
        true
    }

    /// preemptionPoint: every `WORK_UNITS_PER_PREEMPTION` units of work, whether an interrupt
    /// is due (false: stop here).
    pub(crate) fn preemption_point(&mut self) -> bool {
        self.work_units += 1;
        if self.work_units < WORK_UNITS_PER_PREEMPTION {
            return true;
        }
        self.work_units = 0;
        if self.interrupt_due() {
            self.preempted = true;
            return false;
        }
        true
    }

    /// finaliseCap for the last capability to an object. Endpoints, notifications, CNodes,
    /// threads and untyped regions die with it (their memory may be retyped again).
    ///
    /// Returns false if a CNode's contents were not all deleted (an interrupt is due): the
    /// capability stays, the CNode partly emptied, and a restarted deletion goes on from there.
    fn finalise_cap(&mut self, cap: Cap) -> bool {
        // Untyped capabilities are always "final" (seL4's sameObjectAs never matches them), but
        // the region lives on while another capability (a copy) names it.
        let region_lives_on = matches!(cap, Cap::Untyped { .. })
            && self.cnodes.iter().flat_map(|c| &c.slots).filter(|c| same_object(c, &cap)).count() > 1;
        let dies = matches!(
            cap,
            Cap::Endpoint { .. }
                | Cap::Notification { .. }
                | Cap::CNode { .. }
                | Cap::Untyped { .. }
                | Cap::Tcb { .. }
                | Cap::Frame { .. }
                | Cap::PageTable { .. }
                | Cap::VSpace { .. }
                | Cap::AsidPool { .. }
        );
        match cap {
            Cap::Endpoint { ep, .. } => self.cancel_all_ipc(ep),
            Cap::Notification { ntfn, .. } => {
                if let Some(t) = self.ntfns[ntfn.0 as usize].bound_tcb.take() {
                    self.tcbs[t.0 as usize].bound_ntfn = None;
                }
                self.cancel_all_signals(ntfn);
            }
            Cap::Tcb { tcb } => {
                if let Some(n) = self.tcbs[tcb.0 as usize].bound_ntfn.take() {
                    self.ntfns[n.0 as usize].bound_tcb = None;
                }
                self.suspend(tcb);
                // Its own slots go with it: the roots and a reply capability it held (whose
                // caller then waits for good, as in seL4).
                let t = &mut self.tcbs[tcb.0 as usize];
                t.cspace_root = Cap::Null;
                t.vspace_root = Cap::Null;
                t.caller = Cap::Null;
            }
            Cap::CNode { cnode, .. } => {
                // The CNode's contents go with it (seL4 does this through a Zombie, slot by
                // slot, with a preemption point each).
                if self.finalising.contains(&cnode) {
                    return true;
                }
                self.finalising.push(cnode);
                for index in 0..self.cnodes[cnode.0 as usize].slots.len() {
                    let slot = SlotRef { cnode, index };
                    let held = self.slot_cap(slot) != Cap::Null;
                    if !self.cte_delete(slot) || (held && !self.preemption_point()) {
                        self.finalising.retain(|c| *c != cnode);
                        return false;
                    }
                }
                self.finalising.retain(|c| *c != cnode);
            }
            Cap::VSpace { vspace } => {
                self.finalise_arch_cap(cap);
                // Its tables' memory may be retyped now: nothing may walk or write them.
                self.vspaces[vspace.0 as usize].tables.clear();
            }
            Cap::PageTable { .. } | Cap::AsidPool { .. } => self.finalise_arch_cap(cap),
            Cap::IrqHandler { irq } => self.finalise_irq_handler(irq),
            Cap::Null
            | Cap::Reply { .. }
            | Cap::Frame { .. }
            | Cap::Untyped { .. }
            | Cap::AsidControl
            | Cap::IrqControl => {}
        }
        if dies && !region_lives_on {
            if let Some(o) = object_of(&cap) {
                self.dead.insert(o);
            }
        }
        true
    }

    /// Threads taken off a queue restart their system calls.
    fn restart_all(&mut self, waiting: Vec<TcbId>) {
        for t in waiting {
            self.set_state(t, ThreadState::Restart);
            self.sched_enqueue(t);
        }
        self.reschedule_required();
    }

    /// cancelAllIPC: every waiting thread restarts its system call.
    fn cancel_all_ipc(&mut self, ep: EpId) {
        let e = &mut self.endpoints[ep.0 as usize];
        let waiting: Vec<TcbId> = e.queue.drain(..).collect();
        e.state = EpState::Idle;
        self.restart_all(waiting);
    }

    /// cancelAllSignals: every waiting thread restarts its Wait.
    fn cancel_all_signals(&mut self, n: NtfnId) {
        let x = &mut self.ntfns[n.0 as usize];
        if x.state != NtfnState::Waiting {
            return;
        }
        let waiting: Vec<TcbId> = x.queue.drain(..).collect();
        x.state = NtfnState::Idle;
        self.restart_all(waiting);
    }

    /// cancelBadgedSends: senders with this badge restart their system calls.
    fn cancel_badged_sends(&mut self, ep: EpId, badge: u64) {
        let queue: Vec<TcbId> = self.endpoints[ep.0 as usize].queue.iter().copied().collect();
        for t in queue {
            if matches!(self.tcbs[t.0 as usize].state, ThreadState::BlockedOnSend { badge: b, .. } if b == badge)
            {
                self.cancel_ipc(t);
                self.set_state(t, ThreadState::Restart);
                self.sched_enqueue(t);
            }
        }
        self.reschedule_required();
    }

    /// isMDBParentOf, for the kernel's unit tests.
    #[cfg(test)]
    pub(crate) fn is_mdb_parent_of_pub(&self, a: SlotRef, b: SlotRef) -> bool {
        self.is_mdb_parent_of(a, b)
    }

    /// cteSwap of two slots' own capabilities, for the kernel's unit tests.
    #[cfg(test)]
    pub(crate) fn cte_swap_pub(&mut self, a: SlotRef, b: SlotRef) {
        let (ca, cb) = (self.slot_cap(a), self.slot_cap(b));
        self.cte_swap(ca, a, cb, b);
    }

    // ---- CNode invocations ----

    /// lookupSlotForCNodeOp: the slot `index` names at exactly `depth` bits under the CNode
    /// capability `root`.
    pub(crate) fn lookup_slot_for_cnode_op(
        &mut self,
        root: Cap,
        index: u64,
        depth: u64,
        is_source: bool,
    ) -> Result<SlotRef, InvocationError> {
        let word_bits = u64::from(self.abi.word_bytes) * 8;
        let failed = |lf: LookupFault| failed_lookup(is_source, lf);
        if !matches!(root, Cap::CNode { .. }) {
            return Err(failed(LookupFault::InvalidRoot));
        }
        if depth < 1 || depth > word_bits {
            return Err((SysError::RangeError, vec![1, word_bits]));
        }
        let mut touched = Vec::new();
        let r = cspace::resolve(&self.cnodes, root, CPtr(index), depth as u32, &mut touched);
        let levels = touched.len().max(1) as u32;
        self.charge_step_n(crate::preset::StepId::LookupLevel, simcore::Category::KernelPath, levels);
        for pa in touched {
            self.touch(pa, self.layout.cte_bytes);
        }
        let l = r.map_err(failed)?;
        if l.bits_left != 0 {
            return Err(failed(LookupFault::DepthMismatch { bits_left: l.bits_left as u8, bits_found: 0 }));
        }
        Ok(l.slot)
    }

    /// updateCapData: a badge for an unbadged endpoint or notification capability (not when
    /// `preserve`), a guard for a CNode capability; `None` where the change is not allowed.
    pub(crate) fn update_cap_data(&self, preserve: bool, data: u64, cap: Cap) -> Option<Cap> {
        let word_bits = self.abi.word_bytes * 8;
        match cap {
            Cap::Endpoint { ep, badge: 0, rights } if !preserve => {
                Some(Cap::Endpoint { ep, badge: data & self.badge_mask(), rights })
            }
            Cap::Notification { ntfn, badge: 0, rights } if !preserve => {
                Some(Cap::Notification { ntfn, badge: data & self.badge_mask(), rights })
            }
            Cap::Endpoint { .. } | Cap::Notification { .. } => None,
            Cap::CNode { cnode, .. } => {
                let (size, guard) =
                    if word_bits == 32 { ((data >> 3) & 0x1f, data >> 8) } else { (data & 0x3f, data >> 6) };
                let radix = u64::from(self.cnodes[cnode.0 as usize].radix_bits);
                if size + radix > u64::from(word_bits) {
                    return None;
                }
                let mask = if size >= 64 { u64::MAX } else { (1u64 << size) - 1 };
                Some(Cap::CNode { cnode, guard: guard & mask, guard_bits: size as u8 })
            }
            other => Some(other),
        }
    }

    /// The width of a badge: 28 bits on 32-bit seL4, 64 on 64-bit.
    fn badge_mask(&self) -> u64 {
        if self.abi.word_bytes == 4 {
            (1 << 28) - 1
        } else {
            u64::MAX
        }
    }

    /// decodeCNodeInvocation and its invocation, on the CNode capability `service`.
    pub(crate) fn invoke_cnode(&mut self, service: Cap, inv: &Invocation<'_>) -> Result<(), InvocationError> {
        let label = Label::from_word(inv.info.label).ok_or_else(illegal)?;
        let first = Label::CNodeRevoke as u64;
        if !(first..=Label::CNodeSaveCaller as u64).contains(&(label as u64)) {
            return Err(illegal());
        }
        let mr = |i: usize| inv.mrs.get(i).copied().ok_or((SysError::TruncatedMessage, vec![]));
        let (index, depth) = (mr(0)?, mr(1)?);
        let dest = self.lookup_slot_for_cnode_op(service, index, depth, false)?;
        match label {
            Label::CNodeCopy | Label::CNodeMint | Label::CNodeMove | Label::CNodeMutate => {
                let (src_index, src_depth) = (mr(2)?, mr(3)?);
                let src_root = inv.caps.first().copied().ok_or((SysError::TruncatedMessage, vec![]))?;
                if self.slot_cap(dest) != Cap::Null {
                    return Err((SysError::DeleteFirst, vec![]));
                }
                let src = self.lookup_slot_for_cnode_op(src_root, src_index, src_depth, true)?;
                let src_cap = self.slot_cap(src);
                if src_cap == Cap::Null {
                    return Err(failed_lookup(
                        true,
                        LookupFault::MissingCapability { bits_left: src_depth as u8 },
                    ));
                }
                // deriveCap: an untyped capability with children cannot be copied.
                let parent_of_next = self.mdb_of(src).next.is_some_and(|n| self.is_mdb_parent_of(src, n));
                if matches!(label, Label::CNodeCopy | Label::CNodeMint)
                    && matches!(src_cap, Cap::Untyped { .. })
                    && parent_of_next
                {
                    return Err((SysError::RevokeFirst, vec![]));
                }
                let new_cap = match label {
                    Label::CNodeCopy => self.derive_cap(mask_rights(mr(4)?, src_cap)),
                    Label::CNodeMint => {
                        let masked = mask_rights(mr(4)?, src_cap);
                        self.update_cap_data(false, mr(5)?, masked).and_then(|c| self.derive_cap(c))
                    }
                    Label::CNodeMove => Some(src_cap),
                    _ => self.update_cap_data(true, mr(4)?, src_cap),
                };
                let new_cap = new_cap.filter(|c| *c != Cap::Null).ok_or_else(illegal)?;
                if matches!(label, Label::CNodeCopy | Label::CNodeMint) {
                    self.cte_insert(new_cap, src, dest);
                } else {
                    self.cte_move(new_cap, src, dest);
                }
                Ok(())
            }
            Label::CNodeRevoke => {
                self.cte_revoke(dest);
                Ok(())
            }
            Label::CNodeDelete => {
                self.cte_delete(dest);
                Ok(())
            }
            Label::CNodeSaveCaller => {
                if self.slot_cap(dest) != Cap::Null {
                    return Err((SysError::DeleteFirst, vec![]));
                }
                let caller = inv.caller;
                if let reply @ Cap::Reply { master: false, .. } = self.tcbs[caller.0 as usize].caller {
                    self.tcbs[caller.0 as usize].caller = Cap::Null;
                    self.write_slot(dest, reply, MdbNode::default());
                }
                Ok(())
            }
            Label::CNodeCancelBadgedSends => match self.slot_cap(dest) {
                Cap::Endpoint { ep, badge, rights } if rights == Rights::ALL => {
                    if badge != 0 {
                        self.cancel_badged_sends(ep, badge);
                    }
                    Ok(())
                }
                _ => Err(illegal()),
            },
            Label::CNodeRotate => {
                let (pivot_data, pivot_index, pivot_depth) = (mr(2)?, mr(3)?, mr(4)?);
                let (src_data, src_index, src_depth) = (mr(5)?, mr(6)?, mr(7)?);
                let (Some(&pivot_root), Some(&src_root)) = (inv.caps.first(), inv.caps.get(1)) else {
                    return Err((SysError::TruncatedMessage, vec![]));
                };
                let src = self.lookup_slot_for_cnode_op(src_root, src_index, src_depth, true)?;
                let pivot = self.lookup_slot_for_cnode_op(pivot_root, pivot_index, pivot_depth, true)?;
                if pivot == src || pivot == dest {
                    return Err(illegal());
                }
                if src != dest && self.slot_cap(dest) != Cap::Null {
                    return Err((SysError::DeleteFirst, vec![]));
                }
                for (slot, depth, was_source) in [(src, src_depth, 1), (pivot, pivot_depth, 0)] {
                    if self.slot_cap(slot) == Cap::Null {
                        let lf = LookupFault::MissingCapability { bits_left: depth as u8 };
                        let mut d = vec![was_source, lf.type_number()];
                        d.extend(lf.message_words());
                        return Err((SysError::FailedLookup, d));
                    }
                }
                let new_src = self.update_cap_data(true, src_data, self.slot_cap(src)).ok_or_else(illegal)?;
                let new_pivot =
                    self.update_cap_data(true, pivot_data, self.slot_cap(pivot)).ok_or_else(illegal)?;
                if src == dest {
                    self.cte_swap(new_src, src, new_pivot, pivot);
                } else {
                    self.cte_move(new_pivot, pivot, dest);
                    self.cte_move(new_src, src, pivot);
                }
                Ok(())
            }
            _ => Err(illegal()),
        }
    }
}

/// The FailedLookup error of a lookup fault (`failedLookupWasSource`, the fault's type and its
/// words).
pub(crate) fn failed_lookup(is_source: bool, lf: LookupFault) -> InvocationError {
    let mut d = vec![u64::from(is_source), lf.type_number()];
    d.extend(lf.message_words());
    (SysError::FailedLookup, d)
}

impl Kernel {
    /// deriveCap: a reply capability cannot be copied; a copy of a frame capability maps
    /// nothing; page tables and VSpace roots can be copied only once mapped (so that only the
    /// original may map them); the rest are copied as they are.
    pub(crate) fn derive_cap(&self, cap: Cap) -> Option<Cap> {
        match cap {
            // The IRQ control capability cannot be copied.
            Cap::Reply { .. } | Cap::Null | Cap::IrqControl => None,
            Cap::Frame { frame, rights, .. } => Some(Cap::Frame { frame, rights, mapped: None }),
            Cap::PageTable { pt } => self.page_tables[pt.0 as usize].mapped.map(|_| cap),
            Cap::VSpace { vspace } => self.vspaces[vspace.0 as usize].sel4_asid.map(|_| cap),
            other => Some(other),
        }
    }
}
