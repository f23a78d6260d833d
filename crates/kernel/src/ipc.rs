//! The IPC slowpath: seL4's `sendIPC`, `receiveIPC`, `doIPCTransfer`, `setupCallerCap`,
//! `doReplyTransfer`, fault delivery and kernel-generated replies.

use crate::cspace::{self, LookupFault};
use crate::object::{layout, Cap, EpState, Fault, ThreadState};
use crate::preset::StepId;
use crate::types::{CPtr, EpId, MessageInfo, SysError, TcbId, MSG_MAX_LENGTH};
use crate::{Kernel, KernelEvent};
use simcore::{Category, PAddr, PhysMem};

/// Where a reply capability being used lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplySlot {
    /// The caller slot of this TCB.
    Caller(TcbId),
    /// A CNode slot (a saved reply capability).
    Slot(cspace::SlotRef),
}

/// Parameters of a send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendArgs {
    pub blocking: bool,
    pub do_call: bool,
    pub badge: u64,
    pub can_grant: bool,
    pub can_grant_reply: bool,
}

impl Kernel {
    pub(crate) fn set_state(&mut self, t: TcbId, s: ThreadState) {
        self.touch_tcb(t, self.layout.tcb_state, 8);
        self.tcbs[t.0 as usize].state = s;
        // scheduleTCB: the running thread stopped being runnable.
        if Some(t) == self.current
            && self.sched.action == crate::SchedulerAction::ResumeCurrentThread
            && !s.is_runnable()
        {
            self.reschedule_required();
        }
    }

    pub(crate) fn reg(&self, t: TcbId, idx: usize) -> u64 {
        self.tcbs[t.0 as usize].context.get(idx)
    }

    pub(crate) fn set_reg(&mut self, t: TcbId, idx: usize, v: u64) {
        let mask = if self.abi.word_bytes == 4 { 0xffff_ffff } else { u64::MAX };
        self.tcbs[t.0 as usize].context.set(idx, v & mask);
    }

    /// lookupIPCBuffer: the physical address of a thread's IPC buffer, if it is mapped
    /// (and writable, for a receiver).
    pub(crate) fn lookup_ipc_buffer(&self, t: TcbId, receiver: bool) -> Option<PAddr> {
        let tcb = &self.tcbs[t.0 as usize];
        if tcb.ipc_buffer.0 == 0 {
            return None;
        }
        let vs = self.vspace_of(t)?;
        let tr = self.translate(vs, tcb.ipc_buffer.0)?;
        // The whole seL4_IPCBuffer must be inside one mapping: it is page aligned in practice;
        // require the same page for its last word.
        let last = tcb.ipc_buffer.0 + (MSG_MAX_LENGTH as u64 + 8) * u64::from(self.abi.word_bytes);
        let tr_last = self.translate(vs, last)?;
        if !tr.user || !tr.rights.read || (receiver && !tr.rights.write) || !tr_last.user {
            return None;
        }
        Some(tr.paddr)
    }

    /// Looks up a capability in a thread's CSpace, charging one lookup step per level and
    /// touching each slot read.
    pub(crate) fn lookup_cap(&mut self, t: TcbId, cptr: u64) -> Result<cspace::Lookup, LookupFault> {
        let root = self.tcbs[t.0 as usize].cspace_root;
        self.touch_tcb(t, self.layout.tcb_slot(layout::SLOT_CTABLE), self.layout.cte_bytes);
        let mut touched = Vec::new();
        let depth = self.abi.word_bytes * 8;
        let r = cspace::resolve(&self.cnodes, root, CPtr(cptr), depth, &mut touched);
        let levels = touched.len().max(1) as u32;
        self.charge_step_n(StepId::LookupLevel, Category::KernelPath, levels);
        for pa in touched {
            self.touch(pa, self.layout.cte_bytes);
        }
        r
    }

