//! Set-associative caches and TLBs with LRU replacement.
//!
//! Both are the same structure: sets of tagged entries, most recently used first. Deterministic:
//! replacement depends only on the access sequence.

/// One entry's tag and its ASID (`None` = global / untagged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    tag: u64,
    asid: Option<u16>,
}

/// A set-associative, LRU, tag-only array: the common structure of caches and TLBs.
#[derive(Clone, Debug)]
pub struct TagArray {
    ways: usize,
    set_mask: u64,
    set_shift: u32,
    block_shift: u32,
    sets: Vec<Vec<Entry>>,
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
            sets: vec![Vec::with_capacity(ways); nsets],
            hits: 0,
            misses: 0,
        }
    }

    /// Looks up the block holding `addr` for address space `asid` (`None` = global); on a miss
    /// the block is filled (evicting the least recently used). Returns true on a hit.
    /// With `global` set, a filled entry matches every address space.
    pub fn access(&mut self, addr: u64, asid: Option<u16>, global: bool) -> bool {
        let block = addr >> self.block_shift;
        let set = &mut self.sets[(block & self.set_mask) as usize];
        let tag = block >> self.set_shift;
        let pos = set.iter().position(|e| e.tag == tag && (e.asid.is_none() || e.asid == asid));
        match pos {
            Some(i) => {
                let e = set.remove(i);
                set.insert(0, e);
                self.hits += 1;
                true
            }
            None => {
                if set.len() == self.ways {
                    set.pop();
                }
                set.insert(0, Entry { tag, asid: if global { None } else { asid } });
                self.misses += 1;
                false
            }
        }
    }

    /// Whether the block holding `addr` is present for `asid`, without changing any state.
    pub fn probe(&self, addr: u64, asid: Option<u16>) -> bool {
        let block = addr >> self.block_shift;
        let set = &self.sets[(block & self.set_mask) as usize];
        let tag = block >> self.set_shift;
        set.iter().any(|e| e.tag == tag && (e.asid.is_none() || e.asid == asid))
    }

    /// Invalidates everything.
    pub fn flush_all(&mut self) {
        for s in &mut self.sets {
            s.clear();
        }
    }

    /// Invalidates every non-global entry (what an untagged TLB does on an address-space switch).
    pub fn flush_non_global(&mut self) {
        for s in &mut self.sets {
            s.retain(|e| e.asid.is_none());
        }
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
}
