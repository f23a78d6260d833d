//! Address spaces built from page-table objects: a tree of tables with the geometry the ISA
//! backend states (ARM short-descriptor: 4096 x 1 MiB entries, then 256 x 4 KiB; IA-32: 1024 x
//! 1024; x86-64: four levels of 512). The backend translates guest accesses through these same
//! objects (or writes them out in the hardware's format), so the kernel's page tables are the only
//! truth about what a thread may touch.

use crate::object::{Mapping, PageTable, Pte, VSpace, VmRights};
use simcore::{Asid, PAddr, VAddr, WalkPath};

/// Most page-table levels of any supported architecture.
pub const MAX_LEVELS: usize = 4;

/// The shape of the architecture's page tables and kernel window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VSpaceGeometry {
    /// Bits of the virtual address resolved at each level, top level first (unused levels 0).
    pub level_bits: [u32; MAX_LEVELS],
    /// How many levels there are.
    pub levels: usize,
    /// log2 of the page size.
    pub page_bits: u32,
    /// Bytes per page-table entry.
    pub entry_bytes: u32,
    /// End (exclusive) of the user part of the address space.
    pub user_top: u64,
    /// Virtual base of the kernel window: physical memory mapped kernel-only and global with
    /// large top-level mappings, so a walk reads one descriptor.
    pub kernel_base: u64,
}

impl VSpaceGeometry {
    /// Bytes of a table at `level`.
    pub fn table_bytes(&self, level: usize) -> u64 {
        (1u64 << self.level_bits[level]) * u64::from(self.entry_bytes)
    }

    /// Bytes of a top-level table.
    pub fn root_table_bytes(&self) -> u64 {
        self.table_bytes(0)
    }

    /// The entry index of `va` at `level`.
    pub fn index(&self, va: u64, level: usize) -> usize {
        let shift = self.page_bits + self.level_bits[level + 1..self.levels].iter().sum::<u32>();
        ((va >> shift) & ((1u64 << self.level_bits[level]) - 1)) as usize
    }

    fn page_mask(&self) -> u64 {
        (1u64 << self.page_bits) - 1
    }

    /// log2 of the bytes one entry at `level` maps.
    pub fn span_bits(&self, level: usize) -> u32 {
        self.page_bits + self.level_bits[level + 1..self.levels].iter().sum::<u32>()
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
    /// The address is outside the user range or not page aligned.
    #[error("virtual address {0:#x} is not a page-aligned user address")]
    BadAddress(u64),
    /// Something is already mapped there.
    #[error("virtual address {0:#x} is already mapped")]
    AlreadyMapped(u64),
    /// A table on the way is missing (add it first).
    #[error("virtual address {0:#x} needs a page table at level {1}")]
    MissingTable(u64, usize),
}

impl VSpace {
    /// An empty address space whose top-level table is at `paddr`.
    pub fn new(geo: &VSpaceGeometry, paddr: PAddr, asid: Asid, sel4_asid: Option<u64>) -> VSpace {
        let root = PageTable {
            paddr,
            level: 0,
            entries: vec![Pte::Empty; 1usize << geo.level_bits[0]],
            object: None,
        };
        VSpace { paddr, asid, sel4_asid, tables: vec![root] }
    }

    /// The index (in `tables`) of the table at `level` on `va`'s path, or the first level whose
    /// table is missing.
    pub fn table_at(&self, geo: &VSpaceGeometry, va: u64, level: usize) -> Result<usize, usize> {
        let mut t = 0usize;
        for l in 0..level {
            match self.tables.get(t).and_then(|x| x.entries.get(geo.index(va, l))) {
                Some(Pte::Table(n)) => t = *n as usize,
                _ => return Err(l + 1),
            }
        }
        if self.tables.is_empty() {
            return Err(0);
        }
        Ok(t)
    }

