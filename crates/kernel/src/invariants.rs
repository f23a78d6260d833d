//! The kernel's invariants, checked on demand (`KernelConfig::check_invariants`: after every
//! kernel entry). A failed check names the rule and the offending state; the run then stops.
//!
//! The rules are the ones seL4's proofs rely on, for the objects this kernel has:
//! * **memory**: every object lies in RAM above the kernel image, and no two objects overlap
//!   (a thread-ID kernel's receive queue lies inside its thread's TCB, as original L4 keeps it);
//! * **capabilities**: every capability (in CNode slots and in TCB slots) names a live object of
//!   its type, and a CNode capability's guard fits in a word;
//! * **derivation tree**: the CNode slots' links are mutual, empty slots are not linked, and the
//!   list has no cycle (a forest in depth-first order);
//! * **IPC queues**: a thread is in an endpoint's or notification's queue exactly when its state
//!   says it waits there, in the direction the endpoint's state says; no thread waits twice; an
//!   idle endpoint's queue is empty, a notification has waiters exactly when it is waiting and a
//!   word only when active; notification bindings are mutual;
//! * **reply capabilities**: a caller slot's reply capability names a thread blocked on reply,
//!   and no thread is named by two;
//! * **scheduler**: a thread's `queued` flag says whether it is in a ready queue, it is in the
//!   queue of its own priority at most once, the ready bitmap agrees with the queues, only
//!   runnable threads are queued (except under lazy scheduling, whose blocked threads leave the
//!   queue when next met), and the current thread is runnable.

use crate::object::{Cap, EpState, NtfnState, ThreadState};
use crate::types::{EpId, NtfnId, TcbId};
use crate::Kernel;

/// A broken invariant: which rule, and the state that breaks it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("kernel invariant broken ({rule}): {detail}")]
pub struct InvariantViolation {
    /// The rule (see the module documentation).
    pub rule: &'static str,
    /// The offending objects and their state.
    pub detail: String,
}

fn violation(rule: &'static str, detail: String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation { rule, detail })
}