    /// sendIPC.
    pub(crate) fn send_ipc(&mut self, thread: TcbId, ep: EpId, a: SendArgs, mem: &mut dyn PhysMem) {
        self.charge_step(StepId::SendIpc, Category::KernelPath);
        if a.blocking {
            self.charge_timeout_check(thread);
        }
        let ep_pa = self.endpoints[ep.0 as usize].paddr;
        self.touch(ep_pa, self.layout.ep_bytes);
        match self.endpoints[ep.0 as usize].state {
            EpState::Idle | EpState::Send => {
                if a.blocking {
                    self.set_state(
                        thread,
                        ThreadState::BlockedOnSend {
                            ep,
                            badge: a.badge,
                            can_grant: a.can_grant,
                            can_grant_reply: a.can_grant_reply,
                            is_call: a.do_call,
                        },
                    );
                    self.ep_append(ep, thread, EpState::Send);
                }
            }
            EpState::Recv => {
                let Some(dest) = self.ep_pop(ep) else { return };
                self.do_ipc_transfer(thread, Some(ep), a.badge, a.can_grant, dest, mem);
                self.set_state(dest, ThreadState::Running);
                self.possible_switch_to(dest);
                if a.do_call {
                    if a.can_grant || a.can_grant_reply {
                        self.setup_caller_cap(thread, dest, a.can_grant);
                    } else {
                        self.set_state(thread, ThreadState::Inactive);
                    }
                }
            }
        }
    }

    /// receiveIPC (without bound notifications).
    pub(crate) fn receive_ipc(&mut self, thread: TcbId, ep: EpId, blocking: bool, mem: &mut dyn PhysMem) {
        self.charge_step(StepId::ReceiveIpc, Category::KernelPath);
        // A signal pending on the thread's bound notification is received instead.
        if let Some(n) = self.pending_bound_signal(thread) {
            self.complete_signal(n, thread);
            return;
        }
        if blocking {
            self.charge_timeout_check(thread);
        }
        let ep_pa = self.endpoints[ep.0 as usize].paddr;
        self.touch(ep_pa, self.layout.ep_bytes);
        match self.endpoints[ep.0 as usize].state {
            EpState::Idle | EpState::Recv => {
                if blocking {
                    self.set_state(thread, ThreadState::BlockedOnReceive { ep });
                    self.ep_append(ep, thread, EpState::Recv);
                } else {
                    // doNBRecvFailedTransfer: the badge register says "nothing".
                    let b = self.abi.cap_or_badge;
                    self.set_reg(thread, b, 0);
                }
            }
            EpState::Send => {
                let Some(sender) = self.ep_pop(ep) else { return };
                let ThreadState::BlockedOnSend { badge, can_grant, can_grant_reply, is_call, .. } =
                    self.tcbs[sender.0 as usize].state
                else {
                    return;
                };
                self.do_ipc_transfer(sender, Some(ep), badge, can_grant, thread, mem);
                if is_call {
                    if can_grant || can_grant_reply {
                        self.setup_caller_cap(sender, thread, can_grant);
                    } else {
                        self.set_state(sender, ThreadState::Inactive);
                    }
                } else {
                    self.set_state(sender, ThreadState::Running);
                    self.possible_switch_to(sender);
                }
            }
        }
    }

    fn ep_append(&mut self, ep: EpId, t: TcbId, state: EpState) {
        self.charge_step(StepId::TcbQueueOp, Category::KernelPath);
        self.touch_tcb(t, self.layout.tcb_queue, 8);
        let e = &mut self.endpoints[ep.0 as usize];
        if let Some(&tail) = e.queue.back() {
            e.queue.push_back(t);
            e.state = state;
            self.touch_tcb(tail, self.layout.tcb_queue, 8);
        } else {
            e.queue.push_back(t);
            e.state = state;
        }
    }

    pub(crate) fn ep_pop(&mut self, ep: EpId) -> Option<TcbId> {
        self.charge_step(StepId::TcbQueueOp, Category::KernelPath);
        let e = &mut self.endpoints[ep.0 as usize];
        let t = e.queue.pop_front()?;
        if e.queue.is_empty() {
            e.state = EpState::Idle;
        }
        self.touch_tcb(t, self.layout.tcb_queue, 8);
        Some(t)
    }

