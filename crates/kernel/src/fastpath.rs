//! The IPC fastpath: straight-line `fastpath_call` and `fastpath_reply_recv`, each a run of
//! checks that return `false` (take the slowpath) exactly where seL4's would, followed by the
//! state changes. Nothing is changed before the last check passes.

use crate::cspace;
use crate::object::{layout, Cap, EpState, ThreadState};
use crate::preset::IpcTarget;
use crate::preset::StepId;
use crate::types::Rights;
use crate::types::{CPtr, MessageInfo, TcbId};
use crate::Kernel;
use simcore::Category;

/// How a fastpath found its partner.
enum Target {
    /// Through a capability in this slot.
    Slot(cspace::Lookup),
    /// By thread ID.
    Thread(TcbId),
}

impl Kernel {
    /// fastpath_mi_check: no extra caps and the message fits in registers.
    fn mi_fits(&self, info: MessageInfo) -> bool {
        info.extra_caps == 0 && usize::from(info.length) <= self.abi.n_register_mrs
    }

    /// lookup_fp: a capability lookup that either resolves exactly or gives up.
    fn lookup_fp(&self, t: TcbId, cptr: u64) -> Option<cspace::Lookup> {
        let root = self.tcbs[t.0 as usize].cspace_root;
        cspace::resolve(&self.cnodes, root, CPtr(cptr), self.abi.word_bytes * 8, &mut Vec::new()).ok()
    }

    /// The memory a destination lookup reads: the capability slots, or the virtual TCB array.
    fn touch_target(&mut self, t: TcbId, target: &Target) {
        match target {
            Target::Slot(l) => self.touch_slots(t, l),
            Target::Thread(dest) => self.charge_thread_id_lookup(*dest),
        }
    }

    fn touch_slots(&mut self, t: TcbId, l: &cspace::Lookup) {
        self.touch_tcb(t, self.layout.tcb_slot(layout::SLOT_CTABLE), self.layout.cte_bytes);
        if let Some(pa) = self.cnodes.get(l.slot.cnode.0 as usize).map(|c| c.paddr) {
            self.touch(pa.offset(l.slot.index as u64 * self.layout.cte_bytes), self.layout.cte_bytes);
        }
    }

    /// fastpath_call. Returns false to take the slowpath (nothing has changed then).
    pub(crate) fn fastpath_call(&mut self, cur: TcbId) -> bool {
        let info = MessageInfo::from_word(self.reg(cur, self.abi.msg_info));
        if !self.mi_fits(info) {
            return false;
        }
        let cptr = self.reg(cur, self.abi.cap_or_badge);
        // The destination: an endpoint capability (seL4), or a thread ID naming the receiver,
        // whose receive queue is in its TCB (original L4); the receiver learns the sender's ID.
        let (target, ep, badge, rights) = match self.design.ipc_target {
            IpcTarget::Capability => {
                let Some(l) = self.lookup_fp(cur, cptr) else { return false };
                let Cap::Endpoint { ep, badge, rights } = l.cap else { return false };
                (Target::Slot(l), ep, badge, rights)
            }
            IpcTarget::ThreadId => {
                let Some((dest, ep, badge)) = self.thread_target(cur, cptr) else { return false };
                (Target::Thread(dest), ep, badge, Rights::ALL)
            }
        };
        if !rights.write {
            return false;
        }
        let e = &self.endpoints[ep.0 as usize];
        if e.state != EpState::Recv {
            return false;
        }
        let Some(&dest) = e.queue.front() else { return false };
        if !matches!(self.tcbs[dest.0 as usize].vspace_root, Cap::VSpace { .. }) {
            return false;
        }
        let dest_prio = self.tcbs[dest.0 as usize].priority;
        if dest_prio < self.tcbs[cur.0 as usize].priority && !self.sched.is_highest(dest_prio) {
            return false;
        }
        if !rights.grant && !rights.grant_reply {
            return false;
        }

        // Committed: from here on this is fastpath_call's straight line.
        self.stats.fastpath_call += 1;
        self.charge_step(StepId::FastpathCall, Category::KernelPath);
        self.charge_op_branches(true);
        self.touch_target(cur, &target);
        self.charge_timeout_check(cur);
        let ep_pa = self.endpoints[ep.0 as usize].paddr;
        self.touch(ep_pa, self.layout.ep_bytes);
        self.touch_tcb(dest, self.layout.tcb_queue, 16);
        self.touch_tcb(dest, self.layout.tcb_slot(layout::SLOT_VTABLE), self.layout.cte_bytes);
        let e = &mut self.endpoints[ep.0 as usize];
        e.queue.pop_front();
        if e.queue.is_empty() {
            e.state = EpState::Idle;
        }
        self.touch_tcb(cur, self.layout.tcb_state, 8);
        self.tcbs[cur.0 as usize].state = ThreadState::BlockedOnReply;
        self.touch_tcb(cur, self.layout.tcb_slot(layout::SLOT_REPLY), self.layout.cte_bytes);
        self.touch_tcb(dest, self.layout.tcb_slot(layout::SLOT_CALLER), self.layout.cte_bytes);
        self.tcbs[dest.0 as usize].caller = Cap::Reply { tcb: cur, master: false, can_grant: rights.grant };
        self.fastpath_copy_mrs(cur, dest, info.length);
        self.touch_tcb(dest, self.layout.tcb_state, 8);
        self.tcbs[dest.0 as usize].state = ThreadState::Running;
        let out = MessageInfo { caps_unwrapped: 0, ..info };
        self.set_reg(dest, self.abi.cap_or_badge, badge);
        self.set_reg(dest, self.abi.msg_info, out.to_word());
        self.current = Some(dest);
        true
    }

