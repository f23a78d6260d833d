//! Microarchitecture profiles: the hardware facts of one machine, loaded from TOML.
//!
//! Every numeric parameter is a [`Param`]: a value with either the `source` it was read in or an
//! `estimate` with its reasoning. Unknown fields are rejected, so a typo is an error, never a silently
//! ignored setting. Profiles carry hardware facts only; kernel facts live in kernel presets.

use serde::Deserialize;
use std::path::Path;

/// A numeric hardware parameter with its provenance.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// The value (cycles, bytes, entries, MHz: the field's documentation says which).
    pub value: f64,
    /// Where the value was read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why the value is an estimate and how it was reasoned.
    #[serde(default)]
    pub estimate: Option<String>,
}

impl Param {
    /// True if the value is an estimate rather than sourced.
    pub fn is_estimate(&self) -> bool {
        self.estimate.is_some()
    }

    /// The value as an unsigned integer (sizes, counts).
    pub fn as_u64(&self) -> u64 {
        if self.value.is_finite() && self.value > 0.0 {
            self.value as u64
        } else {
            0
        }
    }

    /// The provenance text: the source, or `estimate: reasoning`.
    pub fn provenance(&self) -> String {
        match (&self.source, &self.estimate) {
            (Some(s), _) => s.clone(),
            (None, Some(e)) => format!("estimate: {e}"),
            (None, None) => String::new(),
        }
    }
}

/// Pipeline facts.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Instructions issued per cycle at best.
    pub issue_width: Param,
    /// Branch mispredict penalty in cycles.
    pub branch_mispredict: Param,
    /// Load-to-use latency (L1 hit) in cycles.
    pub load_use: Param,
}

/// Cycles charged per instruction of each class.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsnCosts {
    /// Integer ALU instruction.
    pub alu: Param,
    /// Multiply.
    pub mul: Param,
    /// Load (L1 hit).
    pub load: Param,
    /// Store.
    pub store: Param,
    /// Correctly predicted branch.
    pub branch: Param,
    /// Load-multiple, fixed part.
    pub load_multiple_base: Param,
    /// Load-multiple, per register.
    pub load_multiple_per_reg: Param,
    /// Store-multiple, fixed part.
    pub store_multiple_base: Param,
    /// Store-multiple, per register.
    pub store_multiple_per_reg: Param,
    /// Coprocessor / system register read.
    pub coproc_read: Param,
    /// Coprocessor / system register write.
    pub coproc_write: Param,
    /// Data synchronisation barrier / write-buffer drain.
    pub barrier: Param,
    /// Instruction barrier / prefetch flush.
    pub isb: Param,
    /// Exception entry from user mode (not register saving).
    pub exception_entry: Param,
    /// Exception return to user mode (not register restoring).
    pub exception_return: Param,
}

/// A cache level.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheParams {
    /// Capacity in bytes (0 = absent).
    pub size_bytes: Param,
    /// Associativity (0 = fully associative).
    pub ways: Param,
    /// Line size in bytes.
    pub line_bytes: Param,
    /// Extra cycles of a hit at this level (for L1: beyond the instruction's class cost).
    #[serde(default)]
    pub hit_cycles: Option<Param>,
    /// Penalty of a miss to memory (outermost level only).
    #[serde(default)]
    pub memory_cycles: Option<Param>,
}

/// A TLB level.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlbParams {
    /// Entries (0 = absent).
    pub entries: Param,
    /// Associativity (0 = fully associative).
    pub ways: Param,
    /// Whether entries are tagged with an ASID (no flush needed on an address-space switch).
    pub asid_tagged: bool,
    /// First-level TLBs: penalty when missing here and hitting the main TLB (not charged when the
    /// machine has no main TLB: then a miss costs the main TLB's `walk_cycles` plus the descriptor reads).
    #[serde(default)]
    pub miss_cycles: Option<Param>,
    /// Last-level TLB: fixed overhead of a hardware walk beyond its descriptor fetches.
    #[serde(default)]
    pub walk_cycles: Option<Param>,
}

/// Cache organisation flags.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheFlags {
    /// L1 caches are virtually indexed and virtually tagged without an ASID.
    pub virtually_tagged: bool,
}

