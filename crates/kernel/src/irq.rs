//! Interrupts, non-MCS: IRQ control and IRQ handler capabilities, interrupts delivered to
//! user-level drivers as notification signals (masked until the driver acknowledges them), and
//! the kernel's preemption timer, whose ticks drive round-robin time slices (seL4's
//! `handleInterrupt`, `timerTick`, `decodeIRQControlInvocation`, `decodeIRQHandlerInvocation`).
//!
//! The backend's interrupt controller reports a *line* as raised ([`crate::Event::Interrupt`]).
//! On aarch32 a line is a GIC interrupt ID and the IRQ number itself. On x86-64 a line is an
//! I/O APIC pin, and the IRQ is whatever `IRQControl_GetIOAPIC` routed the pin to (the vector
//! minus seL4's `IRQ_INT_OFFSET`, plus `irq_user_min`); an unrouted pin is spurious. The kernel
//! timer is an IRQ of its own (imx6: the A9 private timer, 29; x86-64: the local APIC timer,
//! seL4's `irq_timer`, 124), reserved for the kernel.
//!
//! Preemption: a long Revoke or Delete checks between deletions whether an interrupt is due
//! (the backend says when the next one is, [`Kernel::set_interrupt_due`]); if so the operation
//! stops, the thread is left to restart its system call, and the interrupt is taken.
//!
//! Pricing: the presets count no interrupt path yet; an interrupt entry is charged the trap
//! entry and exit, the register save and restore, and the `decode_invocation` step for the
//! handling; invocations as the other object invocations.

use crate::cspace::SlotRef;
use crate::object::{Cap, ThreadState};
use crate::preset::StepId;
use crate::tcb::{Invocation, InvocationError};
use crate::types::{CNodeId, SysError};
use crate::Kernel;
use crate::KernelError;
use simcore::{Category, Cycles};

/// seL4's `irq_state_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqState {
    /// No handler issued.
    Inactive,
    /// Delivered as a signal to the handler's notification.
    Signal,
    /// The kernel's preemption timer.
    Timer,
}

/// The interrupt facts of a platform (seL4's `maxIRQ`, `KERNEL_TIMER_IRQ`, and the x86 vector
/// range a user may route to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqPlatform {
    /// The highest IRQ number.
    pub max_irq: u32,
    /// The kernel timer's IRQ.
    pub timer_irq: u32,
    /// x86-64 only: IRQ of vector 0 of `GetIOAPIC` (`irq_user_min`), and the highest vector.
    pub ioapic: Option<(u32, u64)>,
}

/// aarch32, imx6 (Cortex-A9 GIC: 160 interrupt IDs; the private timer is ID 29).
pub const IMX6: IrqPlatform = IrqPlatform { max_irq: 159, timer_irq: 29, ioapic: None };
/// x86-64, pc99: user IRQs 16..=123 (vectors 0..=107 of GetIOAPIC), the APIC timer 124.
pub const PC99: IrqPlatform = IrqPlatform { max_irq: 125, timer_irq: 124, ioapic: Some((16, 107)) };

/// ARM's IRQControl label for a handler with a trigger mode (`ARMIRQIssueIRQHandlerTrigger`).
const ARM_ISSUE_TRIGGER: u64 = 48;
/// x86-64's `X86IRQIssueIRQHandlerIOAPIC` (pc99, IOMMU on).
const X86_ISSUE_IOAPIC: u64 = 54;
/// An IRQ handler invoked with no IRQ node (a capability put in place by hand, without IRQ
/// control): refused.
fn illegal_irq() -> InvocationError {
    (SysError::IllegalOperation, vec![])
}

/// Pins of the modelled I/O APIC.
const IOAPIC_PINS: u64 = 24;

