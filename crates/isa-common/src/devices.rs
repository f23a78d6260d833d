//! Simulated devices and the interrupt lines they raise, on the simulated cycle clock: the
//! kernel's preemption timer (a line the kernel reserves), and memory-mapped timers that
//! user-level drivers program through a device frame. A device's time is the cost model's: an
//! event due at cycle T is taken at the first basic-block boundary at or after T (or at T
//! itself when the processor idles), so runs stay deterministic.
//!
//! The timer's registers (32-bit, little-endian, at its physical base):
//!
//! | offset | name | access |
//! |---|---|---|
//! | 0x00 | CTRL: bit 0 enable, bit 1 periodic (else one-shot) | read/write; enabling starts a period |
//! | 0x04 | LOAD: the period in cycles | read/write |
//! | 0x08 | STATUS: bit 0 expired | read; write 1 to clear |
//! | 0x0c | COUNT: expiries so far | read |
//! | 0x10 | NOW: the cycle counter's low 32 bits | read |
//!
//! Each expiry raises the timer's line once (an edge); the kernel masks the IRQ until the driver
//! acknowledges it and remembers an expiry that comes while it is masked.

use simcore::{Cycles, PAddr};

/// Register offsets of the timer.
pub mod timer_regs {
    /// Control: bit 0 enable, bit 1 periodic.
    pub const CTRL: u64 = 0x00;
    /// The period in cycles.
    pub const LOAD: u64 = 0x04;
    /// Bit 0: expired (write 1 to clear).
    pub const STATUS: u64 = 0x08;
    /// Expiries so far.
    pub const COUNT: u64 = 0x0c;
    /// The cycle counter's low 32 bits.
    pub const NOW: u64 = 0x10;
}

/// Where a platform's user timer is: its physical page and its interrupt line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// A name for reports.
    pub name: &'static str,
    /// Physical address of its registers (one 4 KiB page).
    pub paddr: PAddr,
    /// Its interrupt line (aarch32: the GIC interrupt ID; x86-64: the I/O APIC pin).
    pub line: u32,
}

/// The user timer of an ISA family's platform: imx6's EPIT1 place and IRQ on aarch32 (the
/// register layout is the simulator's, above), the HPET's place on x86 with its legacy
/// I/O APIC pin 2.
pub fn user_timer(isa: &str) -> DeviceInfo {
    if isa.starts_with("x86") || isa == "ia32" {
        DeviceInfo { name: "timer", paddr: PAddr(0xFED0_0000), line: 2 }
    } else {
        DeviceInfo { name: "timer", paddr: PAddr(0x020D_0000), line: 88 }
    }
}

/// A memory-mapped timer.
#[derive(Clone, Debug)]
pub struct Timer {
    info: DeviceInfo,
    ctrl: u32,
    load: u32,
    status: u32,
    count: u32,
    next: Option<Cycles>,
}

impl Timer {
    /// A stopped timer.
    pub fn new(info: DeviceInfo) -> Timer {
        Timer { info, ctrl: 0, load: 0, status: 0, count: 0, next: None }
    }

    fn read(&self, off: u64, now: Cycles) -> u32 {
        match off {
            timer_regs::CTRL => self.ctrl,
            timer_regs::LOAD => self.load,
            timer_regs::STATUS => self.status,
            timer_regs::COUNT => self.count,
            timer_regs::NOW => now.0 as u32,
            _ => 0,
        }
    }

    fn write(&mut self, off: u64, v: u32, now: Cycles) {
        match off {
            timer_regs::CTRL => {
                let was = self.ctrl & 1 != 0;
                self.ctrl = v & 3;
                if self.ctrl & 1 == 0 {
                    self.next = None;
                } else if !was {
                    self.next = Some(now + Cycles(u64::from(self.load.max(1))));
                }
            }
            timer_regs::LOAD => self.load = v,
            timer_regs::STATUS => self.status &= !v,
            _ => {}
        }
    }

    /// Expiries due by `now`: one line raise each (a periodic timer that fell behind raises once
    /// and catches up).
    fn advance(&mut self, now: Cycles) -> bool {
        let Some(due) = self.next.filter(|d| *d <= now) else { return false };
        self.status |= 1;
        self.count = self.count.wrapping_add(1);
        if self.ctrl & 2 != 0 {
            let period = u64::from(self.load.max(1));
            let behind = (now.0 - due.0) / period;
            self.next = Some(Cycles(due.0 + (behind + 1) * period));
        } else {
            self.ctrl &= !1;
            self.next = None;
        }
        true
    }
}

/// The devices of a machine and the kernel's timer.
#[derive(Clone, Debug, Default)]
pub struct Devices {
    /// The kernel's preemption timer: (period, line, next tick).
    kernel_tick: Option<(Cycles, u32, Cycles)>,
    timers: Vec<Timer>,
}

impl Devices {
    /// The user timer of the ISA family's platform, stopped; no kernel ticks yet.
    pub fn for_isa(isa: &str) -> Devices {
        Devices { kernel_tick: None, timers: vec![Timer::new(user_timer(isa))] }
    }

    /// Starts (or stops, with period 0) the kernel's tick on `line`, the first one a period from
    /// `now`.
    pub fn set_kernel_tick(&mut self, period: u64, line: u32, now: Cycles) {
        self.kernel_tick = (period > 0).then(|| (Cycles(period), line, now + Cycles(period)));
    }

