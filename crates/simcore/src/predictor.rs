//! A branch-direction predictor, simulated for the kernel branches whose direction depends on
//! which IPC operation is running (a preset's `op_branches`).
//!
//! Every other kernel branch goes the same way on every IPC of a benchmark loop and is priced as
//! a correctly predicted `branch`. These do not: in a ping-pong, Call and ReplyRecv alternate,
//! and a branch that both execute flips its direction every kernel entry. Whether the core
//! learns that depends on its predictor (the profile's `pipeline.predictor`): a 2-bit counter
//! mispredicts half or all of them, a last-direction bit all of them, a two-level predictor none
//! once its history has filled.

use crate::profile::{Predictor, PredictorKind};
use std::collections::BTreeMap;

/// The state of one branch site.
#[derive(Clone, Debug, Default)]
struct Site {
    /// The direction history (two-level), most recent outcome in bit 0.
    history: u64,
    /// The counter (bimodal) or last-direction bit, when the site has no history table.
    counter: u8,
    /// Two-level: one 2-bit counter per history pattern seen so far.
    table: BTreeMap<u64, u8>,
}

/// A branch predictor over numbered branch sites.
#[derive(Clone, Debug)]
pub struct BranchPredictor {
    kind: PredictorKind,
    history_bits: u32,
    initial: u8,
    sites: Vec<Site>,
}

impl BranchPredictor {
    /// A cold predictor of the profile's kind: every site starts in `initial_state`.
    pub fn new(p: &Predictor) -> BranchPredictor {
        BranchPredictor {
            kind: p.kind,
            history_bits: p.history_bits,
            initial: p.initial_state,
            sites: Vec::new(),
        }
    }

    fn site(&mut self, id: usize) -> &mut Site {
        if self.sites.len() <= id {
            let fresh = Site { history: 0, counter: self.initial, table: BTreeMap::new() };
            self.sites.resize(id + 1, fresh);
        }
        &mut self.sites[id]
    }

    /// Predicts branch site `id`, then trains it with the outcome `taken`. Returns true if the
    /// prediction was wrong. A predictor of kind `none` never reports a misprediction (its cost
    /// is in the `branch` class price).
    pub fn resolve(&mut self, id: usize, taken: bool) -> bool {
        let (kind, bits, initial) = (self.kind, self.history_bits, self.initial);
        let s = self.site(id);
        match kind {
            PredictorKind::None => false,
            PredictorKind::LastDirection => {
                let wrong = (s.counter == 1) != taken;
                s.counter = u8::from(taken);
                wrong
            }
            PredictorKind::Bimodal => train(&mut s.counter, taken),
            PredictorKind::TwoLevel => {
                let mask = (1u64 << bits.min(63)) - 1;
                let wrong = train(s.table.entry(s.history & mask).or_insert(initial), taken);
                s.history = ((s.history << 1) | u64::from(taken)) & mask;
                wrong
            }
        }
    }

    /// Forgets everything (a branch-predictor invalidation).
    pub fn flush(&mut self) {
        self.sites.clear();
    }
}

/// A 2-bit saturating counter: predicts taken in states 2 and 3. Returns true if it was wrong.
fn train(c: &mut u8, taken: bool) -> bool {
    let wrong = (*c >= 2) != taken;
    *c = if taken { (*c + 1).min(3) } else { c.saturating_sub(1) };
    wrong
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: PredictorKind, history_bits: u32, initial_state: u8) -> BranchPredictor {
        BranchPredictor::new(&Predictor {
            kind,
            history_bits,
            initial_state,
            flushed_by: Vec::new(),
            source: None,
            estimate: None,
        })
    }

    /// Mispredictions over the last `n` of `2n` alternating outcomes (taken first).
    fn alternating_misses(bp: &mut BranchPredictor, n: usize) -> usize {
        (0..2 * n).map(|i| bp.resolve(0, i % 2 == 0)).skip(n).filter(|w| *w).count()
    }

    #[test]
    fn strict_alternation_defeats_counters_and_last_direction_but_not_history() {
        // From weakly taken, a 2-bit counter oscillates between 2 and 3: every not-taken is wrong.
        assert_eq!(alternating_misses(&mut p(PredictorKind::Bimodal, 0, 2), 100), 50);
        // From weakly not-taken it oscillates between 1 and 2: every outcome is wrong.
        assert_eq!(alternating_misses(&mut p(PredictorKind::Bimodal, 0, 1), 100), 100);
        assert_eq!(alternating_misses(&mut p(PredictorKind::LastDirection, 0, 0), 100), 100);
        assert_eq!(alternating_misses(&mut p(PredictorKind::TwoLevel, 4, 1), 100), 0);
        assert_eq!(alternating_misses(&mut p(PredictorKind::None, 0, 0), 100), 0);
    }

    #[test]
    fn a_steady_branch_is_learnt_by_every_kind_and_flush_forgets() {
        for kind in [PredictorKind::LastDirection, PredictorKind::Bimodal, PredictorKind::TwoLevel] {
            let mut bp = p(kind, if kind == PredictorKind::TwoLevel { 2 } else { 0 }, 0);
            let misses = (0..50).filter(|_| bp.resolve(3, true)).count();
            assert!(misses <= 4, "{kind:?}: {misses}");
            bp.flush();
            assert!(bp.resolve(3, true), "{kind:?} forgot nothing");
        }
    }
}
