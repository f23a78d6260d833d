//! Thread control: seL4's `decodeTCBInvocation` and what it invokes (`suspend`, `restart`,
//! `setPriority`, the register transfers, binding notifications), non-MCS.
//!
//! Configure, SetSpace and SetIPCBuffer set the thread's CSpace and VSpace roots and IPC buffer;
//! the roots are kept in the TCB, outside the derivation tree (see `cnode`). Not yet here:
//! SetTLSBase and SetFlags (the simulator models neither the TLS registers nor per-thread FPU
//! flags); those labels are refused with IllegalOperation.
//!
//! Pricing: the presets count no TCB invocation paths yet; an invocation is charged the
//! preset's `decode_invocation` step (by the caller, as for every invocation) and the queue
//! operations and thread switches it causes.

use crate::abi::{Label, UserContextLayout};
use crate::object::{Cap, ThreadState};
use crate::types::{MessageInfo, SysError, TcbId};
use crate::Kernel;
use simcore::PhysMem;

/// What a failed invocation returns: the error and its detail words.
pub(crate) type InvocationError = (SysError, Vec<u64>);

/// The arguments of an invocation, as `decodeInvocation` sees them.
pub(crate) struct Invocation<'a> {
    /// The invoking thread.
    pub caller: TcbId,
    /// The message info.
    pub info: MessageInfo,
    /// The message registers the message carries (`info.length` of them).
    pub mrs: &'a [u64],
    /// The extra capabilities, looked up in the caller's CSpace.
    pub caps: &'a [Cap],
    /// The slots they are in.
    pub slots: &'a [crate::cspace::SlotRef],
    /// A Call (a reply goes back).
    pub is_call: bool,
}

impl Invocation<'_> {
    /// Message register `i`, or TruncatedMessage if the message is shorter.
    fn mr(&self, i: usize) -> Result<u64, InvocationError> {
        self.mrs.get(i).copied().ok_or((SysError::TruncatedMessage, vec![]))
    }

    /// Extra capability `i`, or TruncatedMessage if there is none.
    fn cap(&self, i: usize) -> Result<Cap, InvocationError> {
        self.caps.get(i).copied().ok_or((SysError::TruncatedMessage, vec![]))
    }
}

fn illegal() -> InvocationError {
    (SysError::IllegalOperation, vec![])
}

impl Kernel {
    /// The thread's seL4_UserContext layout (aarch32 and x86-64 have one).
    fn user_context(&self) -> Option<UserContextLayout> {
        match self.isa.as_str() {
            "aarch32" => Some(crate::abi::USER_CONTEXT_AARCH32),
            "x86_64" => Some(crate::abi::USER_CONTEXT_X86_64),
            _ => None,
        }
    }

