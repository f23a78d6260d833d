//! Address spaces built from page-table objects: a top-level table and second-level tables,
//! with the geometry the ISA backend states (e.g. ARM short-descriptor: 4096 x 1 MiB entries,
//! 256 x 4 KiB).
//! The backend translates guest accesses through these same objects, so the kernel's page tables
//! are the only truth about what a thread may touch.

use crate::object::{Mapping, PageTable, VSpace, VmRights};
use simcore::{Asid, PAddr, VAddr, WalkPath};

/// The shape of the architecture's two-level page tables and kernel window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VSpaceGeometry {
    /// Bits of the virtual address resolved by the top-level table.
    pub l1_bits: u32,
    /// Bits resolved by a second-level table.
    pub l2_bits: u32,
    /// log2 of the page size.
    pub page_bits: u32,
    /// Bytes per page-table entry.
    pub entry_bytes: u32,
    /// Virtual base of the kernel window: physical memory mapped kernel-only and global, with
    /// top-level (section) mappings, so a walk reads one descriptor.
    pub kernel_base: u64,
}

impl VSpaceGeometry {
    /// Bytes of a top-level table.
    pub fn l1_table_bytes(&self) -> u64 {
        (1u64 << self.l1_bits) * u64::from(self.entry_bytes)
    }

    /// Bytes of a second-level table.
    pub fn l2_table_bytes(&self) -> u64 {
        (1u64 << self.l2_bits) * u64::from(self.entry_bytes)
    }

    fn l1_index(&self, va: u64) -> usize {
        ((va >> (self.page_bits + self.l2_bits)) & ((1u64 << self.l1_bits) - 1)) as usize
    }

    fn l2_index(&self, va: u64) -> usize {
        ((va >> self.page_bits) & ((1u64 << self.l2_bits) - 1)) as usize
    }

    /// The largest user virtual address + 1.
    pub fn user_top(&self) -> u64 {
        self.kernel_base
    }
}

/// What a virtual address translates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the byte.
    pub paddr: PAddr,
    /// The mapping's rights.
    pub rights: VmRights,
    /// User-accessible.
    pub user: bool,
    /// A global (kernel window) mapping.
    pub global: bool,
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The address is in the kernel window or not page aligned.
    #[error("virtual address {0:#x} is not a page-aligned user address")]
    BadAddress(u64),
    /// Something is already mapped there.
    #[error("virtual address {0:#x} is already mapped")]
    AlreadyMapped(u64),
}

impl VSpace {
    /// An empty address space whose top-level table is at `paddr`.
    pub fn new(geo: &VSpaceGeometry, paddr: PAddr, asid: Asid) -> VSpace {
        VSpace { paddr, asid, l1: vec![None; 1usize << geo.l1_bits], tables: Vec::new() }
    }

    /// Whether `va` needs a second-level table that does not exist yet.
    pub fn needs_table(&self, geo: &VSpaceGeometry, va: u64) -> bool {
        self.l1.get(geo.l1_index(va)).is_some_and(|e| e.is_none())
    }

    /// Installs a second-level table at `paddr` covering `va`.
    pub fn add_table(&mut self, geo: &VSpaceGeometry, va: u64, paddr: PAddr) {
        let idx = geo.l1_index(va);
        if self.l1[idx].is_none() {
            self.tables.push(PageTable { paddr, entries: vec![None; 1usize << geo.l2_bits] });
            self.l1[idx] = Some((self.tables.len() - 1) as u32);
        }
    }

    /// Maps the page at `va` to `paddr` (the table must exist).
    pub fn map(&mut self, geo: &VSpaceGeometry, va: u64, m: Mapping) -> Result<(), MapError> {
        if va >= geo.kernel_base || va & ((1u64 << geo.page_bits) - 1) != 0 {
            return Err(MapError::BadAddress(va));
        }
        let Some(Some(t)) = self.l1.get(geo.l1_index(va)).copied() else {
            return Err(MapError::BadAddress(va));
        };
        let e = &mut self.tables[t as usize].entries[geo.l2_index(va)];
        if e.is_some() {
            return Err(MapError::AlreadyMapped(va));
        }
        *e = Some(m);
        Ok(())
    }

    /// Translates `va` (user mappings and the kernel window); `ram` = (physical base, size) of RAM.
    pub fn translate(&self, geo: &VSpaceGeometry, ram: (u64, u64), va: u64) -> Option<Translation> {
        if va >= geo.kernel_base {
            let off = va - geo.kernel_base;
            if off >= ram.1 {
                return None;
            }
            return Some(Translation {
                paddr: PAddr(ram.0 + off),
                rights: VmRights { read: true, write: true, exec: false },
                user: false,
                global: true,
            });
        }
        let t = (*self.l1.get(geo.l1_index(va))?)?;
        let m = self.tables.get(t as usize)?.entries.get(geo.l2_index(va)).copied()??;
        let page_off = va & ((1u64 << geo.page_bits) - 1);
        Some(Translation { paddr: m.paddr.offset(page_off), rights: m.rights, user: m.user, global: false })
    }

    /// The descriptors a hardware walk of `va` reads.
    pub fn walk_path(&self, geo: &VSpaceGeometry, va: u64) -> WalkPath {
        let idx = geo.l1_index(va);
        let first = self.paddr.offset(idx as u64 * u64::from(geo.entry_bytes));
        let second = if va >= geo.kernel_base {
            None
        } else {
            self.l1
                .get(idx)
                .copied()
                .flatten()
                .and_then(|t| self.tables.get(t as usize))
                .map(|t| t.paddr.offset(geo.l2_index(va) as u64 * u64::from(geo.entry_bytes)))
        };
        WalkPath { descriptors: [Some(first), second, None, None] }
    }

    /// Every user mapping, as (virtual address, mapping), in address order.
    pub fn mappings(&self, geo: &VSpaceGeometry) -> Vec<(VAddr, Mapping)> {
        let mut out = Vec::new();
        for (i, t) in self.l1.iter().enumerate() {
            let Some(t) = t else { continue };
            for (j, m) in self.tables[*t as usize].entries.iter().enumerate() {
                if let Some(m) = m {
                    let va = ((i as u64) << (geo.page_bits + geo.l2_bits)) | ((j as u64) << geo.page_bits);
                    out.push((VAddr(va), *m));
                }
            }
        }
        out
    }
}
