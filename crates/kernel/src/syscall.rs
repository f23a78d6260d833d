//! Kernel entry: `handleSyscall` and the fault entries, the invocation decoder, and the exit
//! back to user mode. One function per system call, one shared tail.

use crate::cspace::{LookupFault, SlotRef};
use crate::ipc::{ReplySlot, SendArgs};
use crate::object::{layout, Cap, Fault, ThreadState};
use crate::preset::{IpcTarget, StepId};
use crate::tcb::Invocation;
use crate::types::{MessageInfo, Rights, SysError, Syscall, TcbId};
use crate::{Event, Kernel, Resume};
use simcore::{Category, PhysMem};

impl Kernel {
    /// Handles one kernel entry of the current thread, whose registers the backend has saved into
    /// its TCB, and says what runs next. Never panics on guest behaviour. With invariant checking
    /// on, a broken invariant stops the machine instead ([`Resume::Stopped`]).
    pub fn handle(&mut self, event: Event, mem: &mut dyn PhysMem) -> Resume {
        if self.violation.is_some() {
            return Resume::Stopped;
        }
        let r = self.handle_entry(event, mem);
        if self.check_invariants {
            if let Err(v) = self.check_invariants() {
                self.violation = Some(v);
                return Resume::Stopped;
            }
        }
        r
    }

    /// The invariant that broke and stopped the run, if one did.
    pub fn invariant_violation(&self) -> Option<&crate::InvariantViolation> {
        self.violation.as_ref()
    }

    fn handle_entry(&mut self, event: Event, mem: &mut dyn PhysMem) -> Resume {
        self.stats.entries += 1;
        let Some(t) = self.current else {
            // Nothing was running: an interrupt may make something runnable; then choose.
            if let Event::Interrupt { line } = event {
                self.handle_interrupt(line);
            }
            // (A thread the interrupt woke and chose to switch to goes to its ready queue.)
            self.reschedule_required();
            return self.exit(None);
        };
        let prev = Some(t);
        self.cost.primitives(Category::TrapEntry, &self.trap_entry);
        self.charge_skim(false);
        self.cost.primitives(Category::StateSave, &self.entry_state);
        self.charge_step(StepId::Entry, Category::StateSave);
        let regs = self.regs_bytes();
        self.touch_tcb(t, self.layout.tcb_regs, regs);
        match event {
            Event::Interrupt { line } => self.handle_interrupt(line),
            Event::Syscall => {
                let pc = self.reg(t, self.abi.pc);
                self.tcbs[t.0 as usize].restart_pc = pc.wrapping_sub(self.abi.syscall_insn_bytes);
                if let Some(r) = self.handle_syscall(t, mem) {
                    return r;
                }
            }
            Event::VmFault { addr, instruction, write: _, fsr } => {
                self.tcbs[t.0 as usize].restart_pc = self.reg(t, self.abi.pc);
                self.handle_fault(t, Fault::VmFault { addr, instruction, fsr }, mem);
            }
            Event::UserException { number, code } => {
                self.tcbs[t.0 as usize].restart_pc = self.reg(t, self.abi.pc);
                self.handle_fault(t, Fault::UserException { number, code }, mem);
            }
            Event::UnknownSyscall { number } => {
                self.tcbs[t.0 as usize].restart_pc = self.reg(t, self.abi.pc);
                self.handle_fault(t, Fault::UnknownSyscall { number }, mem);
            }
        }
        self.schedule();
        self.activate_thread();
        // A thread without an address space cannot fetch its first instruction: it takes a VM
        // fault there (as seL4's thread does in the kernel's global address space).
        while let Some(n) = self.current {
            if matches!(self.tcbs[n.0 as usize].vspace_root, Cap::VSpace { .. }) {
                break;
            }
            let pc = self.reg(n, self.abi.pc);
            self.tcbs[n.0 as usize].restart_pc = pc;
            self.handle_fault(n, Fault::VmFault { addr: pc, instruction: true, fsr: 0 }, mem);
            self.schedule();
            self.activate_thread();
        }
        self.exit(prev)
    }

