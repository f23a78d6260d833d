//! Virtual memory: seL4's architecture objects (VSpace roots, page tables, frames of every page
//! size, ASID control and pools) and their invocations, non-MCS, for aarch32 and x86-64, with
//! seL4 16.0.0's labels and object types (`abi.rs` has the generic ones).
//!
//! The address space itself is [`crate::object::VSpace`]: a tree of the tables the hardware
//! walks. A page-table object joins the tree when it is mapped and leaves it, with every table
//! below it, when it is unmapped (seL4 clears the table's memory then). A VSpace root is a valid
//! root only while the ASID pool it was assigned to still holds it; otherwise a thread running
//! in it sees no user mappings at all and every access faults, as on seL4, where such a thread
//! runs on the global page directory.
//!
//! Checks follow seL4's decode functions in seL4's order (`decodeARMFrameInvocation`,
//! `decodeX86FrameInvocation`, `decodeARMPageTableInvocation`, `decodeX86PageTableInvocation`
//! and its PD/PDPT siblings, `decodeARMASIDControlInvocation`, `decodeARMASIDPoolInvocation` and
//! the x86 equivalents). Differences kept, each refused rather than half-done:
//! - the ARM page-directory cache operations (`ARMPDClean_Data` etc.) are IllegalOperation;
//!   the frame cache operations check their arguments and then do nothing, as the simulated
//!   caches hold no data;
//! - x86-64 IOMMU page tables (object type 12) cannot be retyped (IllegalOperation), and the
//!   I/O labels are IllegalOperation;
//! - the ISAs other than aarch32 and x86-64 have no architecture objects in this kernel.
//!
//! Pricing: the presets count no VM paths yet; an invocation is charged the `decode_invocation`
//! step and its lookups, and an unmap invalidates the modelled TLBs' entries for the page.

use crate::cnode::failed_lookup;
use crate::cspace::{LookupFault, SlotRef};
use crate::object::{AsidPool, Cap, Frame, FrameMapping, FrameRights, Mapping, PageTableObject, Pte, VSpace};
use crate::tcb::{Invocation, InvocationError};
use crate::types::{AsidPoolId, FrameId, PtId, SysError, VSpaceId};
use crate::Kernel;
use simcore::{Asid, PAddr, PhysMem};

/// What an architecture object type makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArchObject {
    /// A VSpace root (ARM page directory, x86-64 PML4).
    Root,
    /// A frame of 2^bits bytes.
    Frame(u8),
    /// A page table serving the given level (1 = just below the root).
    Table(u8),
    /// A type this simulator does not make (x86 IOMMU page tables).
    Unsupported,
}

/// An architecture's virtual-memory numbers.
#[derive(Debug)]
pub(crate) struct VmAbi {
    /// Object types after the generic ones.
    types: &'static [(u64, ArchObject)],
    /// (map, unmap) labels of page tables, by level (index 0: level 1).
    table_labels: &'static [(u64, u64)],
    page_map: u64,
    page_unmap: u64,
    page_get_address: u64,
    /// The frame cache-maintenance labels (first, last), if the architecture has them.
    page_cache_ops: Option<(u64, u64)>,
    make_pool: u64,
    assign: u64,
    /// log2 of the ASIDs per pool.
    asid_low_bits: u32,
    /// log2 of the number of pools.
    asid_high_bits: u32,
    /// The attribute bit that makes a mapping non-executable (ARM's ExecuteNever; x86 user
    /// frames are always executable in seL4).
    execute_never: Option<u64>,
    /// True where seL4's USER_TOP is the last user address (x86-64: 0x7FFFFFFFFFFF) rather than
    /// the first address above user space (aarch32: 0xE0000000).
    top_inclusive: bool,
}

impl VmAbi {
    /// The first virtual address no mapping may reach.
    fn map_limit(&self, geo: &crate::vspace::VSpaceGeometry) -> u64 {
        if self.top_inclusive {
            geo.user_top - 1
        } else {
            geo.user_top
        }
    }
}

