//! The paper's Table I, reproduced: every row's kernel (a preset) on its machine (a profile),
//! simulated and set side by side with the published figure.
//!
//! The rows and their published cycles are `fixtures/table1.csv` (Heiser & Elphinstone, TOCS 2016,
//! Table I); which preset, profile and guest ISA stand for each row is `fixtures/table1-runs.toml`.
//! A row whose preset or profile is not built in is reported as not modelled, with the reason:
//! never with a number.

use crate::builtin;
use crate::ipc::{self, IpcConfig};
use crate::system::SystemConfig;
use crate::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use simcore::Breakdown;
use std::fmt::Write as _;

/// Round trips measured per row (after the warm-up); the run is deterministic.
const SAMPLES: u32 = 16;
/// Warm-up round trips per row.
const WARMUP: u32 = 16;
/// Kernel-text placements tried for the layout spread: 8 offsets 7 cache lines (of 64 bytes)
/// apart, so that the paths fall into different sets of every profile's caches.
const LAYOUT_STEP: u64 = 7 * 64;
const LAYOUTS: u64 = 8;

/// One row of the paper's Table I.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperRow {
    /// Kernel (`Original`, `seL4`, ...).
    pub kernel: String,
    /// Year of the measurement.
    pub year: u32,
    /// Architecture as the paper names it.
    pub architecture: String,
    /// Processor as the paper names it.
    pub processor: String,
    /// Clock in MHz.
    pub mhz: f64,
    /// Published one-way IPC cycles: lowest.
    pub cycles_low: u64,
    /// Published one-way IPC cycles: highest (equal to `cycles_low` unless the paper gives a range).
    pub cycles_high: u64,
    /// The paper's note, if any.
    pub note: String,
}

/// How a row is reproduced (`fixtures/table1-runs.toml`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The paper's kernel name (matches [`PaperRow::kernel`]).
    pub kernel: String,
    /// The paper's processor name (matches [`PaperRow::processor`]).
    pub processor: String,
    /// Built-in kernel preset.
    pub preset: String,
    /// Built-in profile.
    pub profile: String,
    /// Guest ISA.
    pub arch: String,
    /// What a reader should know about the published figure, with its source.
    #[serde(default)]
    pub remark: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    row: Vec<RunSpec>,
}

/// How a row's figure was obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// The ping-pong ran as machine code on the emulated CPU.
    Emulated,
    /// The CPU cannot be emulated: the kernel's paths ran with a scripted user side.
    ModelOnly,
    /// Not simulated yet; the reason says what is missing.
    NotModelled(String),
}

impl RunKind {
    /// `emulated`, `model-only` or `not-modelled`.
    pub fn name(&self) -> &'static str {
        match self {
            RunKind::Emulated => "emulated",
            RunKind::ModelOnly => "model-only",
            RunKind::NotModelled(_) => "not-modelled",
        }
    }
}

/// A simulated row.
#[derive(Clone, Debug)]
pub struct Row {
    /// The published row.
    pub paper: PaperRow,
    /// How it is reproduced.
    pub spec: RunSpec,
    /// How the figure was obtained.
    pub kind: RunKind,
    /// The simulated run, when there is one.
    pub result: Option<Simulated>,
}

/// The simulated figures of a row.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// One-way IPC (the median Call), cycles.
    pub cycles: u64,
    /// Its breakdown by category.
    pub breakdown: Breakdown,
    /// Estimated parameters used: the profile's and the preset's steps for this ISA.
    pub estimated_parameters: usize,
    /// Kernel entry and exit primitives.
    pub kernel_entry: String,
    /// TLB policy on an address-space switch.
    pub tlb_policy: String,
    /// Lowest and highest one-way cycles over the kernel-text placements tried (the figure above
    /// is the first placement's): how much the row depends on where the paths fall in the caches.
    pub layout_range: (u64, u64),
}

impl Row {
    /// Error against the paper in percent: 0 inside a published range, else against the nearer
    /// end of it. `None` when the row was not simulated.
    pub fn error_percent(&self) -> Option<f64> {
        let s = self.result.as_ref()?.cycles as f64;
        let (lo, hi) = (self.paper.cycles_low as f64, self.paper.cycles_high as f64);
        let e = if s < lo {
            (s - lo) / lo
        } else if s > hi {
            (s - hi) / hi
        } else {
            0.0
        };
        Some((e * 1000.0).round() / 10.0)
    }

    /// The paper's hardware limit of this IPC as simulated: two mode switches, a page-table
    /// switch, and saving and restoring the user-visible state.
    pub fn hardware_limit(&self) -> Option<u64> {
        self.result.as_ref().map(|r| r.breakdown.hardware_limit())
    }
}