    /// Removes a thread from whatever endpoint queue it waits in (cancelIPC for endpoint states).
    pub(crate) fn cancel_ipc(&mut self, t: TcbId) {
        let ep = match self.tcbs[t.0 as usize].state {
            ThreadState::BlockedOnSend { ep, .. } | ThreadState::BlockedOnReceive { ep } => ep,
            ThreadState::BlockedOnNotification { ntfn } => return self.cancel_signal(t, ntfn),
            ThreadState::BlockedOnReply => {
                // The reply capability naming the thread is deleted (its holder's reply becomes a
                // no-op), and a fault it waited on is forgotten.
                self.tcbs[t.0 as usize].fault = None;
                for holder in &mut self.tcbs {
                    if matches!(holder.caller, Cap::Reply { tcb, master: false, .. } if tcb == t) {
                        holder.caller = Cap::Null;
                    }
                }
                for c in &mut self.cnodes {
                    for slot in c.slots.iter_mut() {
                        if matches!(*slot, Cap::Reply { tcb, master: false, .. } if tcb == t) {
                            *slot = Cap::Null;
                        }
                    }
                }
                return;
            }
            _ => return,
        };
        let e = &mut self.endpoints[ep.0 as usize];
        e.queue.retain(|x| *x != t);
        if e.queue.is_empty() {
            e.state = EpState::Idle;
        }
    }

    /// setupCallerCap: the sender waits for a reply; the receiver gets a one-shot reply capability.
    pub(crate) fn setup_caller_cap(&mut self, sender: TcbId, receiver: TcbId, can_grant: bool) {
        self.charge_step(StepId::SetupCallerCap, Category::KernelPath);
        self.set_state(sender, ThreadState::BlockedOnReply);
        // The master reply cap in the sender's TCB and the receiver's caller slot (cteInsert).
        self.touch_tcb(sender, self.layout.tcb_slot(layout::SLOT_REPLY), self.layout.cte_bytes);
        self.touch_tcb(receiver, self.layout.tcb_slot(layout::SLOT_CALLER), self.layout.cte_bytes);
        self.tcbs[receiver.0 as usize].caller = Cap::Reply { tcb: sender, master: false, can_grant };
    }

    /// deleteCallerCap: drop a stale reply capability before receiving.
    pub(crate) fn delete_caller_cap(&mut self, t: TcbId) {
        self.touch_tcb(t, self.layout.tcb_slot(layout::SLOT_CALLER), self.layout.cte_bytes);
        self.tcbs[t.0 as usize].caller = Cap::Null;
    }

    /// doIPCTransfer: a normal message, or a fault message if the sender is faulting. `ep` is
    /// the endpoint the message travels through (None for a reply).
    pub(crate) fn do_ipc_transfer(
        &mut self,
        sender: TcbId,
        ep: Option<EpId>,
        badge: u64,
        can_grant: bool,
        receiver: TcbId,
        mem: &mut dyn PhysMem,
    ) {
        self.charge_step(StepId::DoIpcTransfer, Category::KernelPath);
        let rbuf = self.lookup_ipc_buffer(receiver, true);
        match self.tcbs[sender.0 as usize].fault {
            None => {
                let sbuf = self.lookup_ipc_buffer(sender, false);
                let info = MessageInfo::from_word(self.reg(sender, self.abi.msg_info));
                let n = self.copy_mrs(sender, sbuf, receiver, rbuf, usize::from(info.length), mem);
                // doNormalTransfer: capabilities travel only through a capability with Grant;
                // a failed lookup transfers none.
                let caps = if can_grant {
                    self.lookup_extra_caps(sender, info, mem).unwrap_or_default()
                } else {
                    vec![]
                };
                let (extra_caps, caps_unwrapped) = self.transfer_caps(&caps, ep, receiver, rbuf, mem);
                let out = MessageInfo { label: info.label, caps_unwrapped, extra_caps, length: n as u8 };
                self.set_reg(receiver, self.abi.msg_info, out.to_word());
            }
            Some(f) => {
                let words = self.fault_message(sender, &f);
                for (i, w) in words.iter().enumerate() {
                    self.set_mr(receiver, rbuf, i, *w, mem);
                }
                let len =
                    words.len().min(if rbuf.is_some() { MSG_MAX_LENGTH } else { self.abi.n_register_mrs });
                self.set_reg(receiver, self.abi.msg_info, MessageInfo::new(f.label(), len as u8).to_word());
            }
        }
        self.set_reg(receiver, self.abi.cap_or_badge, badge);
        self.touch_tcb(receiver, self.layout.tcb_regs, 2 * u64::from(self.abi.word_bytes));
    }