    /// The entry at `level` on `va`'s path (None if a table above is missing).
    pub fn entry(&self, geo: &VSpaceGeometry, va: u64, level: usize) -> Option<Pte> {
        let t = self.table_at(geo, va, level).ok()?;
        self.tables[t].entries.get(geo.index(va, level)).copied()
    }

    /// Writes the entry at `level` on `va`'s path (its table must exist). A page-table entry
    /// replaced here is not followed: use [`VSpace::remove_table`] for those.
    pub fn set_entry(&mut self, geo: &VSpaceGeometry, va: u64, level: usize, pte: Pte) -> bool {
        let Ok(t) = self.table_at(geo, va, level) else { return false };
        let i = geo.index(va, level);
        match self.tables[t].entries.get_mut(i) {
            Some(e) => {
                *e = pte;
                true
            }
            None => false,
        }
    }

    /// Unlinks the table at `level` on `va`'s path if it is at `paddr`, and forgets it and every
    /// table below it (seL4 clears a page table it unmaps). Returns whether it was there.
    pub fn remove_table(&mut self, geo: &VSpaceGeometry, va: u64, level: usize, paddr: PAddr) -> bool {
        if level == 0 {
            return false;
        }
        let Ok(parent) = self.table_at(geo, va, level - 1) else { return false };
        let i = geo.index(va, level - 1);
        let Some(Pte::Table(n)) = self.tables[parent].entries.get(i).copied() else { return false };
        if self.tables[n as usize].paddr != paddr {
            return false;
        }
        self.tables[parent].entries[i] = Pte::Empty;
        // The subtree's tables, then compaction with the indices renumbered.
        let mut gone = vec![false; self.tables.len()];
        let mut stack = vec![n as usize];
        while let Some(t) = stack.pop() {
            gone[t] = true;
            for e in &self.tables[t].entries {
                if let Pte::Table(c) = e {
                    stack.push(*c as usize);
                }
            }
        }
        let mut renumber = vec![0u32; self.tables.len()];
        let mut next = 0u32;
        for (i, g) in gone.iter().enumerate() {
            renumber[i] = next;
            if !g {
                next += 1;
            }
        }
        let mut i = 0;
        self.tables.retain(|_| {
            let keep = !gone[i];
            i += 1;
            keep
        });
        for t in &mut self.tables {
            for e in &mut t.entries {
                if let Pte::Table(c) = e {
                    *c = renumber[*c as usize];
                }
            }
        }
        true
    }

    /// The first level below the top whose table `va` needs and does not have yet, if any.
    pub fn missing_level(&self, geo: &VSpaceGeometry, va: u64) -> Option<usize> {
        let mut t = 0usize;
        for level in 0..geo.levels - 1 {
            match self.tables[t].entries.get(geo.index(va, level))? {
                Pte::Table(n) => t = *n as usize,
                _ => return Some(level + 1),
            }
        }
        None
    }

    /// Installs the table at `paddr` as the level-`level` table covering `va` (its parent must exist).
    pub fn add_table(
        &mut self,
        geo: &VSpaceGeometry,
        va: u64,
        level: usize,
        paddr: PAddr,
        object: Option<crate::types::PtId>,
    ) -> Result<(), MapError> {
        let mut t = 0usize;
        for l in 0..level - 1 {
            match self.tables[t].entries[geo.index(va, l)] {
                Pte::Table(n) => t = n as usize,
                _ => return Err(MapError::MissingTable(va, l + 1)),
            }
        }
        let idx = geo.index(va, level - 1);
        match self.tables[t].entries[idx] {
            Pte::Table(_) => return Ok(()),
            Pte::Page(_) => return Err(MapError::AlreadyMapped(va)),
            Pte::Empty => {}
        }
        let n = self.tables.len() as u32;
        self.tables.push(PageTable {
            paddr,
            level: level as u8,
            entries: vec![Pte::Empty; 1usize << geo.level_bits[level]],
            object,
        });
        self.tables[t].entries[idx] = Pte::Table(n);
        Ok(())
    }