    /// handleSyscall. Returns `Some` when the path already decided how to leave the kernel
    /// (the fastpath, or a halt).
    fn handle_syscall(&mut self, t: TcbId, mem: &mut dyn PhysMem) -> Option<Resume> {
        let number = self.reg(t, self.abi.syscall);
        let Some(sc) = Syscall::from_word(number, self.abi.word_bytes) else {
            self.charge_step(StepId::SlowpathEntry, Category::KernelPath);
            self.stats.slowpath += 1;
            self.handle_fault(t, Fault::UnknownSyscall { number }, mem);
            return None;
        };
        if self.fastpath {
            let done = match sc {
                Syscall::Call => self.fastpath_call(t),
                Syscall::ReplyRecv => self.fastpath_reply_recv(t),
                _ => false,
            };
            if done {
                let next = self.current;
                return Some(self.exit_to(Some(t), next, true));
            }
        }
        self.charge_step(StepId::SlowpathEntry, Category::KernelPath);
        self.stats.slowpath += 1;
        match sc {
            Syscall::Call => self.handle_invocation(t, true, true, mem),
            Syscall::Send => self.handle_invocation(t, false, true, mem),
            Syscall::NBSend => self.handle_invocation(t, false, false, mem),
            Syscall::Recv => self.handle_recv(t, true, mem),
            Syscall::NBRecv => self.handle_recv(t, false, mem),
            Syscall::Reply => self.handle_reply(t, mem),
            Syscall::ReplyRecv => {
                self.handle_reply(t, mem);
                self.handle_recv(t, true, mem);
            }
            Syscall::Yield => self.handle_yield(),
            Syscall::DebugPutChar => {
                let byte = self.reg(t, self.abi.cap_or_badge) as u8;
                self.events.push(crate::KernelEvent::PutChar { thread: t, byte });
            }
            Syscall::DebugHalt => {
                // The halting thread's exit is still priced, so the ledger is complete.
                self.charge_step(StepId::Exit, Category::StateRestore);
                self.charge_trap_exit();
                return Some(Resume::Halt(t));
            }
        }
        None
    }

    /// What a Call or Send names: the capability and its slot (seL4), or, in a thread-ID kernel,
    /// the destination thread's own receive queue as an endpoint capability badged with the
    /// sender's thread ID (no slot). An unknown thread ID is an invalid root, as seL4 reports an
    /// empty CSpace.
    fn lookup_ipc_target(&mut self, t: TcbId, cptr: u64) -> Result<(Cap, Option<SlotRef>), LookupFault> {
        match self.design.ipc_target {
            IpcTarget::Capability => self.lookup_cap(t, cptr).map(|l| (l.cap, Some(l.slot))),
            IpcTarget::ThreadId => {
                let (dest, ep, badge) = self.thread_target(t, cptr).ok_or(LookupFault::InvalidRoot)?;
                self.charge_thread_id_lookup(dest);
                Ok((Cap::Endpoint { ep, badge, rights: Rights::ALL }, None))
            }
        }
    }