    /// transferCaps: each capability to the endpoint the message travels through arrives as its
    /// badge (unwrapped); the first other one is copied into the receiver's receive slot, if it
    /// has an empty one. Returns the message's extraCaps and capsUnwrapped.
    fn transfer_caps(
        &mut self,
        caps: &[cspace::Lookup],
        ep: Option<EpId>,
        receiver: TcbId,
        rbuf: Option<PAddr>,
        mem: &mut dyn PhysMem,
    ) -> (u8, u8) {
        let Some(rb) = rbuf.filter(|_| !caps.is_empty()) else { return (0, 0) };
        let mut dest = self.receive_slot(receiver, rb, mem);
        let wb = self.abi.word_bytes;
        let (mut unwrapped, mut count) = (0u8, 0u8);
        for (i, l) in caps.iter().enumerate() {
            match l.cap {
                Cap::Endpoint { ep: e, badge, .. } if Some(e) == ep => {
                    let pa = rb.offset((crate::abi::IPC_BUFFER_CAPS_OR_BADGES + i as u64) * u64::from(wb));
                    mem.write_word(pa, wb, badge);
                    self.touch(pa, u64::from(wb));
                    unwrapped |= 1 << i;
                }
                cap => {
                    let Some(d) = dest.take() else { break };
                    let Some(derived) = self.derive_cap(cap) else { break };
                    self.cte_insert(derived, l.slot, d);
                }
            }
            count += 1;
        }
        (count, unwrapped)
    }

    /// getReceiveSlots: the empty slot the receiver's IPC buffer names (receiveCNode,
    /// receiveIndex, receiveDepth), if it names one.
    fn receive_slot(&mut self, receiver: TcbId, rb: PAddr, mem: &mut dyn PhysMem) -> Option<cspace::SlotRef> {
        let wb = self.abi.word_bytes;
        let word = |k: u64| mem.read_word(rb.offset(k * u64::from(wb)), wb).unwrap_or(0);
        let base = crate::abi::IPC_BUFFER_CAPS_OR_BADGES + crate::types::MSG_MAX_EXTRA_CAPS as u64;
        let (cnode, index, depth) = (word(base), word(base + 1), word(base + 2));
        let root = self.lookup_cap(receiver, cnode).ok()?.cap;
        let slot = self.lookup_slot_for_cnode_op(root, index, depth, false).ok()?;
        (self.slot_cap(slot) == Cap::Null).then_some(slot)
    }

    /// copyMRs: register message registers, then IPC buffer to IPC buffer if both exist.
    fn copy_mrs(
        &mut self,
        sender: TcbId,
        sbuf: Option<PAddr>,
        receiver: TcbId,
        rbuf: Option<PAddr>,
        n: usize,
        mem: &mut dyn PhysMem,
    ) -> usize {
        let nreg = n.min(self.abi.n_register_mrs);
        for i in 0..nreg {
            let r = self.abi.mrs[i];
            let v = self.reg(sender, r);
            self.set_reg(receiver, r, v);
        }
        self.charge_step_n(StepId::CopyMr, Category::KernelPath, nreg as u32);
        let (Some(sb), Some(rb)) = (sbuf, rbuf) else {
            return nreg;
        };
        let wb = u64::from(self.abi.word_bytes);
        let mut copied = nreg;
        for i in nreg..n {
            let off = (i as u64 + 1) * wb;
            let Some(v) = mem.read_word(sb.offset(off), self.abi.word_bytes) else { break };
            if !mem.write_word(rb.offset(off), self.abi.word_bytes, v) {
                break;
            }
            self.touch(sb.offset(off), wb);
            self.touch(rb.offset(off), wb);
            copied += 1;
        }
        self.charge_step_n(StepId::CopyMrBuffer, Category::KernelPath, (copied - nreg) as u32);
        copied
    }

    /// Reads message register `i` of `t`: a CPU register or its IPC buffer (0 where there is none).
    pub(crate) fn get_mr(&mut self, t: TcbId, buf: Option<PAddr>, i: usize, mem: &mut dyn PhysMem) -> u64 {
        if i < self.abi.n_register_mrs {
            return self.reg(t, self.abi.mrs[i]);
        }
        let Some(b) = buf.filter(|_| i < MSG_MAX_LENGTH) else { return 0 };
        let off = (i as u64 + 1) * u64::from(self.abi.word_bytes);
        self.touch(b.offset(off), u64::from(self.abi.word_bytes));
        mem.read_word(b.offset(off), self.abi.word_bytes).unwrap_or(0)
    }