/// Costs of privileged primitives.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Primitives {
    /// Writing the page-table base register (without barriers).
    pub page_table_base_write: Param,
    /// Writing the ASID / context-ID / FCSE PID register.
    pub asid_write: Param,
    /// Writing the domain access control register.
    pub domain_write: Param,
    /// Invalidating the whole TLB.
    pub tlb_flush_all: Param,
    /// Invalidating the branch predictor.
    pub btac_flush: Param,
    /// Cleaning and invalidating one D-cache line.
    pub cache_clean_invalidate_line: Param,
    /// Reading the cycle counter.
    pub counter_read: Param,
}

/// A microarchitecture profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Command-line name (`cortex-a9`).
    pub name: String,
    /// The machine that was modelled.
    pub machine: String,
    /// Architecture family (`armv5`, `armv6`, `armv7`, ...).
    pub arch: String,
    /// The Unicorn CPU model the backend runs user code on.
    pub unicorn_cpu: String,
    /// Core clock in MHz.
    pub mhz: Param,
    /// Pipeline facts.
    pub pipeline: Pipeline,
    /// Per-class instruction costs.
    pub insn: InsnCosts,
    /// L1 instruction cache.
    pub l1i: CacheParams,
    /// L1 data cache.
    pub l1d: CacheParams,
    /// Outer cache (size 0 = none).
    pub l2: CacheParams,
    /// First-level instruction TLB.
    pub itlb: TlbParams,
    /// First-level data TLB.
    pub dtlb: TlbParams,
    /// Unified main TLB (entries 0 = none).
    pub main_tlb: TlbParams,
    /// Cache organisation.
    pub cache_flags: CacheFlags,
    /// Privileged primitives.
    pub primitives: Primitives,
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        err: std::io::Error,
    },
    /// The TOML did not parse or did not match the schema.
    #[error("invalid profile {path}: {msg}")]
    Parse {
        /// The file (or `<string>`).
        path: String,
        /// What was wrong.
        msg: String,
    },
    /// A parameter broke a rule (no provenance, both, negative, inconsistent geometry).
    #[error("invalid profile {path}: {msg}")]
    Invalid {
        /// The file (or `<string>`).
        path: String,
        /// What was wrong.
        msg: String,
    },
}