    /// handleInvocation: Call, Send, NBSend on a capability.
    fn handle_invocation(&mut self, t: TcbId, is_call: bool, blocking: bool, mem: &mut dyn PhysMem) {
        let cptr = self.reg(t, self.abi.cap_or_badge);
        let info = MessageInfo::from_word(self.reg(t, self.abi.msg_info));
        let lookup = match self.lookup_ipc_target(t, cptr) {
            Ok(l) => l,
            Err(lf) => {
                if blocking {
                    self.handle_fault(
                        t,
                        Fault::CapFault { addr: cptr, in_recv_phase: false, lookup: lf },
                        mem,
                    );
                }
                return;
            }
        };
        // lookupExtraCaps: a capability the message names that does not resolve is a fault.
        let (extra, extra_slots): (Vec<Cap>, Vec<SlotRef>) = match self.lookup_extra_caps(t, info, mem) {
            Ok(c) => c.iter().map(|l| (l.cap, l.slot)).unzip(),
            Err(f) => {
                if blocking {
                    self.handle_fault(t, f, mem);
                }
                return;
            }
        };
        self.charge_step(StepId::DecodeInvocation, Category::KernelPath);
        let result = match lookup.0 {
            Cap::Endpoint { ep, badge, rights } => {
                if !rights.write {
                    Err((SysError::InvalidCapability, vec![0]))
                } else {
                    self.set_state(t, ThreadState::Restart);
                    let args = SendArgs {
                        blocking,
                        do_call: is_call,
                        badge,
                        can_grant: rights.grant,
                        can_grant_reply: rights.grant_reply,
                    };
                    self.send_ipc(t, ep, args, mem);
                    Ok(())
                }
            }
            // performInvocation_Notification: Signal (a Call gets an empty reply).
            Cap::Notification { ntfn, badge, rights } => {
                if !rights.write {
                    Err((SysError::InvalidCapability, vec![0]))
                } else {
                    self.send_signal(ntfn, badge);
                    Ok(())
                }
            }
            Cap::Reply { master: true, .. } | Cap::Null => Err((SysError::InvalidCapability, vec![0])),
            Cap::Reply { tcb: caller, master: false, can_grant } => match lookup.1 {
                Some(slot) => {
                    self.set_state(t, ThreadState::Restart);
                    self.do_reply_transfer(t, caller, ReplySlot::Slot(slot), can_grant, mem);
                    Ok(())
                }
                None => Err((SysError::InvalidCapability, vec![0])),
            },
            // The objects' own invocations: decoded from the message registers and extra
            // capabilities, the caller left to restart if the invocation blocks it.
            object => {
                let mrs = self.message_words(t, info, mem);
                let inv =
                    Invocation { caller: t, info, mrs: &mrs, caps: &extra, slots: &extra_slots, is_call };
                self.set_state(t, ThreadState::Restart);
                match (object, lookup.1) {
                    (Cap::Tcb { tcb }, _) => self.invoke_tcb(tcb, &inv, mem),
                    (Cap::CNode { .. }, _) => self.invoke_cnode(object, &inv),
                    (Cap::Untyped { .. }, Some(slot)) => self.invoke_untyped(slot, &inv, mem),
                    (Cap::Frame { .. }, Some(slot)) => self.invoke_frame(slot, &inv, mem),
                    (Cap::PageTable { .. }, Some(slot)) => self.invoke_page_table(slot, &inv),
                    (Cap::AsidControl, _) => self.invoke_asid_control(&inv),
                    (Cap::AsidPool { pool }, _) => self.invoke_asid_pool(pool, &inv),
                    (Cap::IrqControl, Some(slot)) => self.invoke_irq_control(slot, &inv),
                    (Cap::IrqHandler { irq }, _) => self.invoke_irq_handler(irq, &inv),
                    // The ARM page directory's cache operations are not modelled; x86-64's PML4
                    // has no invocations.
                    (Cap::VSpace { .. }, _) => Err((SysError::IllegalOperation, vec![])),
                    _ => Err((SysError::InvalidCapability, vec![0])),
                }
            }
        };
        // Stopped at a preemption point: the thread restarts the system call after the interrupt.
        if std::mem::take(&mut self.preempted) {
            return;
        }
        match result {
            Err((e, detail)) => {
                if self.tcbs[t.0 as usize].state == ThreadState::Restart {
                    self.set_state(t, ThreadState::Running);
                }
                if is_call {
                    self.reply_error(t, e, &detail, mem);
                }
            }
            Ok(()) => {
                if self.tcbs[t.0 as usize].state == ThreadState::Restart {
                    if is_call {
                        self.reply_success_empty(t);
                    }
                    self.set_state(t, ThreadState::Running);
                }
            }
        }
    }

    /// The message registers a message carries, from registers and the sender's IPC buffer.
    fn message_words(&mut self, t: TcbId, info: MessageInfo, mem: &mut dyn PhysMem) -> Vec<u64> {
        let buf = self.lookup_ipc_buffer(t, false);
        (0..usize::from(info.length)).map(|i| self.get_mr(t, buf, i, mem)).collect()
    }

    /// lookupExtraCaps: the capabilities the message names in the IPC buffer's
    /// `caps_or_badges`, looked up in the sender's CSpace (none without an IPC buffer).
    pub(crate) fn lookup_extra_caps(
        &mut self,
        t: TcbId,
        info: MessageInfo,
        mem: &mut dyn PhysMem,
    ) -> Result<Vec<crate::cspace::Lookup>, Fault> {
        let Some(buf) = self.lookup_ipc_buffer(t, false).filter(|_| info.extra_caps > 0) else {
            return Ok(Vec::new());
        };
        let wb = self.abi.word_bytes;
        let mut caps = Vec::new();
        for i in 0..u64::from(info.extra_caps) {
            let pa = buf.offset((crate::abi::IPC_BUFFER_CAPS_OR_BADGES + i) * u64::from(wb));
            self.touch(pa, u64::from(wb));
            let cptr = mem.read_word(pa, wb).unwrap_or(0);
            match self.lookup_cap(t, cptr) {
                Ok(l) => caps.push(l),
                Err(lookup) => return Err(Fault::CapFault { addr: cptr, in_recv_phase: false, lookup }),
            }
        }
        Ok(caps)
    }

