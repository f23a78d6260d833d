//! Newtypes for quantities that must not be mixed up: cycles, virtual and physical addresses, ASIDs.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A number of simulated core clock cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cycles(pub u64);

impl Cycles {
    /// No cycles.
    pub const ZERO: Cycles = Cycles(0);

    /// Rounds a fractional cycle cost to whole cycles (half up), the one place where
    /// fractional per-instruction costs become whole cycles.
    pub fn from_f64(c: f64) -> Cycles {
        if c.is_finite() && c > 0.0 {
            Cycles((c + 0.5) as u64)
        } else {
            Cycles(0)
        }
    }

    /// The raw count.
    pub fn get(self) -> u64 {
        self.0
    }

    /// Subtraction that stops at zero.
    pub fn saturating_sub(self, o: Cycles) -> Cycles {
        Cycles(self.0.saturating_sub(o.0))
    }
}

impl Add for Cycles {
    type Output = Cycles;
    fn add(self, o: Cycles) -> Cycles {
        Cycles(self.0 + o.0)
    }
}

impl AddAssign for Cycles {
    fn add_assign(&mut self, o: Cycles) {
        self.0 += o.0;
    }
}

impl Sub for Cycles {
    type Output = Cycles;
    fn sub(self, o: Cycles) -> Cycles {
        Cycles(self.0 - o.0)
    }
}

impl fmt::Display for Cycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A guest virtual address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VAddr(pub u64);

/// A simulated physical address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PAddr(pub u64);

impl PAddr {
    /// This address plus an offset in bytes.
    pub fn offset(self, by: u64) -> PAddr {
        PAddr(self.0 + by)
    }
}

impl VAddr {
    /// This address plus an offset in bytes.
    pub fn offset(self, by: u64) -> VAddr {
        VAddr(self.0 + by)
    }
}

impl fmt::Display for VAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for PAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A hardware address-space identifier (ARM ASID, x86 PCID). `Asid::GLOBAL` tags global (kernel) entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asid(pub u16);

impl Asid {
    /// The tag of global mappings, which match every address space.
    pub const GLOBAL: Asid = Asid(u16::MAX);
}