    /// decodeTCBInvocation and its invocation. `Ok` leaves the caller in Restart unless the
    /// invocation replied itself (ReadRegisters).
    pub(crate) fn invoke_tcb(
        &mut self,
        target: TcbId,
        inv: &Invocation<'_>,
        mem: &mut dyn PhysMem,
    ) -> Result<(), InvocationError> {
        let label = Label::from_word(inv.info.label).ok_or_else(illegal)?;
        match label {
            Label::TcbReadRegisters => self.tcb_read_registers(target, inv, mem),
            Label::TcbWriteRegisters => self.tcb_write_registers(target, inv),
            Label::TcbCopyRegisters => {
                let flags = inv.mr(0)?;
                let Cap::Tcb { tcb: source } = inv.cap(0)? else {
                    return Err((SysError::InvalidCapability, vec![1]));
                };
                let layout = self.user_context().ok_or_else(illegal)?;
                if flags & 1 != 0 {
                    self.suspend(source);
                }
                if flags & 2 != 0 {
                    self.restart(target);
                }
                let ranges =
                    [(flags & 4 != 0, 0..layout.frame), (flags & 8 != 0, layout.frame..layout.words.len())];
                for (on, range) in ranges {
                    for w in range.filter(|_| on) {
                        if let Some(r) = layout.words[w] {
                            let v = self.reg(source, r);
                            self.write_user_register(target, r, v);
                        }
                    }
                }
                Ok(())
            }
            Label::TcbSetPriority | Label::TcbSetMcPriority | Label::TcbSetSchedParams => {
                let (mcp, prio) = match label {
                    Label::TcbSetPriority => (None, Some(inv.mr(0)?)),
                    Label::TcbSetMcPriority => (Some(inv.mr(0)?), None),
                    _ => (Some(inv.mr(0)?), Some(inv.mr(1)?)),
                };
                let Cap::Tcb { tcb: authority } = inv.cap(0)? else {
                    return Err((SysError::InvalidCapability, vec![1]));
                };
                // checkPrio: no more than the authority's maximum controlled priority.
                let limit = u64::from(self.tcbs[authority.0 as usize].mcp);
                if let Some(v) = mcp.into_iter().chain(prio).find(|v| *v > limit) {
                    let _ = v;
                    return Err((SysError::RangeError, vec![0, limit]));
                }
                if let Some(m) = mcp {
                    self.tcbs[target.0 as usize].mcp = m as u8;
                }
                if let Some(p) = prio {
                    self.set_priority(target, p as u8);
                }
                Ok(())
            }
            Label::TcbConfigure | Label::TcbSetSpace | Label::TcbSetIpcBuffer => {
                self.tcb_thread_control(target, label, inv)
            }
            Label::TcbSuspend => {
                self.suspend(target);
                Ok(())
            }
            Label::TcbResume => {
                self.restart(target);
                Ok(())
            }
            Label::TcbBindNotification => {
                let cap = inv.cap(0)?;
                if self.tcbs[target.0 as usize].bound_ntfn.is_some() {
                    return Err(illegal());
                }
                let Cap::Notification { ntfn, rights, .. } = cap else { return Err(illegal()) };
                let n = &self.ntfns[ntfn.0 as usize];
                if !rights.read || n.bound_tcb.is_some() || !n.queue.is_empty() {
                    return Err(illegal());
                }
                self.tcbs[target.0 as usize].bound_ntfn = Some(ntfn);
                self.ntfns[ntfn.0 as usize].bound_tcb = Some(target);
                Ok(())
            }
            Label::TcbUnbindNotification => {
                let n = self.tcbs[target.0 as usize].bound_ntfn.take().ok_or_else(illegal)?;
                self.ntfns[n.0 as usize].bound_tcb = None;
                Ok(())
            }
            _ => Err(illegal()),
        }
    }

    /// Configure, SetSpace and SetIPCBuffer (seL4's ThreadControl): a new CSpace root (with an
    /// optional new guard), VSpace root, fault-handler pointer, IPC buffer.
    fn tcb_thread_control(
        &mut self,
        target: TcbId,
        label: Label,
        inv: &Invocation<'_>,
    ) -> Result<(), InvocationError> {
        let (n_mrs, n_caps) = match label {
            Label::TcbConfigure => (4, 3),
            Label::TcbSetSpace => (3, 2),
            _ => (1, 1),
        };
        if inv.mrs.len() < n_mrs || inv.caps.len() < n_caps {
            return Err((SysError::TruncatedMessage, vec![]));
        }
        // The IPC buffer: a frame capability, aligned to seL4_IPCBufferSizeBits.
        let buffer = match label {
            Label::TcbConfigure => Some((inv.mrs[3], inv.caps[2])),
            Label::TcbSetIpcBuffer => Some((inv.mrs[0], inv.caps[0])),
            _ => None,
        };
        if let Some((addr, cap)) = buffer {
            if addr != 0 {
                if !matches!(cap, Cap::Frame { .. }) {
                    return Err(illegal());
                }
                let align = if self.abi.word_bytes == 4 { 512 } else { 1024 };
                if addr % align != 0 {
                    return Err((SysError::AlignmentError, vec![]));
                }
            }
        }
        let space = if label == Label::TcbSetIpcBuffer {
            None
        } else {
            let croot_data = inv.mrs[1];
            let mut croot = inv.caps[0];
            if croot_data != 0 {
                croot = self.update_cap_data(false, croot_data, croot).ok_or_else(illegal)?;
            }
            if !matches!(croot, Cap::CNode { .. }) {
                return Err(illegal());
            }
            // (The VSpace data word, MR2, changes nothing on aarch32 or x86-64.)
            // deriveCap and isValidVTableRoot: a VSpace root with an ASID.
            let vroot = inv.caps[1];
            if !self.is_valid_vtable_root(&vroot) {
                return Err(illegal());
            }
            Some((inv.mrs[0], croot, vroot))
        };
        let tcb = &mut self.tcbs[target.0 as usize];
        if let Some((fault_ep, croot, vroot)) = space {
            tcb.fault_handler = fault_ep;
            tcb.cspace_root = croot;
            tcb.vspace_root = vroot;
        }
        if let Some((addr, _)) = buffer {
            tcb.ipc_buffer = simcore::VAddr(addr);
        }
        Ok(())
    }

