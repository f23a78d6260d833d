//! Output formats: a table for people, JSON and CSV for programs. Data goes to stdout; only the
//! `host` part of a result depends on the machine running the simulation.

use crate::ipc::{IpcResult, RunKind, Stats};
use serde_json::{json, Map, Value};
use simcore::{Breakdown, Category};
use std::fmt::Write as _;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// JSON for programs.
    Json,
    /// CSV for spreadsheets.
    Csv,
}

fn breakdown_json(b: &Breakdown) -> Value {
    let mut m = Map::new();
    for (name, c) in b.entries() {
        m.insert(name.into(), json!(c));
    }
    Value::Object(m)
}

fn stats_json(s: &Stats, mhz: f64) -> Value {
    json!({
        "hardware_limit": s.breakdown.hardware_limit(),
        "median": s.median,
        "min": s.min,
        "max": s.max,
        "median_ns": (s.median as f64 * 1000.0 / mhz * 100.0).round() / 100.0,
        "breakdown": breakdown_json(&s.breakdown),
    })
}

/// The result as a JSON value. `host` is omitted when `with_host` is false, which makes the
/// output byte-identical across runs.
pub fn ipc_json(r: &IpcResult, with_host: bool) -> Value {
    let mut v = json!({
        "arch": r.arch,
        "uarch": r.uarch,
        "machine": r.machine,
        "mhz": r.mhz,
        "kernel": r.kernel,
        "fastpath": r.fastpath,
        "run_kind": r.run_kind.name(),
        "kernel_entry": r.kernel_entry,
        "tlb_policy": r.tlb_policy,
        "samples": r.samples,
        "warmup": r.warmup,
        "counter_overhead": r.counter_overhead,
        "call": stats_json(&r.call, r.mhz),
        "reply": stats_json(&r.reply, r.mhz),
        "breakdown": breakdown_json(&r.call.breakdown),
        "hardware_limit": r.call.breakdown.hardware_limit(),
        "paths": {
            "fastpath_call": r.paths.0,
            "fastpath_reply_recv": r.paths.1,
            "slowpath": r.paths.2,
        },
        "estimated_parameters": {
            "profile": r.profile_estimates,
            "preset": r.preset_estimates,
        },
    });
    if with_host {
        v["host"] = json!({
            "seconds": r.host.seconds,
            "ipcs": r.host.ipcs,
            "ipcs_per_second": r.host.ipcs_per_second.round(),
        });
    }
    v
}

/// The result as CSV: one row per direction, breakdown categories as columns.
pub fn ipc_csv(r: &IpcResult, with_host: bool) -> String {
    let mut out = String::from("arch,uarch,kernel,mhz,run_kind,direction,median,min,max");
    for c in Category::ALL {
        out.push(',');
        out.push_str(c.name());
    }
    if with_host {
        out.push_str(",host_ipcs_per_second");
    }
    out.push('\n');
    for (dir, s) in [("call", &r.call), ("reply", &r.reply)] {
        let _ = write!(
            out,
            "{},{},{},{},{},{dir},{},{},{}",
            r.arch,
            r.uarch,
            r.kernel,
            r.mhz,
            r.run_kind.name(),
            s.median,
            s.min,
            s.max
        );
        for c in Category::ALL {
            let _ = write!(out, ",{}", s.breakdown.get(c));
        }
        if with_host {
            let _ = write!(out, ",{:.0}", r.host.ipcs_per_second);
        }
        out.push('\n');
    }
    out
}

