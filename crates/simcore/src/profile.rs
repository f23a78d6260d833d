//! Microarchitecture profiles: the hardware facts of one machine, loaded from TOML.
//!
//! Every numeric parameter is a [`Param`]: a value with either the `source` it was read in or an
//! `estimate` with its reasoning. Unknown fields are rejected, so a typo is an error, never a silently
//! ignored setting. Profiles carry hardware facts only; kernel facts live in kernel presets.

use crate::cost::Primitive;
use serde::Deserialize;
use std::collections::BTreeMap;
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
    /// Load-to-use latency of an L1 hit whose result is the next load's address (a pointer
    /// chase), in cycles: what each link of a kernel step's `load_chain` waits for.
    pub load_use: Param,
    /// 1 if the core issues instructions out of order (dynamic scheduling with renaming), 0 if it
    /// issues in order. An out-of-order core overlaps a step's load chain with its other work (the
    /// step takes the longer of the two); an in-order core waits on every link.
    pub out_of_order: Param,
    /// The conditional-branch direction predictor.
    pub predictor: Predictor,
}

/// The kinds of branch-direction predictor the cost model simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictorKind {
    /// No dynamic prediction (a fixed rule or static hint): the class price of `branch` covers
    /// it, and no branch is ever charged as mispredicted.
    None,
    /// One history bit per branch: predicts what the branch did last time.
    LastDirection,
    /// A 2-bit saturating counter per branch, no history.
    Bimodal,
    /// A two-level predictor: `history_bits` of the branch's history select a 2-bit counter, so
    /// periodic patterns (such as strict alternation) are learnt.
    TwoLevel,
}

/// A core's branch-direction predictor, with its provenance.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predictor {
    /// The kind.
    pub kind: PredictorKind,
    /// History bits of a `two_level` predictor (0 for the other kinds).
    #[serde(default)]
    pub history_bits: u32,
    /// The state a counter (0-3; 0 and 1 predict not taken) or history bit (0 or 1) starts in,
    /// and returns to when the predictor is invalidated.
    pub initial_state: u8,
    /// Primitives that invalidate the predictor as a side effect (besides `btac_flush`, which
    /// always does): e.g. the XScale's BTB is invalidated by every write of the FCSE process ID
    /// (`asid_write`).
    #[serde(default)]
    pub flushed_by: Vec<String>,
    /// Where the facts were read.
    #[serde(default)]
    pub source: Option<String>,
    /// Why they are an estimate.
    #[serde(default)]
    pub estimate: Option<String>,
}

impl Predictor {
    /// The predictor as a parameter (value: its history bits), for listings and estimate counts.
    pub fn as_param(&self) -> Param {
        Param {
            value: f64::from(self.history_bits),
            source: self.source.clone(),
            estimate: self.estimate.clone(),
        }
    }
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

/// Optional hardware features (x86 profiles; ARM profiles leave them out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Features {
    /// Global pages (x86 PGE): kernel entries survive a page-table switch.
    pub global_pages: bool,
    /// Usable process-context identifiers (x86 PCID).
    pub pcid: bool,
    /// No-execute page protection.
    pub nx: bool,
    /// SYSENTER/SYSEXIT.
    pub sysenter: bool,
    /// SYSCALL/SYSRET in 64-bit mode.
    pub syscall: bool,
}

/// The instruction-class keys every profile of an architecture family must price (`[insn]`).
pub fn insn_keys(family: Family) -> &'static [&'static str] {
    match family {
        Family::Arm => &[
            "alu",
            "mul",
            "load",
            "store",
            "branch",
            "load_multiple_base",
            "load_multiple_per_reg",
            "store_multiple_base",
            "store_multiple_per_reg",
            "coproc_read",
            "coproc_write",
            "barrier",
            "isb",
            "exception_entry",
            "exception_return",
        ],
        Family::X86 => &["alu", "mul", "load", "store", "branch"],
        // Cores l4sim cannot emulate (model-only runs): the classes their kernels' paths use, and
        // the kernel entry and return (syscall/eret, CALL_PAL/HW_REI, epc/br.ret).
        Family::ModelOnly => &[
            "alu",
            "mul",
            "load",
            "store",
            "branch",
            "coproc_read",
            "coproc_write",
            "exception_entry",
            "exception_return",
        ],
    }
}

