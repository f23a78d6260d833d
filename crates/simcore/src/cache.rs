//! Set-associative caches and TLBs with LRU replacement.
//!
//! Both are the same structure: sets of tagged entries, most recently used first. Deterministic:
//! replacement depends only on the access sequence.

/// Tag value of an empty way.
const INVALID: u64 = u64::MAX;
/// Most hint slots of one array (a power of two).
const HINTS_MAX: usize = 4096;
/// ASID value of a global (untagged) entry.
const GLOBAL: u32 = u32::MAX;

/// One way: its tag, ASID (or [`GLOBAL`]) and LRU stamp.
#[derive(Clone, Copy, Debug)]
struct Way {
    tag: u64,
    stamp: u64,
    asid: u32,
}

/// A set-associative, LRU, tag-only array: the common structure of caches and TLBs.
///
/// Flat arrays, one slot per way; LRU by a per-way "last used" stamp, so a hit costs a scan of
/// the set's ways and one store, and nothing moves. Deterministic: replacement depends only on the
/// access sequence.
#[derive(Clone, Debug)]
pub struct TagArray {
    ways: usize,
    set_mask: u64,
    set_shift: u32,
    block_shift: u32,
    ways_: Vec<Way>,
    clock: u64,
    /// The most recently used way of the whole array: a repeated access to it changes no LRU
    /// order, so it is answered without a scan.
    last: usize,
    /// For associative arrays: a direct-mapped hint from block to the way that last held it,
    /// checked before scanning the set. Only a shortcut: a stale hint is caught by the tag check,
    /// and a hit through it updates the LRU state exactly as a scan would.
    hint: Vec<u32>,
    /// Slots filled since the array was last emptied, so that a flush touches only those
    /// (an address-space switch on an untagged TLB flushes a large, mostly empty array).
    filled: Vec<u32>,
    hits: u64,
    misses: u64,
}