    /// copyMRsFaultReply: a fault handler's reply to an unknown-syscall or user-exception fault
    /// writes the registers of the fault message's layout (FaultIP moves the restart point), as
    /// many as the reply carries.
    fn copy_fault_reply(&mut self, handler: TcbId, t: TcbId, f: Fault, mem: &mut dyn PhysMem) {
        use simcore::FaultWord;
        let length = usize::from(MessageInfo::from_word(self.reg(handler, self.abi.msg_info)).length);
        let layout: Vec<FaultWord> = match f {
            Fault::UnknownSyscall { .. } => self
                .abi
                .unknown_syscall_msg
                .iter()
                .copied()
                .filter(|w| *w != FaultWord::SyscallNumber)
                .collect(),
            Fault::UserException { .. } => {
                vec![FaultWord::FaultIp, FaultWord::Reg(self.abi.sp), FaultWord::Reg(self.abi.flags)]
            }
            Fault::CapFault { .. } | Fault::VmFault { .. } => return,
        };
        let buf = self.lookup_ipc_buffer(handler, false);
        for (i, w) in layout.into_iter().enumerate().take(length) {
            let v = self.get_mr(handler, buf, i, mem);
            match w {
                FaultWord::Reg(r) if r == self.abi.flags => {
                    // User-visible flags only: the mode and privilege bits stay the kernel's.
                    let old = self.reg(t, r);
                    let user = self.abi.user_flags_mask;
                    self.set_reg(t, r, (old & !user) | (v & user));
                }
                FaultWord::Reg(r) => self.set_reg(t, r, v),
                FaultWord::FaultIp => self.tcbs[t.0 as usize].restart_pc = v,
                FaultWord::SyscallNumber => {}
            }
        }
    }

    /// Writes message register `i` of `t`: a CPU register or its IPC buffer.
    pub(crate) fn set_mr(&mut self, t: TcbId, buf: Option<PAddr>, i: usize, v: u64, mem: &mut dyn PhysMem) {
        if i < self.abi.n_register_mrs {
            let r = self.abi.mrs[i];
            self.set_reg(t, r, v);
        } else if let Some(b) = buf {
            if i < MSG_MAX_LENGTH {
                let off = (i as u64 + 1) * u64::from(self.abi.word_bytes);
                mem.write_word(b.offset(off), self.abi.word_bytes, v);
                self.touch(b.offset(off), u64::from(self.abi.word_bytes));
            }
        }
    }

    /// The message words seL4 sends for a fault (layouts of `seL4_CapFault_*` and `seL4_VMFault_*`).
    fn fault_message(&self, t: TcbId, f: &Fault) -> Vec<u64> {
        let ctx = &self.tcbs[t.0 as usize].context;
        let ip = self.tcbs[t.0 as usize].restart_pc;
        match *f {
            Fault::CapFault { addr, in_recv_phase, lookup } => {
                let mut v = vec![ip, addr, u64::from(in_recv_phase), lookup.type_number()];
                v.extend(lookup.message_words());
                v
            }
            Fault::VmFault { addr, instruction, fsr } => vec![ip, addr, u64::from(instruction), fsr],
            Fault::UnknownSyscall { number } => self
                .abi
                .unknown_syscall_msg
                .iter()
                .map(|w| match *w {
                    simcore::FaultWord::Reg(r) => ctx.get(r),
                    simcore::FaultWord::FaultIp => ip,
                    simcore::FaultWord::SyscallNumber => number,
                })
                .collect(),
            // seL4_UserException_{FaultIP, SP, FLAGS, Number, Code}.
            Fault::UserException { number, code } => {
                vec![ip, ctx.get(self.abi.sp), ctx.get(self.abi.flags), number, code]
            }
        }
    }