/// Parses the paper's table (the CSV of `fixtures/table1.csv`).
pub fn paper_rows(csv: &str) -> Result<Vec<PaperRow>, Error> {
    let bad = |line: usize, msg: &str| Error::Invalid(format!("table1.csv line {line}: {msg}"));
    let mut rows = Vec::new();
    for (i, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 9 {
            return Err(bad(i + 1, &format!("{} fields, expected 9", f.len())));
        }
        let num = |s: &str, what: &str| {
            s.trim().parse::<f64>().map_err(|_| bad(i + 1, &format!("bad {what} `{s}`")))
        };
        rows.push(PaperRow {
            kernel: f[0].into(),
            year: num(f[1], "year")? as u32,
            architecture: f[2].into(),
            processor: f[3].into(),
            mhz: num(f[4], "mhz")?,
            cycles_low: num(f[5], "cycles_low")? as u64,
            cycles_high: num(f[6], "cycles_high")? as u64,
            note: f[8].into(),
        });
    }
    Ok(rows)
}

/// Parses the run mapping (`fixtures/table1-runs.toml`).
pub fn run_specs(toml_text: &str) -> Result<Vec<RunSpec>, Error> {
    let f: RunFile =
        toml::from_str(toml_text).map_err(|e| Error::Invalid(format!("table1-runs.toml: {e}")))?;
    Ok(f.row)
}

/// Why a row cannot be simulated with the built-in data, if it cannot.
fn missing(spec: &RunSpec) -> Option<String> {
    let mut why = Vec::new();
    if builtin::preset(&spec.preset).is_none() {
        why.push(format!("no built-in kernel preset `{}`", spec.preset));
    }
    if builtin::profile(&spec.profile).is_none() {
        why.push(format!("no built-in profile `{}`", spec.profile));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Simulates one row.
fn simulate(spec: &RunSpec) -> Result<(RunKind, Simulated), Error> {
    let run_at = |offset: u64| -> Result<ipc::IpcResult, Error> {
        let mut system = SystemConfig::builtin(&spec.arch, &spec.profile, &spec.preset)?;
        system.kernel_text_offset = offset;
        ipc::run(&IpcConfig { system, samples: SAMPLES, warmup: WARMUP, speed_rounds: 0 })
    };
    let r = run_at(0)?;
    let mut layout_range = (r.call.median, r.call.median);
    for i in 1..LAYOUTS {
        let m = run_at(i * LAYOUT_STEP)?.call.median;
        layout_range = (layout_range.0.min(m), layout_range.1.max(m));
    }
    let kind = match r.run_kind {
        ipc::RunKind::Emulated => RunKind::Emulated,
        ipc::RunKind::ModelOnly => RunKind::ModelOnly,
    };
    Ok((
        kind,
        Simulated {
            cycles: r.call.median,
            breakdown: r.call.breakdown,
            estimated_parameters: r.profile_estimates + r.preset_estimates,
            kernel_entry: r.kernel_entry,
            tlb_policy: r.tlb_policy,
            layout_range,
        },
    ))
}

/// Simulates every row of the built-in table. A row that cannot run for lack of a preset or a
/// profile is reported as not modelled; any other failure is an error.
pub fn run() -> Result<Vec<Row>, Error> {
    let paper = paper_rows(builtin::TABLE1_CSV)?;
    let specs = run_specs(builtin::TABLE1_RUNS)?;
    let mut rows = Vec::with_capacity(paper.len());
    for p in paper {
        let spec = specs
            .iter()
            .find(|s| s.kernel == p.kernel && s.processor == p.processor)
            .cloned()
            .ok_or_else(|| {
                Error::Invalid(format!("table1-runs.toml has no entry for {} on {}", p.kernel, p.processor))
            })?;
        let (kind, result) = match missing(&spec) {
            Some(why) => (RunKind::NotModelled(why), None),
            None => {
                let (kind, sim) = simulate(&spec)?;
                (kind, Some(sim))
            }
        };
        rows.push(Row { paper: p, spec, kind, result });
    }
    Ok(rows)
}

fn paper_cycles_json(p: &PaperRow) -> Value {
    if p.cycles_low == p.cycles_high {
        json!(p.cycles_low)
    } else {
        json!([p.cycles_low, p.cycles_high])
    }
}

fn paper_cycles_text(p: &PaperRow) -> String {
    if p.cycles_low == p.cycles_high {
        p.cycles_low.to_string()
    } else {
        format!("{}-{}", p.cycles_low, p.cycles_high)
    }
}

/// The rows as JSON: a list with the keys the CLI documents.
pub fn to_json(rows: &[Row]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                let s = r.result.as_ref();
                let mut v = json!({
                    "kernel": r.paper.kernel,
                    "year": r.paper.year,
                    "machine": r.paper.processor,
                    "architecture": r.paper.architecture,
                    "mhz": r.paper.mhz,
                    "paper_cycles": paper_cycles_json(&r.paper),
                    "simulated_cycles": s.map(|s| s.cycles),
                    "error_percent": r.error_percent(),
                    "run_kind": r.kind.name(),
                    "preset": r.spec.preset,
                    "profile": r.spec.profile,
                    "arch": r.spec.arch,
                    "estimated_parameters": s.map(|s| s.estimated_parameters),
                    "hardware_limit": r.hardware_limit(),
                    "overhead_over_hardware_limit": s.map(|s| s.cycles - s.breakdown.hardware_limit()),
                    "kernel_entry": s.map(|s| s.kernel_entry.clone()),
                    "tlb_policy": s.map(|s| s.tlb_policy.clone()),
                    "layout_range": s.map(|s| [s.layout_range.0, s.layout_range.1]),
                    "breakdown": s.map(|s| {
                        Value::Object(s.breakdown.entries().map(|(k, c)| (k.to_string(), json!(c))).collect())
                    }),
                });
                if let RunKind::NotModelled(why) = &r.kind {
                    v["not_modelled"] = json!(why);
                }
                if let Some(remark) = &r.spec.remark {
                    v["remark"] = json!(remark);
                }
                v
            })
            .collect(),
    )
}