/// Instruction classes a profile of the family may price when its kernels' paths use them:
/// `instruction_group` for EPIC cores, whose code issues in explicit groups (IA-64).
pub fn optional_insn_keys(family: Family) -> &'static [&'static str] {
    match family {
        Family::ModelOnly => &["instruction_group"],
        _ => &[],
    }
}

/// The primitive keys of an architecture family (`[primitives]`): (key, required given the features).
fn primitive_keys(family: Family, f: &Features) -> Vec<(&'static str, bool)> {
    match family {
        Family::Arm => [
            "page_table_base_write",
            "asid_write",
            "domain_write",
            "tlb_flush_all",
            "btac_flush",
            "cache_clean_invalidate_line",
            "counter_read",
        ]
        .iter()
        .map(|k| (*k, true))
        .collect(),
        Family::X86 => vec![
            ("int_entry", true),
            ("iret", true),
            ("cr3_write", true),
            ("invlpg", true),
            ("segment_load", true),
            ("counter_read", true),
            ("sysenter", f.sysenter),
            ("sysexit", f.sysenter),
            ("syscall", f.syscall),
            ("sysret", f.syscall),
            ("swapgs", f.syscall),
            ("gs_base_write", f.syscall),
            ("fs_base_write", f.syscall),
            ("fs_base_read", f.syscall),
            ("gs_base_read", f.syscall),
            ("cr0_read", true),
            ("cr0_write", true),
            ("clts", f.syscall),
            ("xsave", f.syscall),
            ("xrstor", f.syscall),
        ],
        // The address-space switch of a tagged TLB (MIPS EntryHi ASID, Alpha ASN, IA-64 region
        // register), and a whole-TLB invalidation (Alpha 21064: no ASNs in the TLB).
        Family::ModelOnly => vec![("asid_write", true), ("tlb_flush_all", true)],
    }
}

/// Architecture families, whose profiles share a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// ARMv5–v7.
    Arm,
    /// IA-32 and x86-64.
    X86,
    /// Cores that l4sim cannot emulate (MIPS64, Alpha, IA-64): their profiles price model-only
    /// runs, in which the kernel's paths run without an emulated user side.
    ModelOnly,
}