/// The interrupt state of the kernel: one entry per IRQ.
#[derive(Clone, Debug)]
pub(crate) struct Interrupts {
    pub(crate) platform: IrqPlatform,
    pub(crate) state: Vec<IrqState>,
    /// seL4's `intStateIRQNode`: a kernel CNode with one slot per IRQ, holding the notification
    /// capability the IRQ signals (a copy in the derivation tree, so that revoking the
    /// notification's capability takes it, and the notification lives while it is there). Made
    /// when IRQ control is first handed out ([`Kernel::ensure_irq_node`]).
    pub(crate) node: Option<CNodeId>,
    /// Masked: delivered and not yet acknowledged.
    pub(crate) masked: Vec<bool>,
    /// Raised while masked (or not yet taken): taken when unmasked.
    pub(crate) pending: Vec<bool>,
    /// x86-64: the IRQ each I/O APIC pin is routed to.
    pub(crate) pin_route: Vec<Option<u32>>,
    /// The preemption timer's period and the time slice in ticks (seL4's `CONFIG_TIMER_TICK_MS`
    /// and `CONFIG_TIME_SLICE`); no ticks when the period is 0.
    pub(crate) tick: Cycles,
    pub(crate) time_slice: u32,
    /// When the backend's next interrupt is due (for preemption points).
    pub(crate) due: Option<Cycles>,
}

impl Interrupts {
    pub(crate) fn new(platform: IrqPlatform) -> Interrupts {
        let n = platform.max_irq as usize + 1;
        let mut state = vec![IrqState::Inactive; n];
        state[platform.timer_irq as usize] = IrqState::Timer;
        Interrupts {
            platform,
            state,
            node: None,
            masked: vec![false; n],
            pending: vec![false; n],
            pin_route: vec![None; IOAPIC_PINS as usize],
            tick: Cycles(0),
            time_slice: 5,
            due: None,
        }
    }
}

impl Kernel {
    /// Sets the preemption timer: a tick every `period` cycles (0: none) and a time slice of
    /// `slice` ticks. seL4's defaults are 2 ms ticks and 5-tick slices.
    pub fn set_timer(&mut self, period: u64, slice: u32) {
        self.irq.tick = Cycles(period);
        self.irq.time_slice = slice.max(1);
        for t in &mut self.tcbs {
            t.time_slice = self.irq.time_slice;
        }
    }

    /// Makes the IRQ node (seL4's `intStateIRQNode`, allocated at boot) if there is none yet:
    /// a CNode of one slot per IRQ, rounded up to a power of two, in kernel memory.
    pub(crate) fn ensure_irq_node(&mut self) -> Result<(), KernelError> {
        if self.irq.node.is_none() {
            let slots = (u64::from(self.irq.platform.max_irq) + 1).next_power_of_two();
            let bytes = slots * self.layout.cte_bytes;
            let paddr = self.alloc_phys(bytes, bytes)?;
            self.irq.node = Some(self.new_cnode(paddr, slots.trailing_zeros() as u8));
        }
        Ok(())
    }

    /// The IRQ node's slot of `irq`.
    fn irq_slot(&self, irq: u32) -> Option<SlotRef> {
        self.irq.node.map(|cnode| SlotRef { cnode, index: irq as usize })
    }

    /// The preemption timer's period in cycles (0: none) and its IRQ.
    pub fn timer(&self) -> (u64, u32) {
        (self.irq.tick.0, self.irq.platform.timer_irq)
    }

    /// The kernel timer's interrupt line (what the backend raises for a tick).
    pub fn timer_line(&self) -> u32 {
        self.irq.platform.timer_irq
    }

    /// Tells the kernel when the next interrupt is due, so that a long operation can stop at a
    /// preemption point and let it in.
    pub fn set_interrupt_due(&mut self, due: Option<u64>) {
        self.irq.due = due.map(Cycles);
    }

    /// seL4's preemptionPoint: an interrupt is due now.
    pub(crate) fn interrupt_due(&self) -> bool {
        self.irq.due.is_some_and(|d| self.cost.now() >= d)
    }

