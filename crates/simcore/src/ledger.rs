//! The cycle ledger: who spent what. Every simulated cycle is charged to exactly one
//! [`Category`] and one thread, so any result can be broken down and the parts always sum to the whole.

use crate::units::Cycles;

/// What a cycle was spent on. The categories follow the paper's "hardware limit"
/// (mode switches, page-table switch, saving/restoring user state) plus the kernel's own work
/// and the memory system's penalties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// User-mode instructions (priced per basic block).
    User,
    /// Taking the exception / system-call trap into the kernel.
    TrapEntry,
    /// Returning from the kernel to user mode.
    TrapExit,
    /// Saving the user-visible register state on kernel entry.
    StateSave,
    /// Restoring the user-visible register state on kernel exit.
    StateRestore,
    /// Switching page tables / ASIDs, with the barriers the switch needs.
    AddressSpaceSwitch,
    /// The kernel's own instructions (fastpath or slowpath IPC, scheduling, lookup).
    KernelPath,
    /// Cache miss penalties (user and kernel).
    CacheMiss,
    /// TLB miss penalties and page-table walks (user and kernel).
    TlbMiss,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 9] = [
        Category::User,
        Category::TrapEntry,
        Category::TrapExit,
        Category::StateSave,
        Category::StateRestore,
        Category::AddressSpaceSwitch,
        Category::KernelPath,
        Category::CacheMiss,
        Category::TlbMiss,
    ];

    /// The stable name used in reports (JSON keys, CSV headers).
    pub fn name(self) -> &'static str {
        match self {
            Category::User => "user",
            Category::TrapEntry => "trap_entry",
            Category::TrapExit => "trap_exit",
            Category::StateSave => "state_save",
            Category::StateRestore => "state_restore",
            Category::AddressSpaceSwitch => "address_space_switch",
            Category::KernelPath => "kernel_path",
            Category::CacheMiss => "cache_miss",
            Category::TlbMiss => "tlb_miss",
        }
    }

    /// One line on what the category covers, for reports and `l4sim explain`.
    pub fn describe(self) -> &'static str {
        match self {
            Category::User => {
                "user-mode instructions, priced per basic block from the profile's instruction classes"
            }
            Category::TrapEntry => "the hardware kernel entry (exception, int gate, sysenter or syscall: pipeline flush, mode change)",
            Category::TrapExit => "the hardware return to user mode (exception return, iret, sysexit or sysret)",
            Category::StateSave => "storing the user registers into the TCB on kernel entry",
            Category::StateRestore => "loading the next thread's user registers (and x86 segment / GS-base state) on kernel exit",
            Category::AddressSpaceSwitch => "page-table base (TTBR, CR3) and ASID writes with their barriers",
            Category::KernelPath => {
                "the kernel's own instructions (IPC fastpath/slowpath, lookup, scheduling)"
            }
            Category::CacheMiss => "L1/L2 cache miss penalties of user and kernel accesses",
            Category::TlbMiss => "TLB miss penalties and page-table walks",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Cycles per category, as a fixed array in report order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakdown(pub [u64; 9]);

impl Breakdown {
    /// Cycles charged to `cat`.
    pub fn get(&self, cat: Category) -> u64 {
        self.0[cat.index()]
    }

    /// The sum over all categories.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `self - earlier`, category by category (saturating at zero).
    pub fn since(&self, earlier: &Breakdown) -> Breakdown {
        let mut out = [0u64; 9];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.0[i].saturating_sub(earlier.0[i]);
        }
        Breakdown(out)
    }

    /// Adds `c` to `cat`.
    pub fn add(&mut self, cat: Category, c: u64) {
        self.0[cat.index()] += c;
    }

    /// Removes up to `c` from `cat` (saturating), e.g. to subtract measurement overhead.
    pub fn sub(&mut self, cat: Category, c: u64) {
        let i = cat.index();
        self.0[i] = self.0[i].saturating_sub(c);
    }

    /// The part of these cycles that the paper calls the hardware limit of IPC: two mode switches
    /// (trap entry and exit), a page-table switch, and saving and restoring the user-visible state.
    pub fn hardware_limit(&self) -> u64 {
        [
            Category::TrapEntry,
            Category::TrapExit,
            Category::AddressSpaceSwitch,
            Category::StateSave,
            Category::StateRestore,
        ]
        .iter()
        .map(|c| self.get(*c))
        .sum()
    }

    /// `(name, cycles)` pairs in report order.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Category::ALL.iter().map(move |c| (c.name(), self.get(*c)))
    }
}