/// A microarchitecture profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Command-line name (`cortex-a9`).
    pub name: String,
    /// The machine that was modelled.
    pub machine: String,
    /// Architecture (`armv5`, `armv6`, `armv7`, or `x86`).
    pub arch: String,
    /// Guest ISAs the CPU runs (default: `[arch]`); x86 profiles list `ia32` and/or `x86_64`.
    #[serde(default)]
    pub guest_arches: Vec<String>,
    /// The Unicorn CPU model the backend runs user code on.
    pub unicorn_cpu: String,
    /// Core clock in MHz.
    pub mhz: Param,
    /// Pipeline facts.
    pub pipeline: Pipeline,
    /// Per-class instruction costs, by class name (see [`insn_keys`]).
    pub insn: BTreeMap<String, Param>,
    /// L1 instruction cache.
    pub l1i: CacheParams,
    /// L1 data cache.
    pub l1d: CacheParams,
    /// Outer cache (size 0 = none).
    pub l2: CacheParams,
    /// Third-level cache (optional; when present it carries `memory_cycles`).
    #[serde(default)]
    pub l3: Option<CacheParams>,
    /// First-level instruction TLB.
    pub itlb: TlbParams,
    /// First-level data TLB.
    pub dtlb: TlbParams,
    /// Unified main TLB (entries 0 = none).
    pub main_tlb: TlbParams,
    /// Cache organisation.
    pub cache_flags: CacheFlags,
    /// Optional features (x86).
    #[serde(default)]
    pub features: Features,
    /// Privileged primitives, by name.
    pub primitives: BTreeMap<String, Param>,
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
    /// The branch predictor appears as `pipeline.predictor.<kind>`, its value the history bits.
    pub fn params(&self) -> Vec<(String, Param)> {
        let mut v: Vec<(String, Param)> = vec![("mhz".into(), self.mhz.clone())];
        let p = &self.pipeline;
        for (n, x) in [
            ("issue_width", &p.issue_width),
            ("branch_mispredict", &p.branch_mispredict),
            ("load_use", &p.load_use),
            ("out_of_order", &p.out_of_order),
        ] {
            v.push((format!("pipeline.{n}"), x.clone()));
        }
        let kind = format!("{:?}", p.predictor.kind).to_lowercase();
        v.push((format!("pipeline.predictor.{kind}"), p.predictor.as_param()));
        for (n, x) in &self.insn {
            v.push((format!("insn.{n}"), x.clone()));
        }
        let mut levels = vec![("l1i", &self.l1i), ("l1d", &self.l1d), ("l2", &self.l2)];
        levels.extend(self.l3.as_ref().map(|c| ("l3", c)));
        for (lvl, c) in levels {
            v.push((format!("{lvl}.size_bytes"), c.size_bytes.clone()));
            v.push((format!("{lvl}.ways"), c.ways.clone()));
            v.push((format!("{lvl}.line_bytes"), c.line_bytes.clone()));
            if let Some(h) = &c.hit_cycles {
                v.push((format!("{lvl}.hit_cycles"), h.clone()));
            }
            if let Some(m) = &c.memory_cycles {
                v.push((format!("{lvl}.memory_cycles"), m.clone()));
            }
        }
        for (lvl, t) in [("itlb", &self.itlb), ("dtlb", &self.dtlb), ("main_tlb", &self.main_tlb)] {
            v.push((format!("{lvl}.entries"), t.entries.clone()));
            v.push((format!("{lvl}.ways"), t.ways.clone()));
            if let Some(m) = &t.miss_cycles {
                v.push((format!("{lvl}.miss_cycles"), m.clone()));
            }
            if let Some(w) = &t.walk_cycles {
                v.push((format!("{lvl}.walk_cycles"), w.clone()));
            }
        }
        for (n, x) in &self.primitives {
            v.push((format!("primitives.{n}"), x.clone()));
        }
        v
    }

    /// How many parameters are estimates rather than sourced.
    pub fn estimate_count(&self) -> usize {
        self.params().iter().filter(|(_, p)| p.is_estimate()).count()
    }

    /// How many estimated parameters a run that issues the privileged primitives `used` reads:
    /// every estimate except the prices of primitives the run never issues, `issue_width`
    /// (documented; the class prices already state what the issue width allows) and, on a core
    /// without a dynamic predictor, the mispredict penalty (never charged).
    pub fn estimates_used(&self, used: &[Primitive]) -> usize {
        let predicts = self.pipeline.predictor.kind != PredictorKind::None;
        self.params()
            .iter()
            .filter(|(name, p)| {
                p.is_estimate()
                    && name != "pipeline.issue_width"
                    && (predicts || name != "pipeline.branch_mispredict")
                    && name.strip_prefix("primitives.").is_none_or(|k| used.iter().any(|u| u.key() == k))
            })
            .count()
    }

    /// The architecture family.
    pub fn family(&self) -> Option<Family> {
        match self.arch.as_str() {
            "armv5" | "armv6" | "armv7" => Some(Family::Arm),
            "x86" => Some(Family::X86),
            "mips64" | "alpha" | "ia64" => Some(Family::ModelOnly),
            _ => None,
        }
    }

    /// The guest ISAs this CPU runs.
    pub fn guest_arches(&self) -> Vec<String> {
        if self.guest_arches.is_empty() {
            vec![self.arch.clone()]
        } else {
            self.guest_arches.clone()
        }
    }

    /// An instruction-class price by key.
    pub fn insn(&self, key: &str) -> Option<f64> {
        self.insn.get(key).map(|p| p.value)
    }

    /// A primitive's price by key.
    pub fn primitive(&self, key: &str) -> Option<f64> {
        self.primitives.get(key).map(|p| p.value)
    }

    fn validate(&self) -> Result<(), String> {
        let family = self.family().ok_or_else(|| {
            format!("arch `{}`: expected armv5, armv6, armv7, x86, mips64, alpha or ia64", self.arch)
        })?;
        let ikeys = insn_keys(family);
        for k in ikeys {
            if !self.insn.contains_key(*k) {
                return Err(format!(
                    "insn.{k}: missing (an {} profile prices {})",
                    self.arch,
                    ikeys.join(", ")
                ));
            }
        }
        let optional = optional_insn_keys(family);
        if let Some(k) =
            self.insn.keys().find(|k| !ikeys.contains(&k.as_str()) && !optional.contains(&k.as_str()))
        {
            return Err(format!(
                "insn.{k}: unknown instruction class for {} (known: {})",
                self.arch,
                ikeys.join(", ")
            ));
        }
        let pkeys = primitive_keys(family, &self.features);
        for (k, required) in &pkeys {
            if *required && !self.primitives.contains_key(*k) {
                return Err(format!("primitives.{k}: missing"));
            }
        }
        if let Some(k) = self.primitives.keys().find(|k| !pkeys.iter().any(|(p, req)| p == k && *req)) {
            return Err(format!(
                "primitives.{k}: not a primitive of this profile's architecture and features (known: {})",
                pkeys.iter().filter(|(_, r)| *r).map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
            ));
        }
        if family != Family::X86 && self.features != Features::default() {
            return Err("features: an x86 section; other profiles leave it out".into());
        }
        for g in self.guest_arches() {
            let ok = match family {
                Family::Arm | Family::ModelOnly => g == self.arch,
                Family::X86 => g == "ia32" || g == "x86_64",
            };
            if !ok {
                return Err(format!("guest_arches: `{g}` is not a guest ISA of {}", self.arch));
            }
        }
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
        let pl = &self.pipeline;
        if pl.out_of_order.value != 0.0 && pl.out_of_order.value != 1.0 {
            return Err("pipeline.out_of_order: 1 (out-of-order issue) or 0 (in-order)".into());
        }
        let (bits, init) = (pl.predictor.history_bits, pl.predictor.initial_state);
        let ok = match pl.predictor.kind {
            PredictorKind::None => bits == 0 && init == 0,
            PredictorKind::LastDirection => bits == 0 && init <= 1,
            PredictorKind::Bimodal => bits == 0 && init <= 3,
            PredictorKind::TwoLevel => (1..=32).contains(&bits) && init <= 3,
        };
        if !ok {
            return Err(format!(
                "pipeline.predictor: kind {:?} with history_bits {bits} and initial_state {init} \
                 (two_level takes 1-32 history bits, the others 0; counters start in 0-3, a \
                 last-direction bit in 0-1, `none` in 0)",
                pl.predictor.kind
            ));
        }
        if let Some(k) = pl.predictor.flushed_by.iter().find(|k| Primitive::from_key(k).is_none()) {
            return Err(format!("pipeline.predictor.flushed_by: unknown primitive `{k}`"));
        }
        if self.mhz.value <= 0.0 {
            return Err("mhz: must be positive".into());
        }
        let mut levels = vec![("l1i", &self.l1i), ("l1d", &self.l1d), ("l2", &self.l2)];
        levels.extend(self.l3.as_ref().map(|c| ("l3", c)));
        for (lvl, c) in levels {
            let size = c.size_bytes.as_u64();
            if size == 0 {
                if lvl == "l3" {
                    return Err("l3: leave the section out when there is no L3".into());
                }
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
                continue;
            }
            let ways = if t.ways.as_u64() == 0 { n } else { t.ways.as_u64() };
            if n % ways != 0 || !(n / ways).is_power_of_two() {
                return Err(format!("{lvl}: {n} entries / {ways} ways is not a power-of-two set count"));
            }
        }
        // One TLB level may be unified (the i486's single TLB): then both first-level TLBs are
        // absent and the main TLB serves every lookup.
        match (self.itlb.entries.as_u64() == 0, self.dtlb.entries.as_u64() == 0) {
            (false, false) => {}
            (true, true) if self.main_tlb.entries.as_u64() > 0 => {}
            (true, true) => return Err("itlb/dtlb: without first-level TLBs a main TLB is required".into()),
            _ => {
                return Err("itlb/dtlb: either both first-level TLBs exist or neither (a unified TLB)".into())
            }
        }
        if let Some(l3) = &self.l3 {
            if self.l2.size_bytes.as_u64() == 0 {
                return Err("l3: an L3 needs an L2".into());
            }
            if self.l2.memory_cycles.is_some() || self.l1d.memory_cycles.is_some() {
                return Err("memory_cycles belongs on the last cache level (l3)".into());
            }
            if l3.memory_cycles.is_none() {
                return Err("l3.memory_cycles is required when there is an L3".into());
            }
            if l3.hit_cycles.is_none() || self.l2.hit_cycles.is_none() {
                return Err("l2.hit_cycles and l3.hit_cycles are required with an L3".into());
            }
            return Ok(());
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
        let l3 = self.l3.as_ref().and_then(|c| c.memory_cycles.as_ref());
        l3.or(self.l2.memory_cycles.as_ref()).or(self.l1d.memory_cycles.as_ref()).map_or(0.0, |p| p.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A9: &str = include_str!("../../../fixtures/profiles/cortex-a9.toml");

    fn err(text: &str) -> String {
        Profile::from_toml(text, "t").unwrap_err().to_string()
    }

    #[test]
    fn every_built_in_arm_profile_parses_and_counts_its_estimates() {
        let p = Profile::from_toml(A9, "a9").unwrap();
        assert_eq!(p.family(), Some(Family::Arm));
        assert!(p.estimate_count() > 0 && p.estimate_count() < p.params().len());
        assert_eq!(p.guest_arches(), vec!["armv7".to_string()]);
    }

    #[test]
    fn an_unknown_instruction_class_or_primitive_is_rejected() {
        let t = A9.replace("[insn]\n", "[insn]\nfma = { value = 1.0, source = \"x\" }\n");
        assert!(err(&t).contains("insn.fma: unknown instruction class"), "{}", err(&t));
        let t = A9.replace("[primitives]\n", "[primitives]\nsysenter = { value = 1.0, source = \"x\" }\n");
        assert!(err(&t).contains("primitives.sysenter"), "{}", err(&t));
    }

    #[test]
    fn a_missing_primitive_or_provenance_is_rejected() {
        let t: String = A9.lines().filter(|l| !l.starts_with("counter_read")).collect::<Vec<_>>().join("\n");
        assert!(err(&t).contains("primitives.counter_read: missing"));
        let t = A9.replacen("source = ", "sauce = ", 1);
        assert!(err(&t).contains("invalid profile"));
    }

    #[test]
    fn x86_features_decide_which_primitives_are_required_and_arm_profiles_have_none() {
        let t = A9.replace("[primitives]\n", "[features]\nsysenter = true\n\n[primitives]\n");
        assert!(err(&t).contains("features"), "{}", err(&t));
        let t = A9.replace("arch = \"armv7\"", "arch = \"mips\"");
        assert!(err(&t).contains("arch `mips`"));
    }
}