    /// The IRQ a raised line is (None: spurious).
    fn irq_of_line(&self, line: u32) -> Option<u32> {
        match self.irq.platform.ioapic {
            Some(_) if line == self.irq.platform.timer_irq => Some(line),
            Some(_) => self.irq.pin_route.get(line as usize).copied().flatten(),
            None => (line <= self.irq.platform.max_irq).then_some(line),
        }
    }

    /// handleInterrupt: the interrupt of `line`.
    pub(crate) fn handle_interrupt(&mut self, line: u32) {
        self.charge_step(StepId::DecodeInvocation, Category::KernelPath);
        let Some(irq) = self.irq_of_line(line) else { return };
        let i = irq as usize;
        match self.irq.state[i] {
            IrqState::Timer => self.timer_tick(),
            IrqState::Signal if self.irq.masked[i] => self.irq.pending[i] = true,
            IrqState::Signal => self.handle_interrupt_irq(irq),
            // seL4 masks an interrupt nobody handles (and reports it in debug builds).
            IrqState::Inactive => self.irq.masked[i] = true,
        }
    }

    /// timerTick: the running thread's time slice shrinks; at its end the thread goes to the back
    /// of its priority's queue.
    fn timer_tick(&mut self) {
        let Some(t) = self.current else { return };
        if self.tcbs[t.0 as usize].state != ThreadState::Running {
            return;
        }
        let tcb = &mut self.tcbs[t.0 as usize];
        tcb.time_slice = tcb.time_slice.saturating_sub(1);
        if tcb.time_slice == 0 {
            tcb.time_slice = self.irq.time_slice;
            self.sched_append(t);
            self.reschedule_required();
        }
    }

    /// decodeIRQControlInvocation (generic IssueIRQHandler, ARM's with trigger, x86-64's I/O
    /// APIC route; MSI is refused).
    pub(crate) fn invoke_irq_control(
        &mut self,
        slot: SlotRef,
        inv: &Invocation<'_>,
    ) -> Result<(), InvocationError> {
        let label = inv.info.label;
        let x86 = self.irq.platform.ioapic;
        let (irq, index, depth, root, pin) =
            if label == crate::abi::Label::IrqIssueIrqHandler as u64 && x86.is_none() {
                if inv.mrs.len() < 3 || inv.caps.is_empty() {
                    return Err((SysError::TruncatedMessage, vec![]));
                }
                (inv.mrs[0], inv.mrs[1], inv.mrs[2], inv.caps[0], None)
            } else if label == ARM_ISSUE_TRIGGER && x86.is_none() {
                if inv.mrs.len() < 4 || inv.caps.is_empty() {
                    return Err((SysError::TruncatedMessage, vec![]));
                }
                (inv.mrs[0], inv.mrs[2], inv.mrs[3], inv.caps[0], None)
            } else if let (true, Some((user_min, max_vector))) = (label == X86_ISSUE_IOAPIC, x86) {
                // index, depth, ioapic, pin, level, polarity, vector
                if inv.mrs.len() < 7 || inv.caps.is_empty() {
                    return Err((SysError::TruncatedMessage, vec![]));
                }
                let vector = inv.mrs[6];
                if vector > max_vector {
                    return Err((SysError::RangeError, vec![0, max_vector]));
                }
                let (ioapic, pin) = (inv.mrs[2], inv.mrs[3]);
                if ioapic != 0 {
                    return Err((SysError::RangeError, vec![0, 0]));
                }
                if pin >= IOAPIC_PINS {
                    return Err((SysError::RangeError, vec![0, IOAPIC_PINS - 1]));
                }
                (vector + u64::from(user_min), inv.mrs[0], inv.mrs[1], inv.caps[0], Some(pin))
            } else {
                // Everything else, x86-64's MSI routes among them (`X86IRQIssueIRQHandlerMSI`,
                // 55: the simulated machine has no PCI devices), is refused.
                return Err((SysError::IllegalOperation, vec![]));
            };
        let max = u64::from(self.irq.platform.max_irq);
        if irq > max {
            return Err((SysError::RangeError, vec![0, max]));
        }
        if self.irq.state[irq as usize] != IrqState::Inactive {
            return Err((SysError::RevokeFirst, vec![]));
        }
        let dest = self.lookup_slot_for_cnode_op(root, index, depth, false)?;
        if self.slot_cap(dest) != Cap::Null {
            return Err((SysError::DeleteFirst, vec![]));
        }
        let irq = irq as u32;
        self.irq.state[irq as usize] = IrqState::Signal;
        self.irq.masked[irq as usize] = false;
        if let Some(pin) = pin {
            self.irq.pin_route[pin as usize] = Some(irq);
        }
        self.cte_insert(Cap::IrqHandler { irq }, slot, dest);
        Ok(())
    }