impl TagArray {
    /// An array of `entries` blocks of `1 << block_shift` bytes, `ways`-way associative
    /// (0 = fully associative). `entries / ways` must be a power of two (validated by the profile).
    pub fn new(entries: usize, ways: usize, block_shift: u32) -> TagArray {
        let entries = entries.max(1);
        let ways = if ways == 0 || ways > entries { entries } else { ways };
        let nsets = (entries / ways).max(1).next_power_of_two();
        TagArray {
            ways,
            set_mask: (nsets as u64) - 1,
            set_shift: nsets.trailing_zeros(),
            block_shift,
            ways_: vec![Way { tag: INVALID, stamp: 0, asid: GLOBAL }; nsets * ways],
            clock: 0,
            last: usize::MAX,
            hint: if ways > 1 {
                vec![0; (nsets * ways).next_power_of_two().min(HINTS_MAX)]
            } else {
                Vec::new()
            },
            filled: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    #[inline]
    fn locate(&self, addr: u64) -> (usize, u64) {
        let block = addr >> self.block_shift;
        (((block & self.set_mask) as usize) * self.ways, block >> self.set_shift)
    }

    #[inline]
    fn hint_slot(&mut self, block: u64) -> Option<&mut u32> {
        let n = self.hint.len();
        self.hint.get_mut((block as usize) & n.wrapping_sub(1))
    }

    #[inline]
    fn matches(w: &Way, tag: u64, asid: u32) -> bool {
        w.tag == tag && (w.asid == GLOBAL || w.asid == asid)
    }

    /// Looks up the block holding `addr` for address space `asid` (`None` = global); on a miss
    /// the block is filled (evicting the least recently used). Returns true on a hit.
    /// With `global` set, a filled entry matches every address space.
    pub fn access(&mut self, addr: u64, asid: Option<u16>, global: bool) -> bool {
        let (base, tag) = self.locate(addr);
        let a = asid.map_or(GLOBAL, u32::from);
        if self.last >= base && self.last < base + self.ways && Self::matches(&self.ways_[self.last], tag, a)
        {
            self.hits += 1;
            return true;
        }
        self.clock += 1;
        let clock = self.clock;
        let block = addr >> self.block_shift;
        if !self.hint.is_empty() {
            let h = self.hint[(block as usize) & (self.hint.len() - 1)] as usize;
            if h < self.ways && Self::matches(&self.ways_[base + h], tag, a) {
                self.ways_[base + h].stamp = clock;
                self.last = base + h;
                self.hits += 1;
                return true;
            }
        }
        let set = &mut self.ways_[base..base + self.ways];
        let mut victim = 0;
        let mut oldest = u64::MAX;
        for (i, w) in set.iter_mut().enumerate() {
            if Self::matches(w, tag, a) {
                w.stamp = clock;
                self.last = base + i;
                if let Some(h) = self.hint_slot(block) {
                    *h = i as u32;
                }
                self.hits += 1;
                return true;
            }
            if w.stamp < oldest {
                oldest = w.stamp;
                victim = i;
            }
        }
        let was_empty = set[victim].tag == INVALID;
        set[victim] = Way { tag, stamp: clock, asid: if global { GLOBAL } else { a } };
        self.last = base + victim;
        if was_empty {
            self.filled.push((base + victim) as u32);
        }
        if let Some(h) = self.hint_slot(block) {
            *h = victim as u32;
        }
        self.misses += 1;
        false
    }

    /// Whether the block holding `addr` is present for `asid`, without changing any state.
    pub fn probe(&self, addr: u64, asid: Option<u16>) -> bool {
        let (base, tag) = self.locate(addr);
        let a = asid.map_or(GLOBAL, u32::from);
        self.ways_[base..base + self.ways].iter().any(|w| Self::matches(w, tag, a))
    }

    /// Invalidates everything.
    pub fn flush_all(&mut self) {
        self.flush_where(|_| true);
    }

    /// Invalidates every non-global entry (what an untagged TLB does on an address-space switch).
    pub fn flush_non_global(&mut self) {
        self.flush_where(|w| w.asid != GLOBAL);
    }

    /// Invalidates the block holding `addr` for `asid` (a non-global entry only).
    pub fn invalidate(&mut self, addr: u64, asid: Option<u16>) {
        let (base, tag) = self.locate(addr);
        let a = asid.map_or(GLOBAL, u32::from);
        let range = base..base + self.ways;
        let ways = &self.ways_;
        if !ways[range.clone()].iter().any(|w| w.tag == tag && w.asid == a) {
            return;
        }
        self.flush_where_at(|i, w| range.contains(&i) && w.tag == tag && w.asid == a);
    }

    /// Invalidates every non-global entry of `asid`.
    pub fn flush_asid(&mut self, asid: u16) {
        self.flush_where(|w| w.asid == u32::from(asid));
    }

    /// Invalidates the valid entries `drop` selects, visiting only the valid slots.
    fn flush_where(&mut self, drop: impl Fn(&Way) -> bool) {
        self.flush_where_at(|_, w| drop(w));
    }

    /// As `flush_where`, with the slot index.
    fn flush_where_at(&mut self, drop: impl Fn(usize, &Way) -> bool) {
        const EMPTY: Way = Way { tag: INVALID, stamp: 0, asid: GLOBAL };
        // Every valid slot is listed exactly once: a slot is listed when a fill makes it valid
        // and unlisted when a flush empties it.
        let ways = &mut self.ways_;
        self.filled.retain(|&i| {
            let w = &mut ways[i as usize];
            if drop(i as usize, w) {
                *w = EMPTY;
                false
            } else {
                true
            }
        });
        self.last = usize::MAX;
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used_way() {
        // 2 sets x 2 ways, 16-byte blocks.
        let mut c = TagArray::new(4, 2, 4);
        assert!(!c.access(0x000, None, false));
        assert!(!c.access(0x020, None, false)); // same set (block 2 -> set 0)
        assert!(c.access(0x000, None, false));
        assert!(!c.access(0x040, None, false)); // evicts 0x020
        assert!(c.access(0x000, None, false));
        assert!(!c.access(0x020, None, false));
        assert_eq!(c.stats(), (2, 4));
    }

    #[test]
    fn asid_tags_separate_address_spaces_and_globals_match_all() {
        let mut t = TagArray::new(8, 0, 12);
        assert!(!t.access(0x1000, Some(1), false));
        assert!(!t.access(0x1000, Some(2), false));
        assert!(t.access(0x1000, Some(1), false));
        assert!(!t.access(0xe000_0000, Some(1), true));
        assert!(t.access(0xe000_0000, Some(7), false));
        t.flush_non_global();
        assert!(!t.probe(0x1000, Some(1)));
        assert!(t.probe(0xe000_0000, Some(3)));
    }

    #[test]
    fn flushes_visit_every_valid_entry_and_refills_after_them_behave_as_on_a_fresh_array() {
        // 4 sets x 4 ways of 4 KiB pages: fill, flush, refill, repeatedly, against a fresh array.
        let mut t = TagArray::new(16, 4, 12);
        for round in 0..5u64 {
            for p in 0..24u64 {
                t.access(p << 12, Some(1), p % 3 == 0);
            }
            t.flush_non_global();
            for p in 0..24u64 {
                let global = p % 3 == 0;
                // Only global entries may survive, and only those still resident.
                assert!(!t.probe(p << 12, Some(1)) || global, "round {round}: page {p} survived");
            }
            t.flush_all();
            for p in 0..24u64 {
                assert!(!t.probe(p << 12, None), "round {round}: page {p} survived a full flush");
            }
            let mut fresh = TagArray::new(16, 4, 12);
            for p in (0..40u64).rev() {
                assert_eq!(t.access(p << 12, Some(2), false), fresh.access(p << 12, Some(2), false));
            }
            t.flush_all();
        }
    }
}