    /// Maps the page at `va` (every table on the way must exist).
    pub fn map(&mut self, geo: &VSpaceGeometry, va: u64, m: Mapping) -> Result<(), MapError> {
        if va >= geo.user_top || va & geo.page_mask() != 0 {
            return Err(MapError::BadAddress(va));
        }
        let mut t = 0usize;
        for level in 0..geo.levels - 1 {
            match self.tables[t].entries[geo.index(va, level)] {
                Pte::Table(n) => t = n as usize,
                _ => return Err(MapError::MissingTable(va, level + 1)),
            }
        }
        let e = &mut self.tables[t].entries[geo.index(va, geo.levels - 1)];
        if *e != Pte::Empty {
            return Err(MapError::AlreadyMapped(va));
        }
        *e = Pte::Page(m);
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
        if va >= geo.user_top {
            return None;
        }
        let mut t = 0usize;
        for level in 0..geo.levels {
            match self.tables.get(t)?.entries.get(geo.index(va, level))? {
                Pte::Table(n) => t = *n as usize,
                Pte::Page(m) => {
                    // A large page's entries each hold the address of the part they map.
                    let span = (1u64 << geo.span_bits(level)) - 1;
                    return Some(Translation {
                        paddr: m.paddr.offset(va & span),
                        rights: m.rights,
                        user: m.user,
                        global: false,
                    });
                }
                Pte::Empty => return None,
            }
        }
        None
    }

    /// The level (0: the top) whose entry ended a walk of `va`: the level of the page that maps
    /// it, or of the empty entry that stopped the walk (the kernel window: 0, its section level).
    pub fn walk_level(&self, geo: &VSpaceGeometry, va: u64) -> usize {
        if va >= geo.kernel_base || va >= geo.user_top {
            return 0;
        }
        let mut t = 0usize;
        for level in 0..geo.levels {
            match self.tables.get(t).and_then(|tb| tb.entries.get(geo.index(va, level))) {
                Some(Pte::Table(n)) => t = *n as usize,
                _ => return level,
            }
        }
        geo.levels - 1
    }

    /// The descriptors a hardware walk of `va` reads, top level first (the kernel window: one).
    pub fn walk_path(&self, geo: &VSpaceGeometry, va: u64) -> WalkPath {
        let mut out = WalkPath::default();
        let eb = u64::from(geo.entry_bytes);
        let mut t = 0usize;
        for level in 0..geo.levels {
            let Some(table) = self.tables.get(t) else { break };
            let idx = geo.index(va, level);
            out.descriptors[level] = Some(table.paddr.offset(idx as u64 * eb));
            if va >= geo.kernel_base {
                break;
            }
            match table.entries.get(idx) {
                Some(Pte::Table(n)) => t = *n as usize,
                _ => break,
            }
        }
        out
    }

    /// Every user mapping, as (virtual address, mapping), in address order.
    pub fn mappings(&self, geo: &VSpaceGeometry) -> Vec<(VAddr, Mapping)> {
        let mut out = Vec::new();
        self.collect(geo, 0, 0, 0, &mut out);
        out
    }