    /// handleFault: send a fault message to the thread's fault handler, or stop the thread.
    pub(crate) fn handle_fault(&mut self, t: TcbId, fault: Fault, mem: &mut dyn PhysMem) {
        self.charge_step(StepId::HandleFault, Category::KernelPath);
        self.stats.faults += 1;
        self.touch_tcb(t, self.layout.tcb_fault, 8);
        self.tcbs[t.0 as usize].fault = Some(fault);
        let handler = self.tcbs[t.0 as usize].fault_handler;
        let at = self.cost.now();
        let delivered = match (handler != 0).then(|| self.lookup_cap(t, handler)) {
            Some(Ok(l)) => match l.cap {
                Cap::Endpoint { ep, badge, rights }
                    if rights.write && (rights.grant || rights.grant_reply) =>
                {
                    let args = SendArgs {
                        blocking: true,
                        do_call: true,
                        badge,
                        can_grant: rights.grant,
                        can_grant_reply: rights.grant_reply,
                    };
                    self.send_ipc(t, ep, args, mem);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !delivered {
            // handleDoubleFault: no (valid) handler; the thread stops.
            self.tcbs[t.0 as usize].fault = None;
            self.cancel_ipc(t);
            self.set_state(t, ThreadState::Inactive);
            self.sched_dequeue(t);
        }
        self.events.push(KernelEvent::Fault { thread: t, fault, delivered, at });
    }

    /// doReplyTransfer: deliver a reply (or a fault reply) and wake the caller.
    pub(crate) fn do_reply_transfer(
        &mut self,
        sender: TcbId,
        receiver: TcbId,
        slot: ReplySlot,
        can_grant: bool,
        mem: &mut dyn PhysMem,
    ) {
        self.charge_step(StepId::DoReplyTransfer, Category::KernelPath);
        if self.tcbs[receiver.0 as usize].state != ThreadState::BlockedOnReply {
            return;
        }
        match self.tcbs[receiver.0 as usize].fault {
            None => {
                self.do_ipc_transfer(sender, None, 0, can_grant, receiver, mem);
                self.delete_reply_cap(slot);
                self.set_state(receiver, ThreadState::Running);
                self.possible_switch_to(receiver);
            }
            Some(f) => {
                self.delete_reply_cap(slot);
                let label = MessageInfo::from_word(self.reg(sender, self.abi.msg_info)).label;
                // handleFaultReply: memory and capability faults always restart; the others
                // restart when the reply's label is 0.
                let restart = match f {
                    Fault::CapFault { .. } | Fault::VmFault { .. } => true,
                    Fault::UnknownSyscall { .. } | Fault::UserException { .. } => label == 0,
                };
                self.tcbs[receiver.0 as usize].fault = None;
                if restart {
                    self.copy_fault_reply(sender, receiver, f, mem);
                    self.set_state(receiver, ThreadState::Restart);
                    self.possible_switch_to(receiver);
                } else {
                    self.set_state(receiver, ThreadState::Inactive);
                }
            }
        }
    }

    fn delete_reply_cap(&mut self, slot: ReplySlot) {
        match slot {
            ReplySlot::Caller(t) => self.delete_caller_cap(t),
            ReplySlot::Slot(s) => {
                if let Some(c) =
                    self.cnodes.get_mut(s.cnode.0 as usize).and_then(|c| c.slots.get_mut(s.index))
                {
                    *c = Cap::Null;
                }
            }
        }
    }

    /// replyFromKernel_error: the caller gets the error code as the label and its details as MRs.
    pub(crate) fn reply_error(&mut self, t: TcbId, err: SysError, detail: &[u64], mem: &mut dyn PhysMem) {
        self.charge_step(StepId::SyscallError, Category::KernelPath);
        let buf = self.lookup_ipc_buffer(t, true);
        for (i, w) in detail.iter().enumerate() {
            self.set_mr(t, buf, i, *w, mem);
        }
        self.set_reg(t, self.abi.cap_or_badge, 0);
        let info = MessageInfo::new(err as u64, detail.len() as u8);
        self.set_reg(t, self.abi.msg_info, info.to_word());
    }

    /// A successful reply with message words (to a Call; nothing for a Send): the caller runs
    /// on with them in its message registers.
    pub(crate) fn reply_words(&mut self, t: TcbId, is_call: bool, words: &[u64], mem: &mut dyn PhysMem) {
        if !is_call {
            return;
        }
        let buf = self.lookup_ipc_buffer(t, true);
        for (i, w) in words.iter().enumerate() {
            self.set_mr(t, buf, i, *w, mem);
        }
        self.set_reg(t, self.abi.cap_or_badge, 0);
        self.set_reg(t, self.abi.msg_info, MessageInfo::new(0, words.len() as u8).to_word());
        self.set_state(t, ThreadState::Running);
    }

    /// replyFromKernel_success_empty.
    pub(crate) fn reply_success_empty(&mut self, t: TcbId) {
        self.set_reg(t, self.abi.cap_or_badge, 0);
        self.set_reg(t, self.abi.msg_info, 0);
    }
}