    /// Whether the kernel tick is running.
    pub fn kernel_tick_running(&self) -> bool {
        self.kernel_tick.is_some()
    }

    /// The memory regions to map: (physical base, bytes).
    pub fn regions(&self) -> Vec<(PAddr, u64)> {
        self.timers.iter().map(|t| (t.info.paddr, 4096)).collect()
    }

    /// The devices (for boot information and reports).
    pub fn infos(&self) -> Vec<DeviceInfo> {
        self.timers.iter().map(|t| t.info).collect()
    }

    /// When the next interrupt is due.
    pub fn next_event(&self) -> Option<Cycles> {
        let tick = self.kernel_tick.map(|(_, _, at)| at);
        self.timers.iter().filter_map(|t| t.next).chain(tick).min()
    }

    /// Starts the kernel's tick if `kernel` has a timer and it is not running yet, and tells
    /// the kernel when the next interrupt is due; returns that time.
    pub fn start_for(&mut self, kernel: &mut kernel::Kernel) -> Option<Cycles> {
        let (period, line) = kernel.timer();
        if period > 0 && !self.kernel_tick_running() {
            self.set_kernel_tick(period, line, kernel.cost().now());
        }
        self.tell(kernel)
    }

    /// Tells `kernel` when the next interrupt is due (for its preemption points); returns it.
    pub fn tell(&self, kernel: &mut kernel::Kernel) -> Option<Cycles> {
        let due = self.next_event();
        kernel.set_interrupt_due(due.map(|c| c.0));
        due
    }

    /// The lines raised by events due now (the kernel's clock), after which the kernel is told
    /// the next due time; returns the lines and that time.
    pub fn take_due(&mut self, kernel: &mut kernel::Kernel) -> (Vec<u32>, Option<Cycles>) {
        let lines = self.advance(kernel.cost().now());
        (lines, self.tell(kernel))
    }

    /// The lines raised by events due by `now`, kernel tick first, then the devices in order.
    pub fn advance(&mut self, now: Cycles) -> Vec<u32> {
        let mut lines = Vec::new();
        if let Some((period, line, at)) = &mut self.kernel_tick {
            if *at <= now {
                lines.push(*line);
                let behind = (now.0 - at.0) / period.0;
                *at = Cycles(at.0 + (behind + 1) * period.0);
            }
        }
        for t in &mut self.timers {
            if t.advance(now) {
                lines.push(t.info.line);
            }
        }
        lines
    }

    fn timer_at(&mut self, pa: u64) -> Option<(&mut Timer, u64)> {
        self.timers.iter_mut().find(|t| pa >= t.info.paddr.0 && pa < t.info.paddr.0 + 4096).map(|t| {
            let off = pa - t.info.paddr.0;
            (t, off)
        })
    }

    /// A device register read of `size` bytes at physical `pa` (unaligned or partial reads see
    /// the register's low bytes; nothing there reads 0).
    pub fn read(&mut self, pa: u64, size: usize, now: Cycles) -> u64 {
        let Some((t, off)) = self.timer_at(pa) else { return 0 };
        let v = u64::from(t.read(off & !3, now));
        if size >= 4 {
            v
        } else {
            v & ((1u64 << (8 * size)) - 1)
        }
    }

    /// A device register write.
    pub fn write(&mut self, pa: u64, _size: usize, value: u64, now: Cycles) {
        if let Some((t, off)) = self.timer_at(pa) {
            t.write(off & !3, value as u32, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_periodic_timer_raises_its_line_each_period_and_a_one_shot_once() {
        let mut d = Devices::for_isa("aarch32");
        let base = user_timer("aarch32").paddr.0;
        assert_eq!(d.next_event(), None);
        d.write(base + timer_regs::LOAD, 4, 1000, Cycles(0));
        d.write(base + timer_regs::CTRL, 4, 3, Cycles(500));
        assert_eq!(d.next_event(), Some(Cycles(1500)));
        assert!(d.advance(Cycles(1499)).is_empty());
        assert_eq!(d.advance(Cycles(1500)), vec![88]);
        assert_eq!(d.read(base + timer_regs::STATUS, 4, Cycles(1500)), 1);
        d.write(base + timer_regs::STATUS, 4, 1, Cycles(1500));
        assert_eq!(d.read(base + timer_regs::STATUS, 4, Cycles(1500)), 0);
        // Late: one raise, and the next period stays on the grid.
        assert_eq!(d.advance(Cycles(3700)), vec![88]);
        assert_eq!(d.next_event(), Some(Cycles(4500)));
        assert_eq!(d.read(base + timer_regs::COUNT, 4, Cycles(0)), 2);
        // One-shot.
        d.write(base + timer_regs::CTRL, 4, 0, Cycles(4000));
        d.write(base + timer_regs::CTRL, 4, 1, Cycles(4000));
        assert_eq!(d.advance(Cycles(5000)), vec![88]);
        assert_eq!(d.next_event(), None);
        // The kernel tick comes first.
        d.set_kernel_tick(100, 29, Cycles(5000));
        d.write(base + timer_regs::CTRL, 4, 1, Cycles(5000));
        d.write(base + timer_regs::LOAD, 4, 100, Cycles(5000));
        assert_eq!(d.advance(Cycles(6200)), vec![29, 88]);
    }
}
