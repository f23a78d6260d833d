//! `l4sim explain`: one IPC, step by step, with the cycles of each step — the median call of the
//! ping-pong taken apart into the events the cost model charged, in the order they happened.

use crate::ipc::{run_pingpong, IpcConfig, PingPong};
use crate::Error;
use kernel::types::TcbId;
use simcore::{Category, TraceEvent};
use std::fmt::Write as _;

/// One step of an explained IPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Cycles from the start of the IPC (the sender's counter read) to the start of this step.
    pub offset: u64,
    /// Cycles of this step inside the IPC.
    pub cycles: u64,
    /// What the cycles are charged to.
    pub category: Category,
    /// The thread they are charged to.
    pub thread: String,
    /// What happened.
    pub what: String,
}

/// One direction of the round trip, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// `call` (client to server) or `reply` (server to client).
    pub direction: &'static str,
    /// Cycles between the two counter reads (the counter read itself included).
    pub between_reads: u64,
    /// The measured cost of one counter read, subtracted to give the reported one-way figure.
    pub counter_overhead: u64,
    /// The steps, in time order; their cycles sum to `between_reads`.
    pub steps: Vec<Step>,
}

/// Folds each refund into the charge it takes back (the latest earlier charge of the same thread
/// and category), so that every event is an interval [start, start + cycles) on one timeline.
fn fold_refunds(events: Vec<TraceEvent>) -> Vec<TraceEvent> {
    let mut out: Vec<TraceEvent> = Vec::with_capacity(events.len());
    for e in events {
        if e.cycles < 0 {
            if let Some(prev) = out
                .iter_mut()
                .rev()
                .find(|p| p.thread == e.thread && p.category == e.category && p.cycles > 0)
            {
                prev.cycles += e.cycles;
                prev.what.push_str(" (left early: the rest ran as a new block)");
            }
        } else {
            out.push(e);
        }
    }
    out
}

/// The 64-bit time of the last counter read by `thread` that returned `value` (low 32 bits).
fn read_time(pp: &PingPong, thread: TcbId, value: u32) -> Result<u64, Error> {
    pp.sys
        .counter_log()
        .iter()
        .rev()
        .find(|e| e.thread == Some(thread) && e.value as u32 == value)
        .map(|e| e.value)
        .ok_or_else(|| Error::Experiment(format!("no counter read with value {value}")))
}

fn window(events: &[TraceEvent], names: &dyn Fn(Option<u32>) -> String, from: u64, to: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    for e in events {
        let start = e.start.0;
        let end = start + e.cycles.max(0) as u64;
        let (a, b) = (start.max(from), end.min(to));
        if a < b {
            let clipped = a > start || b < end;
            steps.push(Step {
                offset: a - from,
                cycles: b - a,
                category: e.category,
                thread: names(e.thread),
                what: if clipped { format!("{} [the part inside this IPC]", e.what) } else { e.what.clone() },
            });
        }
    }
    steps
}

/// Runs the ping-pong with tracing and explains the last measured round trip.
pub fn explain(cfg: &IpcConfig) -> Result<[Explanation; 2], Error> {
    if crate::model_only::is_model_only(&cfg.system.arch) {
        return explain_model_only(cfg);
    }
    let mut pp = run_pingpong(cfg, true)?;
    let events = fold_refunds(pp.sys.take_trace());
    let n = pp.iterations as usize;
    let words = pp.sys.read_words(pp.client, "results", 4 * n)?;
    let t = &words[4 * (n - 1)..4 * n];
    let mut ov: Vec<u32> = pp.sys.read_words(pp.client, "overhead", n)?[cfg.warmup as usize..].to_vec();
    ov.sort_unstable();
    let counter_overhead = u64::from(ov[(ov.len() - 1) / 2]);
    let (c, s) = (pp.client, pp.server);
    let times = [
        read_time(&pp, c, t[0])?,
        read_time(&pp, s, t[1])?,
        read_time(&pp, s, t[2])?,
        read_time(&pp, c, t[3])?,
    ];
    let kernel = pp.sys.kernel();
    let names = |th: Option<u32>| match th.and_then(|i| kernel.tcb(TcbId(i))) {
        Some(tcb) => tcb.name.clone(),
        None => "kernel".to_string(),
    };
    let mut out = Vec::new();
    for (direction, from, to) in [("call", times[0], times[1]), ("reply", times[2], times[3])] {
        let steps = window(&events, &names, from, to);
        let sum: u64 = steps.iter().map(|s| s.cycles).sum();
        if sum != to - from {
            return Err(Error::Experiment(format!("{direction}: steps sum to {sum}, not {}", to - from)));
        }
        out.push(Explanation { direction, between_reads: to - from, counter_overhead, steps });
    }
    let reply = out.pop().ok_or_else(|| Error::Experiment("no reply".into()))?;
    let call = out.pop().ok_or_else(|| Error::Experiment("no call".into()))?;
    Ok([call, reply])
}

/// A model-only run explained: the last measured call and reply, from the caller's system call
/// to the partner's return (there is no counter read to subtract).
fn explain_model_only(cfg: &IpcConfig) -> Result<[Explanation; 2], Error> {
    let d = crate::model_only::drive(cfg, true)?;
    let events = fold_refunds(d.trace);
    let names = |th: Option<u32>| {
        th.and_then(|i| d.names.get(i as usize)).cloned().unwrap_or_else(|| "kernel".to_string())
    };
    let mut out = Vec::new();
    for (direction, (from, to)) in [("call", d.windows[0]), ("reply", d.windows[1])] {
        let steps = window(&events, &names, from, to);
        let sum: u64 = steps.iter().map(|s| s.cycles).sum();
        if sum != to - from {
            return Err(Error::Experiment(format!("{direction}: steps sum to {sum}, not {}", to - from)));
        }
        out.push(Explanation { direction, between_reads: to - from, counter_overhead: 0, steps });
    }
    let reply = out.pop().ok_or_else(|| Error::Experiment("no reply".into()))?;
    let call = out.pop().ok_or_else(|| Error::Experiment("no call".into()))?;
    Ok([call, reply])
}

/// The explanation as text for people.
pub fn text(ex: &[Explanation; 2], title: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{title}\n");
    for e in ex {
        let _ = writeln!(
            o,
            "{}: {} cycles from the sender's counter read to the receiver's; less the {}-cycle counter read = {} cycles one-way",
            e.direction,
            e.between_reads,
            e.counter_overhead,
            e.between_reads.saturating_sub(e.counter_overhead)
        );
        let _ = writeln!(o, "  {:>6} {:>6}  {:<21} {:<8} step", "at", "cycles", "category", "thread");
        for s in &e.steps {
            let _ = writeln!(
                o,
                "  {:>6} {:>6}  {:<21} {:<8} {}",
                s.offset,
                s.cycles,
                s.category.name(),
                s.thread,
                s.what
            );
        }
        let _ = writeln!(o);
    }
    o
}

/// The explanation as JSON.
pub fn json(ex: &[Explanation; 2]) -> serde_json::Value {
    serde_json::Value::Array(
        ex.iter()
            .map(|e| {
                serde_json::json!({
                    "direction": e.direction,
                    "between_reads": e.between_reads,
                    "counter_overhead": e.counter_overhead,
                    "steps": e.steps.iter().map(|s| serde_json::json!({
                        "at": s.offset, "cycles": s.cycles, "category": s.category.name(),
                        "thread": s.thread, "what": s.what,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
