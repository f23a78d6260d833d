//! The scheduler: priority ready queues with Benno scheduling (the running thread is not queued)
//! and direct process switch subject to priorities (seL4's `possibleSwitchTo` / `schedule`).

use crate::object::Tcb;
use crate::preset::StepId;
use crate::types::TcbId;
use crate::Kernel;
use simcore::Category;
use std::collections::VecDeque;

/// seL4's `ksSchedulerAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerAction {
    /// Keep running the current thread.
    ResumeCurrentThread,
    /// Pick the highest-priority ready thread.
    ChooseNewThread,
    /// Switch directly to this thread (subject to priorities).
    SwitchToThread(TcbId),
}

/// Ready queues, one per priority.
#[derive(Clone, Debug)]
pub(crate) struct Scheduler {
    queues: Vec<VecDeque<TcbId>>,
    /// Bit p set = queue p is non-empty (seL4's ready-queue bitmap).
    bitmap: [u64; 4],
    pub(crate) action: SchedulerAction,
}

impl Scheduler {
    pub(crate) fn new() -> Scheduler {
        Scheduler {
            queues: vec![VecDeque::new(); 256],
            bitmap: [0; 4],
            action: SchedulerAction::ResumeCurrentThread,
        }
    }

    /// tcbSchedEnqueue: at the head of its priority's queue.
    pub(crate) fn enqueue(&mut self, tcbs: &mut [Tcb], t: TcbId) {
        let tcb = &mut tcbs[t.0 as usize];
        if !tcb.queued {
            let p = tcb.priority as usize;
            self.queues[p].push_front(t);
            self.bitmap[p / 64] |= 1 << (p % 64);
            tcb.queued = true;
        }
    }

    /// tcbSchedAppend: at the tail.
    pub(crate) fn append(&mut self, tcbs: &mut [Tcb], t: TcbId) {
        let tcb = &mut tcbs[t.0 as usize];
        if !tcb.queued {
            let p = tcb.priority as usize;
            self.queues[p].push_back(t);
            self.bitmap[p / 64] |= 1 << (p % 64);
            tcb.queued = true;
        }
    }

    /// tcbSchedDequeue.
    pub(crate) fn dequeue(&mut self, tcbs: &mut [Tcb], t: TcbId) {
        let tcb = &mut tcbs[t.0 as usize];
        if tcb.queued {
            let p = tcb.priority as usize;
            let q = &mut self.queues[p];
            if let Some(i) = q.iter().position(|x| *x == t) {
                q.remove(i);
            }
            if q.is_empty() {
                self.bitmap[p / 64] &= !(1 << (p % 64));
            }
            tcb.queued = false;
        }
    }

    /// The highest priority with a ready thread.
    pub(crate) fn highest(&self) -> Option<u8> {
        (0..4usize)
            .rev()
            .find(|w| self.bitmap[*w] != 0)
            .map(|w| (w * 64 + 63 - self.bitmap[w].leading_zeros() as usize) as u8)
    }

    /// isHighestPrio: no ready thread has a higher priority than `p`.
    pub(crate) fn is_highest(&self, p: u8) -> bool {
        self.highest().is_none_or(|h| p >= h)
    }

    /// The ready queues, by priority (for the invariant checker).
    pub(crate) fn queues(&self) -> &[VecDeque<TcbId>] {
        &self.queues
    }

    /// Whether the ready bitmap marks priority `p` as non-empty.
    pub(crate) fn has_bit(&self, p: usize) -> bool {
        self.bitmap[p / 64] & (1 << (p % 64)) != 0
    }

    fn head(&self, p: u8) -> Option<TcbId> {
        self.queues[p as usize].front().copied()
    }
}

impl Kernel {
    /// possibleSwitchTo: make `target` run next if the scheduler is not already switching;
    /// otherwise queue it.
    pub(crate) fn possible_switch_to(&mut self, target: TcbId) {
        self.charge_step(StepId::PossibleSwitchTo, Category::KernelPath);
        if self.sched.action != SchedulerAction::ResumeCurrentThread {
            self.reschedule_required();
            self.sched_enqueue(target);
        } else {
            self.sched.action = SchedulerAction::SwitchToThread(target);
        }
    }