/// aarch32 (imx6 default: no hypervisor, no SMMU).
const AARCH32: VmAbi = VmAbi {
    types: &[
        (5, ArchObject::Root),
        (6, ArchObject::Frame(12)),
        (7, ArchObject::Frame(16)),
        (8, ArchObject::Frame(20)),
        (9, ArchObject::Frame(24)),
        (10, ArchObject::Table(1)),
    ],
    table_labels: &[(37, 38)],
    page_map: 39,
    page_unmap: 40,
    page_get_address: 45,
    page_cache_ops: Some((41, 44)),
    make_pool: 46,
    assign: 47,
    asid_low_bits: 10,
    asid_high_bits: 7,
    execute_never: Some(4),
    top_inclusive: false,
};

/// x86-64 (pc99 default: IOMMU and 1 GiB pages on, no VT-x).
const X86_64: VmAbi = VmAbi {
    types: &[
        (5, ArchObject::Table(1)),
        (6, ArchObject::Root),
        (7, ArchObject::Frame(30)),
        (8, ArchObject::Frame(12)),
        (9, ArchObject::Frame(21)),
        (10, ArchObject::Table(3)),
        (11, ArchObject::Table(2)),
        (12, ArchObject::Unsupported),
    ],
    table_labels: &[(33, 34), (35, 36), (37, 38)],
    page_map: 41,
    page_unmap: 42,
    page_get_address: 44,
    page_cache_ops: None,
    make_pool: 45,
    assign: 46,
    asid_low_bits: 9,
    asid_high_bits: 3,
    execute_never: None,
    top_inclusive: true,
};

fn invalid_cap(i: u64) -> InvocationError {
    (SysError::InvalidCapability, vec![i])
}

fn invalid_arg(i: u64) -> InvocationError {
    (SysError::InvalidArgument, vec![i])
}

fn plain(e: SysError) -> InvocationError {
    (e, vec![])
}