/// The rows as CSV, breakdown categories as columns (empty cells where a row was not simulated).
pub fn to_csv(rows: &[Row]) -> String {
    let cats: Vec<&str> = Breakdown::default().entries().map(|(k, _)| k).collect();
    let mut out = String::from(
        "kernel,machine,mhz,paper_cycles,simulated_cycles,error_percent,run_kind,estimated_parameters,hardware_limit,overhead,layout_min,layout_max",
    );
    for c in &cats {
        let _ = write!(out, ",{c}");
    }
    out.push('\n');
    for r in rows {
        let s = r.result.as_ref();
        let opt = |v: Option<String>| v.unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.paper.kernel,
            r.paper.processor,
            r.paper.mhz,
            paper_cycles_text(&r.paper),
            opt(s.map(|s| s.cycles.to_string())),
            opt(r.error_percent().map(|e| format!("{e:.1}"))),
            r.kind.name(),
            opt(s.map(|s| s.estimated_parameters.to_string())),
            opt(r.hardware_limit().map(|h| h.to_string())),
            opt(s.map(|s| (s.cycles - s.breakdown.hardware_limit()).to_string())),
            opt(s.map(|s| s.layout_range.0.to_string())),
            opt(s.map(|s| s.layout_range.1.to_string())),
        );
        for c in &cats {
            let v = s.and_then(|s| s.breakdown.entries().find(|(k, _)| k == c).map(|(_, v)| v));
            let _ = write!(out, ",{}", opt(v.map(|v| v.to_string())));
        }
        out.push('\n');
    }
    out
}

/// The rows as an aligned table for people, with the reasons for rows not modelled below it.
pub fn to_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "Table I of Heiser & Elphinstone (TOCS 2016): one-way IPC, the paper's cycles against l4sim's\n\n",
    );
    let _ = writeln!(
        out,
        "{:<10} {:<24} {:>5} {:>7} {:>9} {:>7} {:<12} {:>4} {:>6} {:>6} {:>9}",
        "kernel", "machine", "MHz", "paper", "simulated", "error", "run", "est", "hwlim", "over", "layout"
    );
    let mut notes = Vec::new();
    for r in rows {
        let s = r.result.as_ref();
        let dash = || "-".to_string();
        let _ = writeln!(
            out,
            "{:<10} {:<24} {:>5} {:>7} {:>9} {:>7} {:<12} {:>4} {:>6} {:>6} {:>9}",
            r.paper.kernel,
            r.paper.processor,
            r.paper.mhz,
            paper_cycles_text(&r.paper),
            s.map_or_else(dash, |s| s.cycles.to_string()),
            r.error_percent().map_or_else(dash, |e| format!("{e:+.1}%")),
            r.kind.name(),
            s.map_or_else(dash, |s| s.estimated_parameters.to_string()),
            r.hardware_limit().map_or_else(dash, |h| h.to_string()),
            s.map_or_else(dash, |s| (s.cycles - s.breakdown.hardware_limit()).to_string()),
            s.map_or_else(dash, |s| format!("{}-{}", s.layout_range.0, s.layout_range.1)),
        );
        if let RunKind::NotModelled(why) = &r.kind {
            notes.push(format!("{} on {}: not modelled ({why})", r.paper.kernel, r.paper.processor));
        }
    }
    let within = rows.iter().filter(|r| r.error_percent().is_some_and(|e| e.abs() <= 10.0)).count();
    let simulated = rows.iter().filter(|r| r.result.is_some()).count();
    let _ = writeln!(
        out,
        "\n{simulated} of {} rows simulated; {within} within 10% of the paper. est = estimated parameters \
         used (profile + preset); hwlim = the hardware limit (2 mode switches, page-table switch, user \
         state save/restore); over = cycles above it; layout = lowest-highest cycles over 8 placements of \
         the kernel's text (how much the row depends on where its paths fall in the caches).",
        rows.len()
    );
    for r in rows {
        if let Some(s) = &r.result {
            let parts: Vec<String> =
                s.breakdown.entries().filter(|(_, c)| *c > 0).map(|(k, c)| format!("{k} {c}")).collect();
            let _ = writeln!(
                out,
                "  {} on {} ({}; {}): {}",
                r.paper.kernel,
                r.paper.processor,
                s.kernel_entry,
                s.tlb_policy,
                parts.join(", ")
            );
        }
    }
    for n in notes {
        let _ = writeln!(out, "  {n}");
    }
    for r in rows {
        if let Some(remark) = &r.spec.remark {
            let _ = writeln!(out, "  note, {} on {}: {remark}", r.paper.kernel, r.paper.processor);
        }
    }
    out
}