    /// rescheduleRequired: a pending direct switch goes back to the ready queue; choose anew.
    pub(crate) fn reschedule_required(&mut self) {
        if let SchedulerAction::SwitchToThread(t) = self.sched.action {
            self.sched_enqueue(t);
        }
        self.sched.action = SchedulerAction::ChooseNewThread;
    }

    pub(crate) fn sched_enqueue(&mut self, t: TcbId) {
        if self.design.lazy_scheduling && self.tcbs[t.0 as usize].queued {
            return; // lazy scheduling: still queued from before it blocked
        }
        self.charge_step(StepId::TcbQueueOp, Category::KernelPath);
        self.touch_tcb(t, self.layout.tcb_queue, 8);
        self.sched.enqueue(&mut self.tcbs, t);
    }

    pub(crate) fn sched_append(&mut self, t: TcbId) {
        if self.design.lazy_scheduling && self.tcbs[t.0 as usize].queued {
            return;
        }
        self.charge_step(StepId::TcbQueueOp, Category::KernelPath);
        self.touch_tcb(t, self.layout.tcb_queue, 8);
        self.sched.append(&mut self.tcbs, t);
    }

    pub(crate) fn sched_dequeue(&mut self, t: TcbId) {
        if self.tcbs[t.0 as usize].queued {
            self.charge_step(StepId::TcbQueueOp, Category::KernelPath);
            self.touch_tcb(t, self.layout.tcb_queue, 8);
            self.sched.dequeue(&mut self.tcbs, t);
        }
    }

    fn is_runnable(&self, t: Option<TcbId>) -> bool {
        t.is_some_and(|t| self.tcbs[t.0 as usize].state.is_runnable())
    }

    /// schedule(): act on the scheduler action.
    pub(crate) fn schedule(&mut self) {
        if self.sched.action == SchedulerAction::ResumeCurrentThread {
            return;
        }
        self.charge_step(StepId::Schedule, Category::KernelPath);
        let cur = self.current;
        let was_runnable = self.is_runnable(cur);
        if was_runnable {
            if let Some(c) = cur {
                self.sched_enqueue(c);
            }
        }
        match self.sched.action {
            SchedulerAction::ResumeCurrentThread => {}
            SchedulerAction::ChooseNewThread => self.choose_thread(),
            SchedulerAction::SwitchToThread(cand) => {
                let cand_prio = self.tcbs[cand.0 as usize].priority;
                let cur_prio = cur.map(|c| self.tcbs[c.0 as usize].priority);
                let fastfail = cur_prio.is_none_or(|p| cand_prio < p);
                if fastfail && !self.sched.is_highest(cand_prio) {
                    self.sched_enqueue(cand);
                    self.choose_thread();
                } else if was_runnable && Some(cand_prio) == cur_prio {
                    // Direct switch would break round robin among equals: queue the candidate.
                    self.sched_append(cand);
                    self.choose_thread();
                } else {
                    self.switch_to_thread(cand);
                }
            }
        }
        self.sched.action = SchedulerAction::ResumeCurrentThread;
    }

    /// chooseThread: the head of the highest non-empty ready queue, or idle. With lazy
    /// scheduling the queues may still hold threads that blocked since they were queued: each one
    /// met at a head is removed now (the deferred dequeue), and the search goes on.
    fn choose_thread(&mut self) {
        self.charge_step(StepId::ChooseThread, Category::KernelPath);
        loop {
            match self.sched.highest().and_then(|p| self.sched.head(p)) {
                Some(t) if self.design.lazy_scheduling && !self.tcbs[t.0 as usize].state.is_runnable() => {
                    self.sched_dequeue(t);
                }
                Some(t) => return self.switch_to_thread(t),
                None => {
                    self.current = None;
                    return;
                }
            }
        }
    }

    /// switchToThread: the thread becomes current. Benno scheduling (seL4) takes it out of the
    /// ready queue; lazy scheduling (Liedtke) leaves it there, so that blocking in IPC needs no
    /// queue operation.
    pub(crate) fn switch_to_thread(&mut self, t: TcbId) {
        self.charge_step(StepId::SwitchToThread, Category::KernelPath);
        if !self.design.lazy_scheduling {
            self.sched_dequeue(t);
        }
        self.current = Some(t);
    }

    /// Yield: go to the back of the own priority's queue.
    pub(crate) fn handle_yield(&mut self) {
        if let Some(c) = self.current {
            self.sched_dequeue(c);
            self.sched_append(c);
            self.reschedule_required();
        }
    }
}
