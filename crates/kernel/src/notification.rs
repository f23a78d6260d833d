//! Notifications: seL4's `sendSignal`, `receiveSignal`, `completeSignal` and binding a
//! notification to a thread (the paper's section 3.2.1: one thread waits for IPC and
//! notifications at once).
//!
//! Pricing: the presets do not yet count `sendSignal` and `receiveSignal`; they are charged the
//! preset's `send_ipc` and `receive_ipc` steps, the endpoint paths of the same structure (a
//! queue test, a state change, a possible switch), which are longer. Table I and the ping-pong
//! never signal.

use crate::object::{NtfnState, ThreadState};
use crate::preset::StepId;
use crate::types::{NtfnId, TcbId};
use crate::Kernel;
use simcore::Category;

impl Kernel {
    fn touch_ntfn(&mut self, n: NtfnId) {
        let pa = self.ntfns[n.0 as usize].paddr;
        self.touch(pa, self.layout.ntfn_bytes);
    }

    /// sendSignal: OR the badge into the word, or hand it to a waiting (or bound and receiving)
    /// thread.
    pub(crate) fn send_signal(&mut self, n: NtfnId, badge: u64) {
        self.charge_step(StepId::SendIpc, Category::KernelPath);
        self.touch_ntfn(n);
        let badge_reg = self.abi.cap_or_badge;
        match self.ntfns[n.0 as usize].state {
            NtfnState::Idle => {
                let bound = self.ntfns[n.0 as usize].bound_tcb;
                match bound {
                    Some(t)
                        if matches!(self.tcbs[t.0 as usize].state, ThreadState::BlockedOnReceive { .. }) =>
                    {
                        // A bound thread waiting on an endpoint gets the signal instead.
                        self.cancel_ipc(t);
                        self.set_state(t, ThreadState::Running);
                        self.set_reg(t, badge_reg, badge);
                        self.possible_switch_to(t);
                    }
                    _ => {
                        let x = &mut self.ntfns[n.0 as usize];
                        x.state = NtfnState::Active;
                        x.word = badge;
                    }
                }
            }
            NtfnState::Waiting => {
                let x = &mut self.ntfns[n.0 as usize];
                let Some(t) = x.queue.pop_front() else {
                    x.state = NtfnState::Idle;
                    return;
                };
                if x.queue.is_empty() {
                    x.state = NtfnState::Idle;
                }
                self.set_state(t, ThreadState::Running);
                self.set_reg(t, badge_reg, badge);
                self.possible_switch_to(t);
            }
            NtfnState::Active => self.ntfns[n.0 as usize].word |= badge,
        }
    }

    /// receiveSignal: take a pending signal, or wait for one (or, not blocking, get badge 0).
    pub(crate) fn receive_signal(&mut self, t: TcbId, n: NtfnId, blocking: bool) {
        self.charge_step(StepId::ReceiveIpc, Category::KernelPath);
        self.touch_ntfn(n);
        match self.ntfns[n.0 as usize].state {
            NtfnState::Idle | NtfnState::Waiting => {
                if blocking {
                    self.set_state(t, ThreadState::BlockedOnNotification { ntfn: n });
                    let x = &mut self.ntfns[n.0 as usize];
                    x.queue.push_back(t);
                    x.state = NtfnState::Waiting;
                } else {
                    let r = self.abi.cap_or_badge;
                    self.set_reg(t, r, 0);
                }
            }
            NtfnState::Active => self.complete_signal(n, t),
        }
    }

    /// completeSignal: the pending word becomes the receiver's badge; the notification is idle.
    pub(crate) fn complete_signal(&mut self, n: NtfnId, t: TcbId) {
        let x = &mut self.ntfns[n.0 as usize];
        let word = x.word;
        x.word = 0;
        x.state = NtfnState::Idle;
        let r = self.abi.cap_or_badge;
        self.set_reg(t, r, word);
    }

    /// The thread's bound notification, if a signal is pending on it (receiveIPC completes that
    /// signal instead of waiting on the endpoint).
    pub(crate) fn pending_bound_signal(&self, t: TcbId) -> Option<NtfnId> {
        let n = self.tcbs[t.0 as usize].bound_ntfn?;
        (self.ntfns[n.0 as usize].state == NtfnState::Active).then_some(n)
    }

    /// cancelSignal: a thread waiting on a notification stops waiting.
    pub(crate) fn cancel_signal(&mut self, t: TcbId, n: NtfnId) {
        let x = &mut self.ntfns[n.0 as usize];
        x.queue.retain(|w| *w != t);
        if x.queue.is_empty() && x.state == NtfnState::Waiting {
            x.state = NtfnState::Idle;
        }
    }
}