    /// handleRecv: endpoints, and notifications (Wait, Poll).
    fn handle_recv(&mut self, t: TcbId, blocking: bool, mem: &mut dyn PhysMem) {
        let cptr = self.reg(t, self.abi.cap_or_badge);
        if self.design.ipc_target == IpcTarget::ThreadId {
            // Thread-ID kernels receive on the thread's own queue (an open wait).
            if let Some(ep) = self.tcbs[t.0 as usize].own_ep {
                self.delete_caller_cap(t);
                self.receive_ipc(t, ep, blocking, mem);
            }
            return;
        }
        match self.lookup_cap(t, cptr) {
            Err(lf) => {
                self.handle_fault(t, Fault::CapFault { addr: cptr, in_recv_phase: true, lookup: lf }, mem);
            }
            Ok(l) => match l.cap {
                Cap::Endpoint { ep, rights, .. } if rights.read => {
                    self.delete_caller_cap(t);
                    self.receive_ipc(t, ep, blocking, mem);
                }
                // Wait / Poll: a notification bound to another thread cannot be waited on.
                Cap::Notification { ntfn, rights, .. }
                    if rights.read && self.ntfns[ntfn.0 as usize].bound_tcb.is_none_or(|b| b == t) =>
                {
                    self.receive_signal(t, ntfn, blocking);
                }
                _ => {
                    let lf = LookupFault::MissingCapability { bits_left: 0 };
                    self.handle_fault(
                        t,
                        Fault::CapFault { addr: cptr, in_recv_phase: true, lookup: lf },
                        mem,
                    );
                }
            },
        }
    }

    /// handleReply: use the reply capability in the caller slot, if any.
    fn handle_reply(&mut self, t: TcbId, mem: &mut dyn PhysMem) {
        self.touch_tcb(t, self.layout.tcb_slot(layout::SLOT_CALLER), self.layout.cte_bytes);
        if let Cap::Reply { tcb: caller, master: false, can_grant } = self.tcbs[t.0 as usize].caller {
            self.do_reply_transfer(t, caller, ReplySlot::Caller(t), can_grant, mem);
        }
    }

    /// activateThread: a restarted thread re-executes its system call or faulting instruction.
    fn activate_thread(&mut self) {
        let Some(t) = self.current else { return };
        if self.tcbs[t.0 as usize].state == ThreadState::Restart {
            let pc = self.tcbs[t.0 as usize].restart_pc;
            self.set_reg(t, self.abi.pc, pc);
            self.set_state(t, ThreadState::Running);
        }
    }

    /// The exit primitives: the return instruction as trap exit, user state the exit stub loads
    /// into the CPU (x86 segment registers) as state restore.
    fn charge_trap_exit(&mut self) {
        self.cost.primitives(Category::StateRestore, &self.exit_state);
        self.charge_skim(true);
        self.cost.primitives(Category::TrapExit, &self.trap_exit);
    }

    /// The shared tail of every slowpath entry.
    fn exit(&mut self, prev: Option<TcbId>) -> Resume {
        if prev.is_none() {
            self.schedule();
            self.activate_thread();
        }
        let next = self.current;
        self.exit_to(prev, next, false)
    }

    /// Leaves the kernel into `next`: address-space switch if the thread changed (as the fastpath or
    /// the slowpath issues it), then the exit stub and the exception return.
    pub(crate) fn exit_to(&mut self, prev: Option<TcbId>, next: Option<TcbId>, fastpath: bool) -> Resume {
        let Some(n) = next else {
            return Resume::Idle;
        };
        if prev != Some(n) {
            self.note_switch(n, fastpath);
            self.charge_stack_switch(n);
        }
        self.charge_step(StepId::Exit, Category::StateRestore);
        if prev != Some(n) {
            // Per-thread user state the exit stub loads into the CPU for another thread (x86-64:
            // the GS base pointing at the IPC buffer).
            self.cost.primitives(Category::StateRestore, &self.thread_switch_seq);
        }
        let regs = self.regs_bytes();
        self.touch_tcb(n, self.layout.tcb_regs, regs);
        self.charge_trap_exit();
        Resume::Thread(n)
    }
}