/// Identifies the thread a cycle is charged to (the kernel's TCB index); `None` = the kernel itself (idle).
pub type ThreadTag = Option<u32>;

/// The ledger: totals by category and by thread.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    total: Breakdown,
    now: u64,
    /// Per thread (indexed by thread number), with a flag for "ever charged".
    by_thread: Vec<(bool, Breakdown)>,
    current: ThreadTag,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Lets `c` cycles pass with nothing running (the processor idles until an interrupt):
    /// time advances, no category or thread is charged.
    pub fn idle(&mut self, c: Cycles) {
        self.now += c.0;
    }

    /// Charges `c` cycles to `cat` (and to the current thread, if any).
    pub fn charge(&mut self, cat: Category, c: Cycles) {
        if c.0 == 0 {
            return;
        }
        self.total.add(cat, c.0);
        self.now += c.0;
        if let Some(t) = self.current {
            let (used, b) = &mut self.by_thread[t as usize];
            *used = true;
            b.add(cat, c.0);
        }
    }

    /// Takes back `c` cycles of `cat` from the current thread: for work that was charged ahead
    /// (a whole basic block at its start) but did not happen (the block was left early by a trap).
    pub fn refund(&mut self, cat: Category, c: Cycles) {
        let before = self.total.get(cat);
        self.total.sub(cat, c.0);
        self.now -= before - self.total.get(cat);
        if let Some(t) = self.current {
            if let Some((_, b)) = self.by_thread.get_mut(t as usize) {
                b.sub(cat, c.0);
            }
        }
    }

    /// Sets the thread that subsequent charges belong to.
    pub fn set_thread(&mut self, t: ThreadTag) {
        if let Some(n) = t {
            if self.by_thread.len() <= n as usize {
                self.by_thread.resize(n as usize + 1, (false, Breakdown::default()));
            }
        }
        self.current = t;
    }

    /// The thread charges currently go to.
    pub fn thread(&self) -> ThreadTag {
        self.current
    }

    /// The simulated time so far: the sum of every charge.
    pub fn now(&self) -> Cycles {
        Cycles(self.now)
    }

    /// A snapshot of the totals by category.
    pub fn snapshot(&self) -> Breakdown {
        self.total
    }

    /// Totals for one thread.
    pub fn thread_totals(&self, t: u32) -> Breakdown {
        self.by_thread.get(t as usize).map(|(_, b)| *b).unwrap_or_default()
    }

    /// Every thread with a charge, in thread order.
    pub fn threads(&self) -> impl Iterator<Item = (u32, &Breakdown)> {
        self.by_thread.iter().enumerate().filter(|(_, (used, _))| *used).map(|(k, (_, v))| (k as u32, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_sum_to_now_and_split_by_thread() {
        let mut l = Ledger::new();
        l.set_thread(Some(1));
        l.charge(Category::User, Cycles(10));
        l.set_thread(Some(2));
        l.charge(Category::TrapEntry, Cycles(5));
        l.charge(Category::User, Cycles(1));
        assert_eq!(l.now(), Cycles(16));
        assert_eq!(l.thread_totals(1).total(), 10);
        assert_eq!(l.thread_totals(2).get(Category::User), 1);
        let snap = l.snapshot();
        l.charge(Category::KernelPath, Cycles(7));
        assert_eq!(l.snapshot().since(&snap).get(Category::KernelPath), 7);
        assert_eq!(l.snapshot().since(&snap).total(), 7);
        // Only mode switches, the page-table switch and state save/restore count as hardware limit.
        l.charge(Category::AddressSpaceSwitch, Cycles(3));
        l.charge(Category::StateRestore, Cycles(2));
        assert_eq!(l.snapshot().hardware_limit(), 5 + 3 + 2);
    }
}