/// The result as a table for people.
pub fn ipc_table(r: &IpcResult, with_host: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "One-way IPC, {} kernel on {} ({}, {} MHz), {} guests",
        r.kernel, r.uarch, r.machine, r.mhz, r.arch
    );
    let _ = writeln!(o, "kernel entry/exit: {}; TLBs: {}", r.kernel_entry, r.tlb_policy);
    match r.run_kind {
        RunKind::Emulated => {
            let _ = writeln!(
                o,
                "measured as sel4bench does: {} samples after {} warm-up round trips, counter overhead {} cycles subtracted",
                r.samples, r.warmup, r.counter_overhead
            );
        }
        RunKind::ModelOnly => {
            let _ = writeln!(
                o,
                "MODEL-ONLY run (this CPU cannot be emulated): the kernel's paths on the cost model, the user side \
                 scripted; {} samples after {} warm-up round trips",
                r.samples, r.warmup
            );
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{:<8} {:>8} {:>8} {:>8} {:>10}", "", "median", "min", "max", "median ns");
    for (dir, s) in [("call", &r.call), ("reply", &r.reply)] {
        let ns = s.median as f64 * 1000.0 / r.mhz;
        let _ = writeln!(o, "{:<8} {:>8} {:>8} {:>8} {:>10.1}", dir, s.median, s.min, s.max, ns);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Where the median call's {} cycles go:", r.call.median);
    for c in Category::ALL {
        let v = r.call.breakdown.get(c);
        let pct = if r.call.median > 0 { 100.0 * v as f64 / r.call.median as f64 } else { 0.0 };
        let _ = writeln!(o, "  {:<22} {:>6} {:>5.1}%  {}", c.name(), v, pct, c.describe());
    }
    let hl = r.call.breakdown.hardware_limit();
    let over = if hl > 0 { 100.0 * (r.call.median as f64 - hl as f64) / hl as f64 } else { 0.0 };
    let _ = writeln!(
        o,
        "  hardware limit (2 mode switches, page-table switch, user state save/restore): {hl} cycles; \
         the call is {over:.0}% above it"
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "kernel paths: {} fastpath Call, {} fastpath ReplyRecv, {} slowpath syscalls (fastpath {})",
        r.paths.0,
        r.paths.1,
        r.paths.2,
        if r.fastpath { "on" } else { "off" }
    );
    let _ = writeln!(
        o,
        "estimated parameters this IPC depends on: {} of the profile's, {} of the preset's (see `l4sim model show {}` and `l4sim model show {}`)",
        r.profile_estimates, r.preset_estimates, r.uarch, r.kernel
    );
    if with_host {
        let _ = writeln!(
            o,
            "host: {} simulated one-way IPCs in {:.3} s = {:.0} IPCs per second",
            r.host.ipcs, r.host.seconds, r.host.ipcs_per_second
        );
    }
    o
}

/// `[S]` and the source, or `[E]` and the estimate's reasoning (a preset entry has exactly one).
fn provenance<'a>(source: &'a Option<String>, estimate: &'a Option<String>) -> (&'static str, &'a str) {
    match (source, estimate) {
        (Some(s), _) => ("S", s.as_str()),
        (_, Some(e)) => ("E", e.as_str()),
        _ => ("?", ""),
    }
}

/// A kernel preset for people: its design, kernel entries, and every step per ISA with its counts
/// and its source or estimate, the steps a fastpath one-way IPC charges marked `*`.
pub fn preset_text(p: &kernel::preset::KernelPreset) -> String {
    use kernel::preset::StepId;
    let mut o = String::new();
    let _ = writeln!(o, "{} — {}\nversion: {}", p.name, p.description, p.version);
    let d = p.design();
    let _ = writeln!(
        o,
        "design: IPC target {:?}, timeouts {}, kernel stack {:?}, address spaces {:?}, lazy scheduling {}",
        d.ipc_target, d.timeouts, d.kernel_stack, d.address_spaces, d.lazy_scheduling
    );
    if let Some(d) = &p.design {
        let (tag, why) = provenance(&d.source, &d.estimate);
        let _ = writeln!(o, "  [{tag}] {why}");
    }
    for (isa, paths) in &p.code {
        let _ = writeln!(
            o,
            "\n[{isa}] {} steps, {} estimates, {} of them on the fastpath one-way IPC (marked *)",
            paths.steps().len(),
            p.estimate_count(isa),
            p.fastpath_estimate_count(isa)
        );
        for id in StepId::ALL.iter().filter(|id| paths.has(**id)) {
            let st = paths.step(*id);
            let (tag, why) = provenance(&st.source, &st.estimate);
            let mark = if StepId::FASTPATH_IPC.contains(id) { "*" } else { " " };
            let chain = match (st.groups, st.load_chain) {
                (g, _) if g > 0 => "group schedule".to_string(),
                (_, Some(n)) => format!("load chain {n}"),
                (_, None) => "load chain not counted".to_string(),
            };
            let _ = writeln!(
                o,
                "{mark} {:<22} {:>4} insns, {chain:<22}  [{tag}] {why}",
                id.name(),
                st.mix().instructions()
            );
        }
        let ob = &paths.op_branches;
        let (tag, why) = provenance(&ob.source, &ob.estimate);
        let _ = writeln!(o, "  operation-dependent branches: {}  [{tag}] {why}", ob.count);
        for (i, t) in p.trap.get(isa).into_iter().flatten().enumerate() {
            let (tag, why) = provenance(&t.source, &t.estimate);
            let _ = writeln!(
                o,
                "  kernel entry {} {} / {}  [{tag}] {why}",
                i + 1,
                t.entry.join("+"),
                t.exit.join("+")
            );
        }
        if let Some(x) = p.x86.get(isa) {
            let (tag, why) = provenance(&x.source, &x.estimate);
            let _ = writeln!(
                o,
                "  x86 paging: global kernel {}, PCID {}  [{tag}] {why}",
                x.global_kernel, x.pcid
            );
        }
    }
    let _ = writeln!(
        o,
        "\nA one-way IPC's estimate count (l4sim ipc, l4sim table1) is the * steps marked [E], plus the \
         operation-dependent branches, the design, the kernel entry the CPU takes and the x86 paging choice where they are marked [E]."
    );
    o
}