impl Profile {
    /// Parses and validates a profile from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text)
            .map_err(|e| ProfileError::Parse { path: origin.to_string(), msg: e.to_string() })?;
        p.validate().map_err(|msg| ProfileError::Invalid { path: origin.to_string(), msg })?;
        Ok(p)
    }

    /// Loads a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ProfileError::Io { path: path.display().to_string(), err })?;
        Profile::from_toml(&text, &path.display().to_string())
    }

    /// Every numeric parameter with its dotted name, in file order.
    pub fn params(&self) -> Vec<(String, &Param)> {
        let mut v: Vec<(String, &Param)> = vec![("mhz".into(), &self.mhz)];
        let p = &self.pipeline;
        for (n, x) in [
            ("issue_width", &p.issue_width),
            ("branch_mispredict", &p.branch_mispredict),
            ("load_use", &p.load_use),
        ] {
            v.push((format!("pipeline.{n}"), x));
        }
        let i = &self.insn;
        for (n, x) in [
            ("alu", &i.alu),
            ("mul", &i.mul),
            ("load", &i.load),
            ("store", &i.store),
            ("branch", &i.branch),
            ("load_multiple_base", &i.load_multiple_base),
            ("load_multiple_per_reg", &i.load_multiple_per_reg),
            ("store_multiple_base", &i.store_multiple_base),
            ("store_multiple_per_reg", &i.store_multiple_per_reg),
            ("coproc_read", &i.coproc_read),
            ("coproc_write", &i.coproc_write),
            ("barrier", &i.barrier),
            ("isb", &i.isb),
            ("exception_entry", &i.exception_entry),
            ("exception_return", &i.exception_return),
        ] {
            v.push((format!("insn.{n}"), x));
        }
        for (lvl, c) in [("l1i", &self.l1i), ("l1d", &self.l1d), ("l2", &self.l2)] {
            v.push((format!("{lvl}.size_bytes"), &c.size_bytes));
            v.push((format!("{lvl}.ways"), &c.ways));
            v.push((format!("{lvl}.line_bytes"), &c.line_bytes));
            if let Some(h) = &c.hit_cycles {
                v.push((format!("{lvl}.hit_cycles"), h));
            }
            if let Some(m) = &c.memory_cycles {
                v.push((format!("{lvl}.memory_cycles"), m));
            }
        }
        for (lvl, t) in [("itlb", &self.itlb), ("dtlb", &self.dtlb), ("main_tlb", &self.main_tlb)] {
            v.push((format!("{lvl}.entries"), &t.entries));
            v.push((format!("{lvl}.ways"), &t.ways));
            if let Some(m) = &t.miss_cycles {
                v.push((format!("{lvl}.miss_cycles"), m));
            }
            if let Some(w) = &t.walk_cycles {
                v.push((format!("{lvl}.walk_cycles"), w));
            }
        }
        let r = &self.primitives;
        for (n, x) in [
            ("page_table_base_write", &r.page_table_base_write),
            ("asid_write", &r.asid_write),
            ("domain_write", &r.domain_write),
            ("tlb_flush_all", &r.tlb_flush_all),
            ("btac_flush", &r.btac_flush),
            ("cache_clean_invalidate_line", &r.cache_clean_invalidate_line),
            ("counter_read", &r.counter_read),
        ] {
            v.push((format!("primitives.{n}"), x));
        }
        v
    }

    /// How many parameters are estimates rather than sourced.
    pub fn estimate_count(&self) -> usize {
        self.params().iter().filter(|(_, p)| p.is_estimate()).count()
    }

    fn validate(&self) -> Result<(), String> {
        for (name, p) in self.params() {
            match (&p.source, &p.estimate) {
                (Some(_), Some(_)) => {
                    return Err(format!("{name}: give either `source` or `estimate`, not both"))
                }
                (None, None) => return Err(format!("{name}: every value needs a `source` or an `estimate`")),
                _ => {}
            }
            if !p.value.is_finite() || p.value < 0.0 {
                return Err(format!("{name}: value {} must be a finite number >= 0", p.value));
            }
        }
        if self.mhz.value <= 0.0 {
            return Err("mhz: must be positive".into());
        }
        for (lvl, c) in [("l1i", &self.l1i), ("l1d", &self.l1d), ("l2", &self.l2)] {
            let size = c.size_bytes.as_u64();
            if size == 0 {
                if lvl != "l2" {
                    return Err(format!("{lvl}: an L1 cache must have a size"));
                }
                continue;
            }
            let line = c.line_bytes.as_u64();
            if !line.is_power_of_two() || line < 4 {
                return Err(format!("{lvl}.line_bytes: {line} is not a power of two >= 4"));
            }
            let lines = size / line;
            let ways = if c.ways.as_u64() == 0 { lines } else { c.ways.as_u64() };
            if lines == 0 || lines % ways != 0 || !(lines / ways).is_power_of_two() {
                return Err(format!(
                    "{lvl}: {size} bytes / {line}-byte lines / {ways} ways is not a power-of-two set count"
                ));
            }
        }
        for (lvl, t) in [("itlb", &self.itlb), ("dtlb", &self.dtlb), ("main_tlb", &self.main_tlb)] {
            let n = t.entries.as_u64();
            if n == 0 {
                if lvl != "main_tlb" {
                    return Err(format!("{lvl}: a first-level TLB must have entries"));
                }
                continue;
            }
            let ways = if t.ways.as_u64() == 0 { n } else { t.ways.as_u64() };
            if n % ways != 0 || !(n / ways).is_power_of_two() {
                return Err(format!("{lvl}: {n} entries / {ways} ways is not a power-of-two set count"));
            }
        }
        if self.l2.size_bytes.as_u64() > 0 && self.l2.memory_cycles.is_none() {
            return Err("l2.memory_cycles is required when there is an L2".into());
        }
        if self.l2.size_bytes.as_u64() == 0
            && self.l1d.memory_cycles.is_none()
            && self.l2.memory_cycles.is_none()
        {
            return Err("memory_cycles is required (on l2, or on l1d when there is no L2)".into());
        }
        Ok(())
    }

    /// Memory latency beyond the last cache level, in cycles.
    pub fn memory_cycles(&self) -> f64 {
        self.l2.memory_cycles.as_ref().or(self.l1d.memory_cycles.as_ref()).map_or(0.0, |p| p.value)
    }
}