    /// fastpath_reply_recv. Returns false to take the slowpath (nothing has changed then).
    pub(crate) fn fastpath_reply_recv(&mut self, cur: TcbId) -> bool {
        let info = MessageInfo::from_word(self.reg(cur, self.abi.msg_info));
        if !self.mi_fits(info) {
            return false;
        }
        let cptr = self.reg(cur, self.abi.cap_or_badge);
        // The receive: on an endpoint capability (seL4), or open, on the thread's own queue
        // (original L4), where the reply names the caller by its thread ID.
        let (target, ep, rights) = match self.design.ipc_target {
            IpcTarget::Capability => {
                let Some(l) = self.lookup_fp(cur, cptr) else { return false };
                let Cap::Endpoint { ep, rights, .. } = l.cap else { return false };
                (Some(Target::Slot(l)), ep, rights)
            }
            IpcTarget::ThreadId => {
                let Some(ep) = self.tcbs[cur.0 as usize].own_ep else { return false };
                (None, ep, Rights::ALL)
            }
        };
        if !rights.read {
            return false;
        }
        if self.endpoints[ep.0 as usize].state == EpState::Send {
            return false;
        }
        // A signal pending on the bound notification is for the slowpath to deliver.
        if self.pending_bound_signal(cur).is_some() {
            return false;
        }
        let Cap::Reply { tcb: caller, master: false, .. } = self.tcbs[cur.0 as usize].caller else {
            return false;
        };
        let c = &self.tcbs[caller.0 as usize];
        if c.fault.is_some() || c.state != ThreadState::BlockedOnReply {
            return false;
        }
        if !matches!(c.vspace_root, Cap::VSpace { .. }) {
            return false;
        }
        if !self.sched.is_highest(c.priority) {
            return false;
        }

        self.stats.fastpath_reply_recv += 1;
        self.charge_step(StepId::FastpathReplyRecv, Category::KernelPath);
        self.charge_op_branches(false);
        let target = target.unwrap_or(Target::Thread(caller));
        self.touch_target(cur, &target);
        self.charge_timeout_check(cur);
        let ep_pa = self.endpoints[ep.0 as usize].paddr;
        self.touch(ep_pa, self.layout.ep_bytes);
        // The current thread waits on the endpoint (appended at the tail).
        self.touch_tcb(cur, self.layout.tcb_state, 8);
        self.tcbs[cur.0 as usize].state = ThreadState::BlockedOnReceive { ep };
        self.touch_tcb(cur, self.layout.tcb_queue, 16);
        if let Some(&tail) = self.endpoints[ep.0 as usize].queue.back() {
            self.touch_tcb(tail, self.layout.tcb_queue, 8);
        }
        let e = &mut self.endpoints[ep.0 as usize];
        e.queue.push_back(cur);
        e.state = EpState::Recv;
        // The one-shot reply capability is consumed.
        self.touch_tcb(cur, self.layout.tcb_slot(layout::SLOT_CALLER), self.layout.cte_bytes);
        self.tcbs[cur.0 as usize].caller = Cap::Null;
        self.touch_tcb(caller, self.layout.tcb_slot(layout::SLOT_VTABLE), self.layout.cte_bytes);
        self.fastpath_copy_mrs(cur, caller, info.length);
        self.touch_tcb(caller, self.layout.tcb_state, 8);
        self.tcbs[caller.0 as usize].state = ThreadState::Running;
        let out = MessageInfo { caps_unwrapped: 0, ..info };
        self.set_reg(caller, self.abi.cap_or_badge, 0);
        self.set_reg(caller, self.abi.msg_info, out.to_word());
        self.current = Some(caller);
        true
    }

    /// fastpath_copy_mrs: register message registers, TCB to TCB.
    fn fastpath_copy_mrs(&mut self, from: TcbId, to: TcbId, length: u8) {
        let n = usize::from(length).min(self.abi.n_register_mrs);
        for i in 0..n {
            let r = self.abi.mrs[i];
            let v = self.reg(from, r);
            self.set_reg(to, r, v);
        }
        self.charge_step_n(StepId::CopyMr, Category::KernelPath, n as u32);
        self.touch_tcb(to, self.layout.tcb_regs, (n as u64 + 2) * u64::from(self.abi.word_bytes));
    }
}