    fn tcb_read_registers(
        &mut self,
        target: TcbId,
        inv: &Invocation<'_>,
        mem: &mut dyn PhysMem,
    ) -> Result<(), InvocationError> {
        let (flags, count) = (inv.mr(0)?, inv.mr(1)?);
        let layout = self.user_context().ok_or_else(illegal)?;
        let n = layout.words.len() as u64;
        if count < 1 || count > n {
            return Err((SysError::RangeError, vec![1, n]));
        }
        if target == inv.caller {
            return Err(illegal());
        }
        if flags & 1 != 0 {
            self.suspend(target);
        }
        let words: Vec<u64> =
            layout.words.iter().take(count as usize).map(|w| w.map_or(0, |r| self.reg(target, r))).collect();
        self.reply_words(inv.caller, inv.is_call, &words, mem);
        Ok(())
    }

    fn tcb_write_registers(&mut self, target: TcbId, inv: &Invocation<'_>) -> Result<(), InvocationError> {
        let (flags, count) = (inv.mr(0)?, inv.mr(1)?);
        if (inv.mrs.len() as u64).saturating_sub(2) < count {
            return Err((SysError::TruncatedMessage, vec![]));
        }
        if target == inv.caller {
            return Err(illegal());
        }
        let layout = self.user_context().ok_or_else(illegal)?;
        let count = (count as usize).min(layout.words.len());
        for (i, w) in layout.words.iter().take(count).enumerate() {
            if let Some(r) = *w {
                self.write_user_register(target, r, inv.mrs[2 + i]);
            }
        }
        if flags & 1 != 0 {
            self.restart(target);
        }
        Ok(())
    }

    /// Writes one user register of a thread the way seL4 sanitises it: the flags register keeps
    /// its privileged bits; a new PC is also where a restarted thread resumes (FaultIP).
    fn write_user_register(&mut self, t: TcbId, r: usize, v: u64) {
        if r == self.abi.flags {
            let user = self.abi.user_flags_mask;
            let old = self.reg(t, r);
            self.set_reg(t, r, (old & !user) | (v & user));
        } else {
            self.set_reg(t, r, v);
            if r == self.abi.pc {
                self.tcbs[t.0 as usize].restart_pc = v & self.word_mask();
            }
        }
    }

    fn word_mask(&self) -> u64 {
        if self.abi.word_bytes == 4 {
            0xffff_ffff
        } else {
            u64::MAX
        }
    }

    /// suspend: the thread stops (its IPC is cancelled, it leaves the ready queue); a running
    /// thread will resume after its current instruction or system call.
    pub(crate) fn suspend(&mut self, t: TcbId) {
        self.cancel_ipc(t);
        if self.tcbs[t.0 as usize].state == ThreadState::Running {
            let pc = self.reg(t, self.abi.pc);
            self.tcbs[t.0 as usize].restart_pc = pc;
        }
        self.set_state(t, ThreadState::Inactive);
        self.sched_dequeue(t);
    }

    /// restart: a stopped thread (inactive, or blocked, whose IPC is then abandoned) re-executes
    /// its system call or instruction; a runnable one is not affected.
    pub(crate) fn restart(&mut self, t: TcbId) {
        let stopped = !self.tcbs[t.0 as usize].state.is_runnable();
        if stopped {
            self.cancel_ipc(t);
            self.set_state(t, ThreadState::Restart);
            self.sched_enqueue(t);
            self.possible_switch_to(t);
        }
    }

    /// setPriority: a queued thread moves to its new priority's queue; a runnable one may now
    /// preempt (or, if current, be preempted).
    pub(crate) fn set_priority(&mut self, t: TcbId, prio: u8) {
        self.sched_dequeue(t);
        self.tcbs[t.0 as usize].priority = prio;
        if self.tcbs[t.0 as usize].state.is_runnable() {
            if Some(t) == self.current {
                self.reschedule_required();
            } else {
                self.possible_switch_to(t);
            }
        }
    }
}