impl Kernel {
    /// The architecture's VM numbers, if this kernel has architecture objects for its ISA.
    pub(crate) fn vm_abi(&self) -> Option<&'static VmAbi> {
        match self.isa.as_str() {
            "aarch32" => Some(&AARCH32),
            "x86_64" => Some(&X86_64),
            _ => None,
        }
    }

    /// What architecture object type `ty` is, if it is one.
    pub(crate) fn arch_object(&self, ty: u64) -> Option<ArchObject> {
        self.vm_abi()?.types.iter().find(|(t, _)| *t == ty).map(|(_, o)| *o)
    }

    /// log2 of an architecture object's size.
    pub(crate) fn arch_object_bits(&self, o: ArchObject) -> u64 {
        let log2 = |b: u64| u64::from(b.trailing_zeros());
        match o {
            ArchObject::Root => log2(self.geo.root_table_bytes()),
            ArchObject::Frame(bits) => u64::from(bits),
            ArchObject::Table(level) => log2(self.geo.table_bytes(usize::from(level))),
            ArchObject::Unsupported => 12,
        }
    }

    /// Makes an architecture object at `paddr` (memory the Retype took from an untyped region)
    /// and returns the capability to it. Frames of normal memory are zeroed, as seL4 does.
    pub(crate) fn create_arch_object(
        &mut self,
        o: ArchObject,
        paddr: PAddr,
        device: bool,
        mem: &mut dyn PhysMem,
    ) -> Cap {
        self.vm_generation += 1;
        match o {
            ArchObject::Root => {
                let id = VSpaceId(self.vspaces.len() as u32);
                let tag = Asid(u16::try_from(id.0 + 1).unwrap_or(u16::MAX));
                self.vspaces.push(VSpace::new(&self.geo, paddr, tag, None));
                Cap::VSpace { vspace: id }
            }
            ArchObject::Frame(bits) => {
                if !device {
                    mem.zero(paddr, 1u64 << bits);
                }
                self.frames.push(Frame { paddr, size_bits: bits, device });
                let frame = FrameId((self.frames.len() - 1) as u32);
                Cap::Frame { frame, rights: FrameRights::ReadWrite, mapped: None }
            }
            ArchObject::Table(_) | ArchObject::Unsupported => {
                let level = if let ArchObject::Table(l) = o { l } else { 0 };
                self.page_tables.push(PageTableObject { paddr, level, mapped: None });
                Cap::PageTable { pt: PtId((self.page_tables.len() - 1) as u32) }
            }
        }
    }

    /// The initial ASID pool (pool 0), made on first use.
    pub(crate) fn initial_asid_pool(&mut self) -> AsidPoolId {
        if self.asid_pools.is_empty() {
            let (low, high) = self.vm_abi().map_or((8, 0), |a| (a.asid_low_bits, a.asid_high_bits));
            self.asid_pools.push(AsidPool { paddr: None, base: 0, entries: vec![None; 1 << low] });
            self.asid_table = vec![None; 1 << high];
            self.asid_table[0] = Some(AsidPoolId(0));
        }
        AsidPoolId(0)
    }

    /// Gives the initial ASID pool memory (seL4's boot makes it for the root task); returns the
    /// capability to it.
    pub fn initial_asid_pool_cap(&mut self) -> Result<Cap, crate::KernelError> {
        let pool = self.initial_asid_pool();
        if self.asid_pools[pool.0 as usize].paddr.is_none() {
            let paddr = self.alloc_phys(4096, 4096)?;
            self.asid_pools[pool.0 as usize].paddr = Some(paddr);
        }
        Ok(Cap::AsidPool { pool })
    }

    fn asid_low_mask(&self) -> u64 {
        (1u64 << self.vm_abi().map_or(8, |a| a.asid_low_bits)) - 1
    }

    /// findVSpaceForASID.
    fn find_vspace_for_asid(&self, asid: u64) -> Result<VSpaceId, LookupFault> {
        let low_bits = self.vm_abi().map_or(8, |a| a.asid_low_bits);
        let pool = usize::try_from(asid >> low_bits)
            .ok()
            .and_then(|i| self.asid_table.get(i).copied().flatten())
            .ok_or(LookupFault::InvalidRoot)?;
        self.asid_pools[pool.0 as usize].entries[(asid & self.asid_low_mask()) as usize]
            .ok_or(LookupFault::InvalidRoot)
    }

    /// Whether `vs` is a valid VSpace root: assigned an ASID that its pool still maps to it.
    pub(crate) fn vspace_live(&self, vs: VSpaceId) -> bool {
        let Some(v) = self.vspaces.get(vs.0 as usize) else { return false };
        v.sel4_asid.is_some_and(|a| self.find_vspace_for_asid(a) == Ok(vs))
    }

    /// isValidVTableRoot: a VSpace root capability with an ASID.
    pub(crate) fn is_valid_vtable_root(&self, cap: &Cap) -> bool {
        matches!(*cap, Cap::VSpace { vspace } if self.vspaces.get(vspace.0 as usize).is_some_and(|v| v.sel4_asid.is_some()))
    }

    /// The table level and entry count of a frame of 2^bits bytes: the deepest level whose
    /// entries are no larger, and how many entries it fills (16 for ARM's 64 KiB pages and
    /// 16 MiB supersections).
    fn frame_level(&self, bits: u8) -> (usize, u64) {
        let geo = &self.geo;
        let level = (0..geo.levels).rev().find(|l| geo.span_bits(*l) >= u32::from(bits)).unwrap_or(0);
        let level = if geo.span_bits(level) > u32::from(bits) { level + 1 } else { level };
        let level = level.min(geo.levels - 1);
        (level, 1u64 << (u32::from(bits).saturating_sub(geo.span_bits(level))))
    }

    fn vm_changed(&mut self) {
        self.vm_generation += 1;
    }

    /// Invalidates the modelled TLBs' entries for `[va, va + len)` in `vs` (seL4 invalidates
    /// by ASID and address after an unmap).
    fn invalidate_tlb(&mut self, vs: VSpaceId, va: u64, len: u64) {
        let tag = self.vspaces[vs.0 as usize].asid;
        let len = len.min(1 << 24);
        self.cost.invalidate_tlb_range(tag, va, len);
    }

    // ---- frames ----

    /// decodeARMFrameInvocation / decodeX86FrameInvocation.
    pub(crate) fn invoke_frame(
        &mut self,
        slot: SlotRef,
        inv: &Invocation<'_>,
        mem: &mut dyn PhysMem,
    ) -> Result<(), InvocationError> {
        let abi = self.vm_abi().ok_or(plain(SysError::IllegalOperation))?;
        let Cap::Frame { frame, rights, mapped } = self.slot_cap(slot) else {
            return Err(plain(SysError::IllegalOperation));
        };
        let label = inv.info.label;
        let bits = self.frames[frame.0 as usize].size_bits;
        let size = 1u64 << bits;
        if label == abi.page_map {
            if inv.mrs.len() < 3 || inv.caps.is_empty() {
                return Err(plain(SysError::TruncatedMessage));
            }
            let (vaddr, rights_word, attr) = (inv.mrs[0], inv.mrs[1], inv.mrs[2]);
            let root = inv.caps[0];
            if !self.is_valid_vtable_root(&root) {
                return Err(invalid_cap(1));
            }
            let Cap::VSpace { vspace } = root else { return Err(invalid_cap(1)) };
            let asid = self.vspaces[vspace.0 as usize].sel4_asid.unwrap_or(0);
            match mapped {
                Some(m) => {
                    if m.vspace != vspace {
                        return Err(invalid_cap(1));
                    }
                    if m.vaddr != vaddr {
                        return Err(invalid_arg(0));
                    }
                }
                None => {
                    if vaddr.checked_add(size).is_none_or(|end| end > abi.map_limit(&self.geo)) {
                        return Err(invalid_arg(0));
                    }
                }
            }
            match self.find_vspace_for_asid(asid) {
                Err(lf) => return Err(failed_lookup(false, lf)),
                Ok(found) if found != vspace => return Err(invalid_cap(1)),
                Ok(_) => {}
            }
            let vm_rights = rights.mask(rights_word & 2 != 0, rights_word & 1 != 0);
            if vaddr & (size - 1) != 0 {
                return Err(plain(SysError::AlignmentError));
            }
            let (level, count) = self.frame_level(bits);
            let span = 1u64 << self.geo.span_bits(level);
            let v = &self.vspaces[vspace.0 as usize];
            if let Err(missing) = v.table_at(&self.geo, vaddr, level) {
                let bits_left = self.geo.span_bits(missing.saturating_sub(1)) as u8;
                return Err(failed_lookup(false, LookupFault::MissingCapability { bits_left }));
            }
            // A page table where the page would go must be unmapped first; so must a page of
            // another size (ARM's 64 KiB pages and supersections share the level with smaller ones).
            for i in 0..count {
                match v.entry(&self.geo, vaddr + i * span, level) {
                    Some(Pte::Table(_)) => return Err(plain(SysError::DeleteFirst)),
                    Some(Pte::Page(m)) if m.size_bits != bits => return Err(plain(SysError::DeleteFirst)),
                    _ => {}
                }
            }
            let paddr = self.frames[frame.0 as usize].paddr;
            let exec = abi.execute_never.is_none_or(|bit| attr & bit == 0);
            let user = vm_rights != FrameRights::KernelOnly;
            let write = vm_rights == FrameRights::ReadWrite;
            for i in 0..count {
                let m = Mapping {
                    paddr: paddr.offset(i * span),
                    rights: crate::object::VmRights { read: true, write, exec },
                    user,
                    size_bits: bits,
                };
                self.vspaces[vspace.0 as usize].set_entry(&self.geo, vaddr + i * span, level, Pte::Page(m));
            }
            let mdb = self.mdb_of(slot);
            let new = Cap::Frame { frame, rights, mapped: Some(FrameMapping { vspace, vaddr }) };
            self.write_slot(slot, new, mdb);
            self.invalidate_tlb(vspace, vaddr, size);
            self.vm_changed();
            Ok(())
        } else if label == abi.page_unmap {
            self.unmap_frame_cap(slot);
            Ok(())
        } else if label == abi.page_get_address {
            let paddr = self.frames[frame.0 as usize].paddr.0;
            self.reply_words(inv.caller, inv.is_call, &[paddr], mem);
            Ok(())
        } else if abi.page_cache_ops.is_some_and(|(a, b)| (a..=b).contains(&label)) {
            if inv.mrs.len() < 2 {
                return Err(plain(SysError::TruncatedMessage));
            }
            if mapped.is_none() {
                return Err(plain(SysError::IllegalOperation));
            }
            let (start, end) = (inv.mrs[0], inv.mrs[1]);
            if end <= start {
                return Err(invalid_arg(1));
            }
            if start >= size || end > size {
                return Err(invalid_arg(0));
            }
            Ok(())
        } else {
            Err(plain(SysError::IllegalOperation))
        }
    }

    /// unmapPage for the frame capability in `slot`, if it maps its frame; the capability
    /// records no mapping afterwards. Only entries that still map this frame are cleared.
    pub(crate) fn unmap_frame_cap(&mut self, slot: SlotRef) {
        let Cap::Frame { frame, rights, mapped: Some(m) } = self.slot_cap(slot) else { return };
        self.unmap_frame(frame, m);
        let mdb = self.mdb_of(slot);
        self.write_slot(slot, Cap::Frame { frame, rights, mapped: None }, mdb);
    }

    fn unmap_frame(&mut self, frame: FrameId, m: FrameMapping) {
        let f = &self.frames[frame.0 as usize];
        let (paddr, bits) = (f.paddr, f.size_bits);
        if !self.vspace_live(m.vspace) {
            return;
        }
        let (level, count) = self.frame_level(bits);
        let span = 1u64 << self.geo.span_bits(level);
        let geo = self.geo;
        let v = &mut self.vspaces[m.vspace.0 as usize];
        for i in 0..count {
            let va = m.vaddr + i * span;
            if let Some(Pte::Page(p)) = v.entry(&geo, va, level) {
                if p.paddr == paddr.offset(i * span) {
                    v.set_entry(&geo, va, level, Pte::Empty);
                }
            }
        }
        self.invalidate_tlb(m.vspace, m.vaddr, 1 << bits);
        self.vm_changed();
    }

    // ---- page tables ----

    /// decodeARMPageTableInvocation / decodeX86PageTableInvocation and the x86-64 page
    /// directory and PDPT equivalents.
    pub(crate) fn invoke_page_table(
        &mut self,
        slot: SlotRef,
        inv: &Invocation<'_>,
    ) -> Result<(), InvocationError> {
        let abi = self.vm_abi().ok_or(plain(SysError::IllegalOperation))?;
        let Cap::PageTable { pt } = self.slot_cap(slot) else {
            return Err(plain(SysError::IllegalOperation));
        };
        let obj = self.page_tables[pt.0 as usize].clone();
        let level = usize::from(obj.level);
        let Some(&(map, unmap)) = level.checked_sub(1).and_then(|i| abi.table_labels.get(i)) else {
            return Err(plain(SysError::IllegalOperation));
        };
        let label = inv.info.label;
        if label == unmap {
            if !self.is_final(slot) {
                return Err(plain(SysError::RevokeFirst));
            }
            self.unmap_page_table(pt);
            return Ok(());
        }
        if label != map {
            return Err(plain(SysError::IllegalOperation));
        }
        if inv.mrs.len() < 2 || inv.caps.is_empty() {
            return Err(plain(SysError::TruncatedMessage));
        }
        if obj.mapped.is_some() {
            return Err(invalid_cap(0));
        }
        // x86-64 rounds the address down to what the table covers; ARM indexes by its top bits.
        let vaddr = inv.mrs[0] & !((1u64 << self.geo.span_bits(level - 1)) - 1);
        let root = inv.caps[0];
        if !self.is_valid_vtable_root(&root) {
            return Err(invalid_cap(1));
        }
        let Cap::VSpace { vspace } = root else { return Err(invalid_cap(1)) };
        let asid = self.vspaces[vspace.0 as usize].sel4_asid.unwrap_or(0);
        if vaddr >= abi.map_limit(&self.geo) {
            return Err(invalid_arg(0));
        }
        match self.find_vspace_for_asid(asid) {
            Err(lf) => return Err(failed_lookup(false, lf)),
            Ok(found) if found != vspace => return Err(invalid_cap(1)),
            Ok(_) => {}
        }
        let geo = self.geo;
        let v = &self.vspaces[vspace.0 as usize];
        if let Err(missing) = v.table_at(&geo, vaddr, level - 1) {
            let bits_left = geo.span_bits(missing.saturating_sub(1)) as u8;
            return Err(failed_lookup(false, LookupFault::MissingCapability { bits_left }));
        }
        if v.entry(&geo, vaddr, level - 1) != Some(Pte::Empty) {
            return Err(plain(SysError::DeleteFirst));
        }
        self.vspaces[vspace.0 as usize]
            .add_table(&geo, vaddr, level, obj.paddr, Some(pt))
            .map_err(|_| plain(SysError::DeleteFirst))?;
        self.page_tables[pt.0 as usize].mapped = Some((vspace, vaddr));
        self.vm_changed();
        Ok(())
    }

    /// unmapPageTable: the table leaves its address space with everything below it.
    pub(crate) fn unmap_page_table(&mut self, pt: PtId) {
        let Some((vs, va)) = self.page_tables[pt.0 as usize].mapped.take() else { return };
        let obj = &self.page_tables[pt.0 as usize];
        let (level, paddr) = (usize::from(obj.level), obj.paddr);
        if self.vspace_live(vs) {
            let geo = self.geo;
            if self.vspaces[vs.0 as usize].remove_table(&geo, va, level, paddr) {
                self.invalidate_tlb(vs, va, 1 << geo.span_bits(level - 1));
            }
        }
        self.vm_changed();
    }

    /// Makes page-table objects of the tables the host built for `vs` (as seL4's boot makes
    /// capabilities to the root task's paging structures) and returns capabilities to them,
    /// mapped, in seL4's order: by level from the top, then by address.
    pub fn adopt_page_tables(&mut self, vs: VSpaceId) -> Vec<Cap> {
        let geo = self.geo;
        let Some(v) = self.vspaces.get(vs.0 as usize) else { return Vec::new() };
        // (level, base address, table index) of every table below the root.
        let mut found = Vec::new();
        let mut stack = vec![(0usize, 0u64)];
        while let Some((t, base)) = stack.pop() {
            let level = usize::from(v.tables[t].level);
            for (i, e) in v.tables[t].entries.iter().enumerate() {
                if let Pte::Table(n) = e {
                    let va = base | ((i as u64) << geo.span_bits(level));
                    found.push((level + 1, va, *n as usize));
                    stack.push((*n as usize, va));
                }
            }
        }
        found.sort();
        let mut caps = Vec::new();
        for (level, va, t) in found {
            if self.vspaces[vs.0 as usize].tables[t].object.is_some() {
                continue;
            }
            let paddr = self.vspaces[vs.0 as usize].tables[t].paddr;
            let pt = PtId(self.page_tables.len() as u32);
            self.page_tables.push(PageTableObject { paddr, level: level as u8, mapped: Some((vs, va)) });
            self.vspaces[vs.0 as usize].tables[t].object = Some(pt);
            caps.push(Cap::PageTable { pt });
        }
        caps
    }

    // ---- ASIDs ----

    /// decodeARMASIDControlInvocation / decodeX86ASIDControlInvocation: MakePool.
    pub(crate) fn invoke_asid_control(&mut self, inv: &Invocation<'_>) -> Result<(), InvocationError> {
        let abi = self.vm_abi().ok_or(plain(SysError::IllegalOperation))?;
        if inv.info.label != abi.make_pool {
            return Err(plain(SysError::IllegalOperation));
        }
        if inv.mrs.len() < 2 || inv.caps.len() < 2 {
            return Err(plain(SysError::TruncatedMessage));
        }
        let (index, depth) = (inv.mrs[0], inv.mrs[1]);
        let (parent, untyped, root) = (inv.slots[0], inv.caps[0], inv.caps[1]);
        self.initial_asid_pool();
        let Some(free) = self.asid_table.iter().position(Option::is_none) else {
            return Err(plain(SysError::DeleteFirst));
        };
        let Cap::Untyped { ut, .. } = untyped else { return Err(invalid_cap(1)) };
        let region = &self.untypeds[ut.0 as usize];
        if region.size_bits != 12 || region.device {
            return Err(invalid_cap(1));
        }
        let paddr = region.paddr;
        if self.mdb_of(parent).next.is_some_and(|n| self.is_mdb_parent_of(parent, n)) {
            return Err(plain(SysError::RevokeFirst));
        }
        let dest = self.lookup_slot_for_cnode_op(root, index, depth, false)?;
        if self.slot_cap(dest) != Cap::Null {
            return Err(plain(SysError::DeleteFirst));
        }
        // The untyped is used up: its watermark goes to the end.
        let mdb = self.mdb_of(parent);
        self.write_slot(parent, Cap::Untyped { ut, free: 1 << 12 }, mdb);
        let low = 1usize << abi.asid_low_bits;
        let base = (free as u64) << abi.asid_low_bits;
        self.asid_pools.push(AsidPool { paddr: Some(paddr), base, entries: vec![None; low] });
        let pool = AsidPoolId((self.asid_pools.len() - 1) as u32);
        self.asid_table[free] = Some(pool);
        self.insert_new_cap(parent, dest, Cap::AsidPool { pool });
        Ok(())
    }

    /// decodeARMASIDPoolInvocation / decodeX86ASIDPoolInvocation: Assign.
    pub(crate) fn invoke_asid_pool(
        &mut self,
        pool: AsidPoolId,
        inv: &Invocation<'_>,
    ) -> Result<(), InvocationError> {
        let abi = self.vm_abi().ok_or(plain(SysError::IllegalOperation))?;
        if inv.info.label != abi.assign {
            return Err(plain(SysError::IllegalOperation));
        }
        let Some(&root) = inv.caps.first() else { return Err(plain(SysError::TruncatedMessage)) };
        let Cap::VSpace { vspace } = root else { return Err(invalid_cap(1)) };
        if self.vspaces[vspace.0 as usize].sel4_asid.is_some() {
            return Err(invalid_cap(1));
        }
        let base = self.asid_pools[pool.0 as usize].base;
        let low_bits = abi.asid_low_bits;
        match self.asid_table.get((base >> low_bits) as usize).copied().flatten() {
            None => return Err(failed_lookup(false, LookupFault::InvalidRoot)),
            Some(p) if p != pool => return Err(invalid_cap(0)),
            Some(_) => {}
        }
        let entries = &self.asid_pools[pool.0 as usize].entries;
        let Some(i) = (0..entries.len()).find(|i| base + *i as u64 != 0 && entries[*i].is_none()) else {
            return Err(plain(SysError::DeleteFirst));
        };
        self.asid_pools[pool.0 as usize].entries[i] = Some(vspace);
        self.vspaces[vspace.0 as usize].sel4_asid = Some(base + i as u64);
        self.vm_changed();
        Ok(())
    }

    // ---- deletion ----

    /// Arch_finaliseCap for the last capability to an architecture object.
    pub(crate) fn finalise_arch_cap(&mut self, cap: Cap) {
        match cap {
            Cap::PageTable { pt } => self.unmap_page_table(pt),
            Cap::VSpace { vspace } => {
                // deleteASID: the pool forgets the root; threads in it now fault.
                if let Some(asid) = self.vspaces[vspace.0 as usize].sel4_asid {
                    if self.find_vspace_for_asid(asid) == Ok(vspace) {
                        let low = (asid & self.asid_low_mask()) as usize;
                        if let Some(p) = self.asid_table[(asid >> self.asid_low_mask().count_ones()) as usize]
                        {
                            self.asid_pools[p.0 as usize].entries[low] = None;
                        }
                    }
                    self.cost.invalidate_tlb_asid(self.vspaces[vspace.0 as usize].asid);
                }
                self.vm_changed();
            }
            Cap::AsidPool { pool } => {
                // deleteASIDPool: every root it served loses its ASID's meaning.
                let base = self.asid_pools[pool.0 as usize].base;
                let high = (base >> self.asid_low_mask().count_ones()) as usize;
                if self.asid_table.get(high).copied().flatten() == Some(pool) {
                    for vs in self.asid_pools[pool.0 as usize].entries.iter().flatten() {
                        self.cost.invalidate_tlb_asid(self.vspaces[vs.0 as usize].asid);
                    }
                    self.asid_table[high] = None;
                }
                self.vm_changed();
            }
            _ => {}
        }
    }

    /// The VM generation: changes whenever a mapping, table or ASID does (or a frame was made
    /// and zeroed), so a backend knows to refresh its page tables and translation caches.
    pub fn vm_generation(&self) -> u64 {
        self.vm_generation
    }
}