    fn collect(
        &self,
        geo: &VSpaceGeometry,
        t: usize,
        level: usize,
        base: u64,
        out: &mut Vec<(VAddr, Mapping)>,
    ) {
        let shift = geo.page_bits + geo.level_bits[level + 1..geo.levels].iter().sum::<u32>();
        for (i, e) in self.tables[t].entries.iter().enumerate() {
            let va = base | ((i as u64) << shift);
            match e {
                Pte::Table(n) => self.collect(geo, *n as usize, level + 1, va, out),
                Pte::Page(m) => out.push((VAddr(va), *m)),
                Pte::Empty => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86_64: VSpaceGeometry = VSpaceGeometry {
        level_bits: [9, 9, 9, 9],
        levels: 4,
        page_bits: 12,
        entry_bytes: 8,
        user_top: 0x0000_8000_0000_0000,
        kernel_base: 0xFFFF_FF80_0000_0000,
    };

    #[test]
    fn a_four_level_space_maps_translates_and_walks() {
        let mut v = VSpace::new(&X86_64, PAddr(0x10_0000), Asid(1), Some(1));
        let va = 0x7f12_3456_7000;
        let mut next = 0x20_0000;
        while let Some(level) = v.missing_level(&X86_64, va) {
            v.add_table(&X86_64, va, level, PAddr(next), None).unwrap();
            next += 0x1000;
        }
        assert_eq!(v.tables.len(), 4);
        let m = Mapping {
            paddr: PAddr(0x50_0000),
            rights: VmRights { read: true, write: false, exec: true },
            user: true,
            size_bits: 12,
        };
        v.map(&X86_64, va, m).unwrap();
        assert_eq!(v.map(&X86_64, va, m), Err(MapError::AlreadyMapped(va)));
        let t = v.translate(&X86_64, (0, 1 << 30), va + 0x10).unwrap();
        assert_eq!(t.paddr, PAddr(0x50_0010));
        assert!(t.user && !t.rights.write);
        assert_eq!(v.translate(&X86_64, (0, 1 << 30), va + 0x1000), None);
        let w = v.walk_path(&X86_64, va);
        assert!(w.descriptors.iter().all(Option::is_some));
        assert_eq!(w.descriptors[0], Some(PAddr(0x10_0000 + 8 * X86_64.index(va, 0) as u64)));
        assert_eq!(v.mappings(&X86_64), vec![(VAddr(va), m)]);
        // The kernel half is the kernel window, not user memory.
        assert!(!v.translate(&X86_64, (0, 1 << 30), X86_64.kernel_base + 0x1000).unwrap().user);
        assert_eq!(v.map(&X86_64, X86_64.kernel_base, m), Err(MapError::BadAddress(X86_64.kernel_base)));
    }

    #[test]
    fn large_pages_translate_and_removed_tables_take_their_subtrees() {
        let mut v = VSpace::new(&X86_64, PAddr(0x10_0000), Asid(1), Some(1));
        let va = 0x4000_0000;
        v.add_table(&X86_64, va, 1, PAddr(0x20_0000), None).unwrap();
        v.add_table(&X86_64, va, 2, PAddr(0x20_1000), None).unwrap();
        // A 2 MiB page in the page directory.
        let m = Mapping {
            paddr: PAddr(0x80_0000),
            rights: VmRights { read: true, write: true, exec: false },
            user: true,
            size_bits: 21,
        };
        assert!(v.set_entry(&X86_64, va, 2, Pte::Page(m)));
        let ram = (0, 1 << 30);
        assert_eq!(v.translate(&X86_64, ram, va + 0x1f_fff8).unwrap().paddr, PAddr(0x9f_fff8));
        assert_eq!(v.table_at(&X86_64, va, 3), Err(3), "no page table under a large page");
        // A page table next to it, then the directory removed: both go.
        v.add_table(&X86_64, va + 0x20_0000, 3, PAddr(0x20_2000), None).unwrap();
        assert_eq!(v.tables.len(), 4);
        assert!(!v.remove_table(&X86_64, va, 2, PAddr(0x99_9000)), "only the table that is there");
        assert!(v.remove_table(&X86_64, va, 2, PAddr(0x20_1000)));
        assert_eq!(v.tables.len(), 2);
        assert_eq!(v.translate(&X86_64, ram, va), None);
        assert_eq!(v.table_at(&X86_64, va, 2), Err(2));
        // The remaining indices still lead to the right tables.
        assert_eq!(v.table_at(&X86_64, va, 1).map(|t| v.tables[t].paddr), Ok(PAddr(0x20_0000)));
    }
}