impl Kernel {
    /// Checks every invariant; the first broken one is returned.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_memory()?;
        self.check_caps()?;
        self.check_derivation_tree()?;
        self.check_ipc_queues()?;
        self.check_replies()?;
        self.check_address_spaces()?;
        self.check_scheduler()
    }

    /// Address spaces: a page-table object is in at most one tree, and only where it records
    /// being mapped; a live ASID pool's entries name roots that carry that ASID.
    fn check_address_spaces(&self) -> Result<(), InvariantViolation> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, vs) in self.vspaces.iter().enumerate() {
            for t in &vs.tables {
                let Some(pt) = t.object else { continue };
                if !seen.insert(pt) {
                    return violation("address spaces", format!("page table {} is in two trees", pt.0));
                }
                match self.page_tables.get(pt.0 as usize).and_then(|o| o.mapped) {
                    Some((v, _)) if v.0 as usize == i => {}
                    other => {
                        return violation(
                            "address spaces",
                            format!("page table {} is in VSpace {i} but records {other:?}", pt.0),
                        )
                    }
                }
            }
        }
        for (high, pool) in self.asid_table.iter().enumerate() {
            let Some(p) = pool else { continue };
            let Some(pool) = self.asid_pools.get(p.0 as usize) else {
                return violation("address spaces", format!("ASID table entry {high} names no pool {}", p.0));
            };
            for (low, vs) in pool.entries.iter().enumerate() {
                let Some(vs) = vs else { continue };
                let asid = pool.base + low as u64;
                if self.vspaces.get(vs.0 as usize).and_then(|v| v.sel4_asid) != Some(asid) {
                    return violation(
                        "address spaces",
                        format!("ASID {asid} names VSpace {}, which has another", vs.0),
                    );
                }
            }
        }
        Ok(())
    }

    /// Every live object's physical range, with a name for reports (deleted objects' memory is
    /// free). Thread-ID receive queues live inside their TCBs and are checked there; untyped
    /// regions are returned separately.
    fn object_ranges(&self) -> Vec<(u64, u64, String)> {
        let live = |kind: u8, i: usize| !self.dead.contains(&(kind, i as u64));
        let mut v = Vec::new();
        for (i, t) in self.tcbs.iter().enumerate().filter(|(i, _)| live(5, *i)) {
            v.push((t.paddr.0, self.layout.tcb_bytes, format!("TCB {i} ({})", t.name)));
        }
        let own: Vec<EpId> = self.tcbs.iter().filter_map(|t| t.own_ep).collect();
        for (i, e) in self.endpoints.iter().enumerate() {
            if !own.contains(&EpId(i as u32)) && live(1, i) {
                v.push((e.paddr.0, self.layout.ep_bytes, format!("endpoint {i}")));
            }
        }
        for (i, n) in self.ntfns.iter().enumerate().filter(|(i, _)| live(2, *i)) {
            v.push((n.paddr.0, self.layout.ntfn_bytes, format!("notification {i}")));
        }
        for (i, c) in self.cnodes.iter().enumerate().filter(|(i, _)| live(4, *i)) {
            v.push((c.paddr.0, c.slot_bytes << c.radix_bits, format!("CNode {i}")));
        }
        // Page tables the host built are listed with their address space; those made by Retype
        // as objects, mapped or not.
        for (i, vs) in self.vspaces.iter().enumerate().filter(|(i, _)| live(6, *i)) {
            for (j, t) in vs.tables.iter().enumerate().filter(|(_, t)| t.object.is_none()) {
                v.push((t.paddr.0, self.geo.table_bytes(t.level as usize), format!("VSpace {i} table {j}")));
            }
        }
        for (i, t) in self.page_tables.iter().enumerate().filter(|(i, _)| live(9, *i)) {
            let bytes = self.geo.table_bytes(usize::from(t.level).max(1));
            v.push((t.paddr.0, bytes, format!("page table {i}")));
        }
        for (i, f) in self.frames.iter().enumerate().filter(|(i, _)| live(7, *i)) {
            v.push((f.paddr.0, 1u64 << f.size_bits, format!("frame {i}")));
        }
        for (i, p) in self.asid_pools.iter().enumerate().filter(|(i, _)| live(10, *i)) {
            if let Some(pa) = p.paddr {
                v.push((pa.0, 4096, format!("ASID pool {i}")));
            }
        }
        v
    }

    fn check_memory(&self) -> Result<(), InvariantViolation> {
        let (lo, hi) = (self.ram_base.0, self.ram_base.0 + self.ram_size);
        let mut ranges = self.object_ranges();
        let untyped: Vec<(u64, u64, String)> = self
            .untypeds
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.dead.contains(&(8, *i as u64)))
            .map(|(i, u)| (u.paddr.0, 1u64 << u.size_bits, format!("untyped {i}")))
            .collect();
        // Device memory lies outside RAM, inside the device regions.
        let devices: Vec<(u64, u64)> =
            self.untypeds.iter().filter(|u| u.device).map(|u| (u.paddr.0, 1u64 << u.size_bits)).collect();
        let in_device = |s: u64, b: u64| devices.iter().any(|(d, n)| s >= *d && s + b <= d + n);
        for (start, bytes, what) in ranges.iter().chain(&untyped) {
            if in_device(*start, *bytes) {
                continue;
            }
            if *start < lo || start.checked_add(*bytes).is_none_or(|end| end > hi) {
                return violation("memory", format!("{what} at {start:#x}+{bytes:#x} lies outside RAM"));
            }
        }
        ranges.sort();
        for w in ranges.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.0 + a.1 > b.0 {
                return violation(
                    "memory",
                    format!("{} ({:#x}+{:#x}) overlaps {} ({:#x})", a.2, a.0, a.1, b.2, b.0),
                );
            }
        }
        // Untyped regions nest or are apart, and an object that touches one lies inside it.
        let inside = |a: &(u64, u64, String), b: &(u64, u64, String)| a.0 >= b.0 && a.0 + a.1 <= b.0 + b.1;
        let overlap = |a: &(u64, u64, String), b: &(u64, u64, String)| a.0 < b.0 + b.1 && b.0 < a.0 + a.1;
        for (i, a) in untyped.iter().enumerate() {
            for b in untyped.iter().skip(i + 1) {
                if overlap(a, b) && !inside(a, b) && !inside(b, a) {
                    return violation("memory", format!("{} and {} overlap without nesting", a.2, b.2));
                }
            }
            if let Some(o) = ranges.iter().find(|o| overlap(o, a) && !inside(o, a)) {
                return violation("memory", format!("{} straddles the edge of {}", o.2, a.2));
            }
        }
        for (i, t) in self.tcbs.iter().enumerate() {
            if let Some(ep) = t.own_ep {
                let inside = self.endpoints.get(ep.0 as usize).is_some_and(|e| {
                    e.paddr.0 >= t.paddr.0 && e.paddr.0 + 16 <= t.paddr.0 + self.layout.tcb_bytes
                });
                if !inside {
                    return violation(
                        "memory",
                        format!("TCB {i}'s receive queue (endpoint {}) is not in it", ep.0),
                    );
                }
            }
        }
        Ok(())
    }

    /// The reason a capability does not name a live object of its type, if it does not.
    pub(crate) fn dangling(&self, cap: &Cap) -> Option<String> {
        let word_bits = self.abi.word_bytes * 8;
        if let Some(o) = crate::cnode::object_of(cap).filter(|o| self.dead.contains(o)) {
            return Some(format!("live object (it names deleted object {o:?})"));
        }
        match *cap {
            Cap::Untyped { ut, free } => match self.untypeds.get(ut.0 as usize) {
                None => Some(format!("untyped {}", ut.0)),
                Some(u) => {
                    (free > 1u64 << u.size_bits).then(|| format!("watermark {free:#x} inside its region"))
                }
            },
            Cap::Null => None,
            Cap::Endpoint { ep, .. } => {
                (ep.0 as usize >= self.endpoints.len()).then(|| format!("endpoint {}", ep.0))
            }
            Cap::Notification { ntfn, .. } => {
                (ntfn.0 as usize >= self.ntfns.len()).then(|| format!("notification {}", ntfn.0))
            }
            Cap::Reply { tcb, .. } | Cap::Tcb { tcb } => {
                (tcb.0 as usize >= self.tcbs.len()).then(|| format!("TCB {}", tcb.0))
            }
            Cap::CNode { cnode, guard_bits, .. } => {
                if cnode.0 as usize >= self.cnodes.len() {
                    Some(format!("CNode {}", cnode.0))
                } else {
                    (u32::from(guard_bits) > word_bits).then(|| format!("a {guard_bits}-bit guard"))
                }
            }
            Cap::VSpace { vspace } => {
                (vspace.0 as usize >= self.vspaces.len()).then(|| format!("VSpace {}", vspace.0))
            }
            Cap::Frame { frame, mapped, .. } => {
                if frame.0 as usize >= self.frames.len() {
                    Some(format!("frame {}", frame.0))
                } else {
                    mapped
                        .filter(|m| m.vspace.0 as usize >= self.vspaces.len())
                        .map(|m| format!("VSpace {} it maps the frame in", m.vspace.0))
                }
            }
            Cap::PageTable { pt } => {
                (pt.0 as usize >= self.page_tables.len()).then(|| format!("page table {}", pt.0))
            }
            Cap::AsidPool { pool } => match self.asid_pools.get(pool.0 as usize) {
                None => Some(format!("ASID pool {}", pool.0)),
                Some(p) => p.paddr.is_none().then(|| format!("ASID pool {} with memory", pool.0)),
            },
            Cap::AsidControl | Cap::IrqControl => None,
            Cap::IrqHandler { irq } => match self.irq.state.get(irq as usize) {
                Some(crate::irq::IrqState::Signal) => None,
                other => Some(format!("IRQ {irq} with a handler (its state is {other:?})")),
            },
        }
    }

    fn check_caps(&self) -> Result<(), InvariantViolation> {
        for (i, c) in self.cnodes.iter().enumerate() {
            if c.slots.len() != 1usize << c.radix_bits {
                return violation(
                    "capabilities",
                    format!("CNode {i} has {} slots, not 2^{}", c.slots.len(), c.radix_bits),
                );
            }
            for (s, cap) in c.slots.iter().enumerate() {
                if let Some(why) = self.dangling(cap) {
                    return violation(
                        "capabilities",
                        format!("CNode {i} slot {s}: {} names no {why}", cap.type_name()),
                    );
                }
            }
        }
        for (i, t) in self.tcbs.iter().enumerate() {
            for (slot, cap) in
                [("CSpace root", &t.cspace_root), ("VSpace root", &t.vspace_root), ("caller", &t.caller)]
            {
                if let Some(why) = self.dangling(cap) {
                    return violation(
                        "capabilities",
                        format!("TCB {i} {slot}: {} names no {why}", cap.type_name()),
                    );
                }
            }
            if !matches!(t.cspace_root, Cap::CNode { .. } | Cap::Null) {
                return violation(
                    "capabilities",
                    format!("TCB {i}'s CSpace root is a {}", t.cspace_root.type_name()),
                );
            }
        }
        Ok(())
    }

    /// The derivation tree: every slot's links are mutual, empty slots are out of it, and the
    /// list has no cycle (so it is a forest of derivations in depth-first order).
    fn check_derivation_tree(&self) -> Result<(), InvariantViolation> {
        use crate::cspace::SlotRef;
        let node = |s: SlotRef| {
            self.cnodes
                .get(s.cnode.0 as usize)
                .and_then(|c| Some((c.slots.get(s.index)?, c.mdb.get(s.index)?)))
        };
        let mut heads = Vec::new();
        for (ci, c) in self.cnodes.iter().enumerate() {
            for (i, (cap, m)) in c.slots.iter().zip(&c.mdb).enumerate() {
                let me = SlotRef { cnode: crate::types::CNodeId(ci as u32), index: i };
                if *cap == Cap::Null {
                    if *m != Default::default() {
                        return violation("derivation tree", format!("empty slot {me:?} is linked: {m:?}"));
                    }
                    continue;
                }
                if let Some(n) = m.next {
                    match node(n) {
                        Some((c2, m2)) if *c2 != Cap::Null && m2.prev == Some(me) => {}
                        _ => {
                            return violation(
                                "derivation tree",
                                format!("{me:?}'s next {n:?} does not point back"),
                            )
                        }
                    }
                }
                match m.prev {
                    Some(p) => match node(p) {
                        Some((c2, m2)) if *c2 != Cap::Null && m2.next == Some(me) => {}
                        _ => {
                            return violation(
                                "derivation tree",
                                format!("{me:?}'s prev {p:?} does not point back"),
                            )
                        }
                    },
                    None => heads.push(me),
                }
            }
        }
        // Walking from every head reaches every linked slot once: no cycles.
        let linked: usize =
            self.cnodes.iter().map(|c| c.slots.iter().filter(|x| **x != Cap::Null).count()).sum();
        let mut reached = 0usize;
        for h in heads {
            let mut cur = Some(h);
            while let Some(s) = cur {
                reached += 1;
                if reached > linked {
                    return violation("derivation tree", "the slot list has a cycle".into());
                }
                cur = node(s).and_then(|(_, m)| m.next);
            }
        }
        if reached != linked {
            return violation(
                "derivation tree",
                format!("{} of {linked} capabilities are on a cycle", linked - reached),
            );
        }
        Ok(())
    }

    fn check_ipc_queues(&self) -> Result<(), InvariantViolation> {
        let mut seen = vec![false; self.tcbs.len()];
        for (i, e) in self.endpoints.iter().enumerate() {
            let want = match e.state {
                EpState::Idle if !e.queue.is_empty() => {
                    return violation(
                        "IPC queues",
                        format!("idle endpoint {i} has waiting threads {:?}", e.queue),
                    );
                }
                EpState::Idle => continue,
                EpState::Send => "send",
                EpState::Recv => "receive",
            };
            if e.queue.is_empty() {
                return violation(
                    "IPC queues",
                    format!("endpoint {i} is in the {want} state with an empty queue"),
                );
            }
            for &t in &e.queue {
                let Some(tcb) = self.tcbs.get(t.0 as usize) else {
                    return violation(
                        "IPC queues",
                        format!("endpoint {i} queues TCB {} which does not exist", t.0),
                    );
                };
                if std::mem::replace(&mut seen[t.0 as usize], true) {
                    return violation(
                        "IPC queues",
                        format!("TCB {} ({}) waits in two places", t.0, tcb.name),
                    );
                }
                let ok = match (e.state, tcb.state) {
                    (EpState::Send, ThreadState::BlockedOnSend { ep, .. }) => ep.0 as usize == i,
                    (EpState::Recv, ThreadState::BlockedOnReceive { ep }) => ep.0 as usize == i,
                    _ => false,
                };
                if !ok {
                    return violation(
                        "IPC queues",
                        format!(
                            "TCB {} ({}) is in endpoint {i}'s {want} queue but is {:?}",
                            t.0, tcb.name, tcb.state
                        ),
                    );
                }
            }
        }
        for (i, n) in self.ntfns.iter().enumerate() {
            match (n.state, n.queue.is_empty()) {
                (NtfnState::Waiting, false) | (NtfnState::Idle | NtfnState::Active, true) => {}
                (state, _) => {
                    return violation(
                        "IPC queues",
                        format!("notification {i} is {state:?} with waiters {:?}", n.queue),
                    );
                }
            }
            if n.state != NtfnState::Active && n.word != 0 {
                return violation(
                    "IPC queues",
                    format!("notification {i} is {:?} with word {:#x}", n.state, n.word),
                );
            }
            let me = NtfnId(i as u32);
            for &t in &n.queue {
                let Some(tcb) = self.tcbs.get(t.0 as usize) else {
                    return violation(
                        "IPC queues",
                        format!("notification {i} queues TCB {} which does not exist", t.0),
                    );
                };
                if std::mem::replace(&mut seen[t.0 as usize], true) {
                    return violation(
                        "IPC queues",
                        format!("TCB {} ({}) waits in two places", t.0, tcb.name),
                    );
                }
                if tcb.state != (ThreadState::BlockedOnNotification { ntfn: me }) {
                    return violation(
                        "IPC queues",
                        format!(
                            "TCB {} ({}) waits on notification {i} but is {:?}",
                            t.0, tcb.name, tcb.state
                        ),
                    );
                }
            }
            if let Some(b) = n.bound_tcb {
                if self.tcbs.get(b.0 as usize).and_then(|t| t.bound_ntfn) != Some(me) {
                    return violation(
                        "IPC queues",
                        format!("notification {i} is bound to TCB {}, which is not bound to it", b.0),
                    );
                }
            }
        }
        for (i, t) in self.tcbs.iter().enumerate() {
            if let Some(n) = t.bound_ntfn {
                if self.ntfns.get(n.0 as usize).and_then(|x| x.bound_tcb) != Some(TcbId(i as u32)) {
                    return violation(
                        "IPC queues",
                        format!("TCB {i} is bound to notification {}, which is not bound to it", n.0),
                    );
                }
            }
            let waits = matches!(
                t.state,
                ThreadState::BlockedOnSend { .. }
                    | ThreadState::BlockedOnReceive { .. }
                    | ThreadState::BlockedOnNotification { .. }
            );
            if waits && !seen[i] {
                return violation(
                    "IPC queues",
                    format!("TCB {i} ({}) is {:?} but in no queue", t.name, t.state),
                );
            }
        }
        Ok(())
    }

    fn check_replies(&self) -> Result<(), InvariantViolation> {
        let mut named = vec![None::<usize>; self.tcbs.len()];
        for (i, t) in self.tcbs.iter().enumerate() {
            if let Cap::Reply { tcb, master: false, .. } = t.caller {
                let Some(callee) = self.tcbs.get(tcb.0 as usize) else { continue };
                if callee.state != ThreadState::BlockedOnReply {
                    return violation(
                        "reply capabilities",
                        format!(
                            "TCB {i}'s caller slot names TCB {} ({}), which is {:?}",
                            tcb.0, callee.name, callee.state
                        ),
                    );
                }
                if let Some(other) = named[tcb.0 as usize].replace(i) {
                    return violation(
                        "reply capabilities",
                        format!("TCBs {other} and {i} both hold a reply capability to TCB {}", tcb.0),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_scheduler(&self) -> Result<(), InvariantViolation> {
        let queues = self.sched.queues();
        let mut in_queue = vec![false; self.tcbs.len()];
        for (p, q) in queues.iter().enumerate() {
            if self.sched.has_bit(p) == q.is_empty() {
                return violation(
                    "scheduler",
                    format!("the ready bitmap disagrees with queue {p} ({} threads)", q.len()),
                );
            }
            for &t in q {
                let Some(tcb) = self.tcbs.get(t.0 as usize) else {
                    return violation(
                        "scheduler",
                        format!("ready queue {p} holds TCB {} which does not exist", t.0),
                    );
                };
                if std::mem::replace(&mut in_queue[t.0 as usize], true) {
                    return violation("scheduler", format!("TCB {} ({}) is queued twice", t.0, tcb.name));
                }
                if usize::from(tcb.priority) != p {
                    return violation(
                        "scheduler",
                        format!("TCB {} ({}) of priority {} is in queue {p}", t.0, tcb.name, tcb.priority),
                    );
                }
                if !self.design.lazy_scheduling && !tcb.state.is_runnable() {
                    return violation(
                        "scheduler",
                        format!("TCB {} ({}) is queued but {:?}", t.0, tcb.name, tcb.state),
                    );
                }
            }
        }
        for (i, t) in self.tcbs.iter().enumerate() {
            if t.queued != in_queue[i] {
                return violation(
                    "scheduler",
                    format!(
                        "TCB {i} ({}) says queued = {} but is{} in a ready queue",
                        t.name,
                        t.queued,
                        if in_queue[i] { "" } else { " not" }
                    ),
                );
            }
        }
        if let Some(c) = self.current {
            let ok = self.tcbs.get(c.0 as usize).is_some_and(|t| t.state.is_runnable());
            if !ok {
                let state = self.tcbs.get(c.0 as usize).map(|t| t.state);
                return violation(
                    "scheduler",
                    format!("the current thread TCB {} is not runnable ({state:?})", c.0),
                );
            }
        }
        Ok(())
    }
}