    /// decodeIRQHandlerInvocation: Ack, SetNotification, Clear.
    pub(crate) fn invoke_irq_handler(
        &mut self,
        irq: u32,
        inv: &Invocation<'_>,
    ) -> Result<(), InvocationError> {
        use crate::abi::Label;
        let i = irq as usize;
        match Label::from_word(inv.info.label) {
            Some(Label::IrqAckIrq) => {
                self.irq.masked[i] = false;
                if std::mem::take(&mut self.irq.pending[i]) {
                    self.handle_interrupt_irq(irq);
                }
                Ok(())
            }
            Some(Label::IrqSetIrqHandler) => {
                let (Some(&ntfn_cap), Some(&src)) = (inv.caps.first(), inv.slots.first()) else {
                    return Err((SysError::TruncatedMessage, vec![]));
                };
                let Cap::Notification { rights, .. } = ntfn_cap else {
                    return Err((SysError::InvalidCapability, vec![0]));
                };
                if !rights.write {
                    return Err((SysError::InvalidCapability, vec![0]));
                }
                // invokeIRQHandler_SetIRQHandler: the old capability goes, a copy of the new
                // one takes its place in the IRQ node.
                let dest = self.irq_slot(irq).ok_or_else(illegal_irq)?;
                self.cte_delete(dest);
                self.cte_insert(ntfn_cap, src, dest);
                Ok(())
            }
            Some(Label::IrqClearIrqHandler) => {
                let dest = self.irq_slot(irq).ok_or_else(illegal_irq)?;
                self.cte_delete(dest);
                Ok(())
            }
            _ => Err((SysError::IllegalOperation, vec![])),
        }
    }

    /// The interrupt of a signalling IRQ: a signal to its notification; masked until the driver
    /// acknowledges it.
    fn handle_interrupt_irq(&mut self, irq: u32) {
        let i = irq as usize;
        if let Some(Cap::Notification { ntfn, badge, rights }) = self.irq_slot(irq).map(|s| self.slot_cap(s))
        {
            if rights.write {
                self.send_signal(ntfn, badge);
            }
        }
        self.irq.masked[i] = true;
    }

    /// Deleting the last IRQ handler capability: the IRQ is inactive again (seL4's
    /// `deletingIRQHandler` and `deletedIRQHandler`).
    pub(crate) fn finalise_irq_handler(&mut self, irq: u32) {
        let i = irq as usize;
        self.irq.state[i] = IrqState::Inactive;
        if let Some(s) = self.irq_slot(irq) {
            // deletingIRQHandler: cteDeleteOne of the IRQ node's slot.
            self.cte_delete(s);
        }
        self.irq.masked[i] = true;
        self.irq.pending[i] = false;
        for r in &mut self.irq.pin_route {
            if *r == Some(irq) {
                *r = None;
            }
        }
    }

    /// The state of an IRQ (for reports and tests).
    pub fn irq_state(&self, irq: u32) -> Option<IrqState> {
        self.irq.state.get(irq as usize).copied()
    }
}
