//! The one-way IPC experiment, measured the way seL4's benchmark suite (sel4bench) measures it:
//! the client reads the cycle counter just before its `Call`, the server just after its receive
//! returns (and the reverse for the reply); after a warm-up the samples give median, min and max;
//! the measured cost of reading the counter is subtracted.

use crate::system::RunExit;
use crate::system::{CapSpec, System, SystemConfig, ThreadSpec};
use crate::{builtin, Error};
use kernel::preset::{AddressSpaces, IpcTarget};
use kernel::types::{Rights, TcbId};
use kernel::Kernel;
use simcore::{Breakdown, Category, Primitive};
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct IpcConfig {
    /// The system (architecture, profile, preset, fastpath).
    pub system: SystemConfig,
    /// Measured round trips.
    pub samples: u32,
    /// Round trips before measuring (hot caches).
    pub warmup: u32,
    /// Unrecorded round trips after the measured ones, so that the host-speed figure reflects a
    /// steady state rather than start-up (translation, decoding).
    pub speed_rounds: u32,
}

/// Statistics of one direction, in cycles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Median (the lower middle sample, so that it is a sample and has a breakdown).
    pub median: u64,
    /// Minimum.
    pub min: u64,
    /// Maximum.
    pub max: u64,
    /// Where the median sample's cycles went; sums to `median`.
    pub breakdown: Breakdown,
}

/// Host-side speed of the run (the only part of a result that is not deterministic).
#[derive(Clone, Debug, PartialEq)]
pub struct HostStats {
    /// Wall-clock seconds of the simulation run (set-up excluded).
    pub seconds: f64,
    /// Simulated one-way IPCs in the run (two per round trip, warm-up and speed rounds included).
    pub ipcs: u64,
    /// Simulated one-way IPCs per host second.
    pub ipcs_per_second: f64,
}

/// How an IPC figure was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// The ping-pong ran as machine code on the emulated CPU and MMU.
    Emulated,
    /// The CPU cannot be emulated: the kernel's paths ran on the cost model with a scripted user
    /// side (see [`crate::model_only`]).
    ModelOnly,
}

impl RunKind {
    /// `emulated` or `model-only`.
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Emulated => "emulated",
            RunKind::ModelOnly => "model-only",
        }
    }
}

/// The result of an IPC experiment.
#[derive(Clone, Debug)]
pub struct IpcResult {
    /// Guest architecture.
    pub arch: String,
    /// Profile name.
    pub uarch: String,
    /// The machine the profile models.
    pub machine: String,
    /// Core clock.
    pub mhz: f64,
    /// Kernel preset name.
    pub kernel: String,
    /// Fastpath on.
    pub fastpath: bool,
    /// Emulated or model-only.
    pub run_kind: RunKind,
    /// Kernel entry and exit primitives, e.g. `sysenter / sysexit` (the preset's choice for the CPU).
    pub kernel_entry: String,
    /// What survives an address-space switch in the TLBs, e.g. `untagged, global kernel pages`.
    pub tlb_policy: String,
    /// Samples and warm-up round trips.
    pub samples: u32,
    /// Warm-up round trips.
    pub warmup: u32,
    /// Measured counter-read overhead that was subtracted, in cycles.
    pub counter_overhead: u64,
    /// Client -> server (Call).
    pub call: Stats,
    /// Server -> client (ReplyRecv's reply).
    pub reply: Stats,
    /// Fastpath Calls, fastpath ReplyRecvs, slowpath syscalls over the whole run.
    pub paths: (u64, u64, u64),
    /// Estimated profile parameters this run reads (see [`simcore::Profile::estimates_used`]).
    pub profile_estimates: usize,
    /// Estimates in the preset that this IPC depends on: estimated steps on the fastpath one-way
    /// path, an estimated design, kernel entry or x86 translation choice.
    pub preset_estimates: usize,
    /// Host speed.
    pub host: HostStats,
}

/// The most round trips the guest's result buffer holds.
pub const MAX_ITERATIONS: u32 = 1024;

fn median_index(values: &[u64]) -> usize {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by_key(|&i| (values[i], i));
    idx[(idx.len() - 1) / 2]
}

/// Median, minimum and maximum of measured samples, with the median sample's breakdown.
pub(crate) fn stats(v: &[(u64, Breakdown)]) -> Stats {
    let vals: Vec<u64> = v.iter().map(|x| x.0).collect();
    let m = median_index(&vals);
    Stats {
        median: vals[m],
        min: vals.iter().copied().min().unwrap_or(0),
        max: vals.iter().copied().max().unwrap_or(0),
        breakdown: v[m].1,
    }
}

/// `entry / exit` as the primitive keys, e.g. `sysenter / sysexit`.
pub(crate) fn kernel_entry_text(entry: &[Primitive], exit: &[Primitive]) -> String {
    let keys = |ps: &[Primitive]| ps.iter().map(|p| p.key()).collect::<Vec<_>>().join("+");
    format!("{} / {}", keys(entry), keys(exit))
}

/// What survives an address-space switch in the TLBs (and virtually tagged caches), in words.
pub(crate) fn tlb_policy_text(k: &Kernel) -> String {
    let cost = k.cost();
    match (k.design().address_spaces, cost.tlb_tagged(), cost.global_pages()) {
        (AddressSpaces::SmallSpaces, ..) => {
            "small address spaces (segments): no page-table switch, no flush between them".to_string()
        }
        (AddressSpaces::Fass, ..) => {
            "FASS (ARM domains + FCSE PID): no TLB or cache flush on a switch".to_string()
        }
        (_, true, _) => "tagged (ASID/PCID): no flush on a switch".to_string(),
        (_, false, true) => "untagged: a switch flushes all but global (kernel) entries".to_string(),
        (_, false, false) => "untagged, no global pages: a switch flushes every entry".to_string(),
    }
}

/// The preset's estimates that a one-way IPC on `isa` depends on: with the fastpath those of
/// [`KernelPreset::ipc_estimate_count`](kernel::preset::KernelPreset::ipc_estimate_count), without
/// it every estimated step as well.
pub(crate) fn preset_estimates(system: &SystemConfig, isa: &str) -> usize {
    let cost = simcore::CostModel::new(system.profile.clone());
    let fast = system.preset.ipc_estimate_count(isa, |p| cost.try_price_primitive(p).is_some());
    if system.fastpath {
        fast
    } else {
        // Every IPC takes the slowpath: every estimated step may be on it.
        fast + system.preset.estimate_count(isa) - system.preset.fastpath_estimate_count(isa)
    }
}

/// A finished ping-pong run: the system after the run and what the experiment needs from it.
#[derive(Debug)]
pub struct PingPong {
    /// The system, halted.
    pub sys: System,
    /// The client thread.
    pub client: TcbId,
    /// The server thread.
    pub server: TcbId,
    /// Recorded round trips (warm-up + samples).
    pub iterations: u32,
    /// Host seconds of the simulation run.
    pub seconds: f64,
}

/// Builds the client/server system of `cfg` and runs it to the client's halt. With `trace`, every
/// charge is recorded (see [`simcore::CostModel::set_tracing`]).
pub fn run_pingpong(cfg: &IpcConfig, trace: bool) -> Result<PingPong, Error> {
    if cfg.samples == 0 {
        return Err(Error::Invalid("--samples must be at least 1".into()));
    }
    let iterations =
        cfg.samples.checked_add(cfg.warmup).filter(|n| *n <= MAX_ITERATIONS).ok_or_else(|| {
            Error::Invalid(format!(
                "samples + warmup must be at most {MAX_ITERATIONS} (the guest's result buffer)"
            ))
        })?;
    let mut sys = System::new(cfg.system.clone())?;
    let arch = cfg.system.arch.clone();
    let dir = sys.guest_entry().guest_dir(&arch);
    let guest = |name: &str| {
        builtin::guest(&dir, name).ok_or_else(|| Error::Unsupported(format!("no {name} guest for {dir}")))
    };
    let ep = sys.endpoint()?;
    let client_rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    let client_spec = |dest: Option<u64>| -> Result<ThreadSpec<'static>, Error> {
        let mut spec = ThreadSpec::new("client", guest("pingpong-client")?)
            .cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights: client_rights })
            .patch("warmup", u64::from(cfg.warmup))
            .patch("samples", u64::from(cfg.samples))
            .patch("extra_rounds", u64::from(cfg.speed_rounds));
        if let Some(d) = dest {
            spec = spec.patch("dest", d);
        }
        Ok(spec)
    };
    let server_spec = ThreadSpec::new("server", guest("pingpong-server")?)
        .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ });
    let (client, server) = if sys.kernel().design().ipc_target == IpcTarget::ThreadId {
        // A thread-ID kernel: the client calls the server by its thread ID, so the server is
        // created first; the client then runs first, and its first Call waits for the server's
        // first receive (warm-up absorbs it).
        let server = sys.thread(server_spec)?;
        let id = sys.kernel().thread_id(server);
        let client = sys.thread(client_spec(id)?)?;
        (client, server)
    } else {
        // The client is made runnable first and the server last: seL4 queues a resumed thread at
        // the head of its priority, so the server runs first and is waiting in Recv when the
        // client calls.
        let client = sys.thread(client_spec(None)?)?;
        let server = sys.thread(server_spec)?;
        (client, server)
    };
    sys.record_counter_reads(true);
    sys.set_tracing(trace);
    let started = Instant::now();
    let exit = sys.run(u64::MAX / 2)?;
    let seconds = started.elapsed().as_secs_f64();
    if exit != RunExit::Halted(client) {
        return Err(Error::Experiment(format!(
            "the ping-pong ended with {exit:?}; kernel events: {:?}",
            sys.kernel().events()
        )));
    }
    Ok(PingPong { sys, client, server, iterations, seconds })
}

/// Runs the client/server ping-pong and measures it.
pub fn run(cfg: &IpcConfig) -> Result<IpcResult, Error> {
    if crate::model_only::is_model_only(&cfg.system.arch) {
        return crate::model_only::run(cfg);
    }
    let PingPong { sys, client, server, iterations, seconds } = run_pingpong(cfg, false)?;
    let arch = cfg.system.arch.clone();
    let err = sys.read_words(client, "error_info", 1)?;
    if err[0] != 0 {
        return Err(Error::Experiment(format!(
            "the client got a kernel error reply (message info {:#x})",
            err[0]
        )));
    }
    let n = iterations as usize;
    let words = sys.read_words(client, "results", 4 * n)?;
    let overhead_samples = sys.read_words(client, "overhead", n)?;
    let mut ov: Vec<u64> = overhead_samples[cfg.warmup as usize..].iter().map(|v| u64::from(*v)).collect();
    ov.sort_unstable();
    let counter_overhead = ov[(ov.len() - 1) / 2];

    // Match each timestamp with the ledger snapshot the backend took at that counter read.
    let log = sys.counter_log();
    let snapshot_of = |thread: TcbId, value: u32, from: &mut usize| -> Result<Breakdown, Error> {
        while *from < log.len() {
            let e = &log[*from];
            *from += 1;
            if e.thread == Some(thread) && e.value as u32 == value {
                return Ok(e.snapshot);
            }
        }
        Err(Error::Experiment(format!("no counter read with value {value} by thread {}", thread.0)))
    };
    let mut calls = Vec::with_capacity(n);
    let mut replies = Vec::with_capacity(n);
    let (mut pos_c, mut pos_s) = (0usize, 0usize);
    for i in 0..n {
        let t = &words[4 * i..4 * i + 4];
        let s0 = snapshot_of(client, t[0], &mut pos_c)?;
        let s1 = snapshot_of(server, t[1], &mut pos_s)?;
        let s2 = snapshot_of(server, t[2], &mut pos_s)?;
        let s3 = snapshot_of(client, t[3], &mut pos_c)?;
        let mut bc = s1.since(&s0);
        let mut br = s3.since(&s2);
        bc.sub(Category::User, counter_overhead);
        br.sub(Category::User, counter_overhead);
        let call = u64::from(t[1].wrapping_sub(t[0])).saturating_sub(counter_overhead);
        let reply = u64::from(t[3].wrapping_sub(t[2])).saturating_sub(counter_overhead);
        if bc.total() != call || br.total() != reply {
            return Err(Error::Experiment(format!(
                "sample {i}: breakdown ({}, {}) does not sum to the measured ({call}, {reply})",
                bc.total(),
                br.total()
            )));
        }
        if i >= cfg.warmup as usize {
            calls.push((call, bc));
            replies.push((reply, br));
        }
    }
    let st = sys.kernel().stats();
    let ipcs = 2 * (u64::from(iterations) + u64::from(cfg.speed_rounds));
    let profile = &cfg.system.profile;
    let (entry, exit) = sys.trap_primitives();
    Ok(IpcResult {
        arch,
        uarch: profile.name.clone(),
        machine: profile.machine.clone(),
        mhz: profile.mhz.value,
        kernel: cfg.system.preset.name.clone(),
        fastpath: cfg.system.fastpath,
        run_kind: RunKind::Emulated,
        kernel_entry: kernel_entry_text(entry, exit),
        tlb_policy: tlb_policy_text(sys.kernel()),
        samples: cfg.samples,
        warmup: cfg.warmup,
        counter_overhead,
        call: stats(&calls),
        reply: stats(&replies),
        paths: (st.fastpath_call, st.fastpath_reply_recv, st.slowpath),
        profile_estimates: {
            // The guest's counter reads are priced too.
            let mut used = sys.kernel().ipc_primitives();
            used.push(Primitive::CounterRead);
            profile.estimates_used(&used)
        },
        preset_estimates: preset_estimates(&cfg.system, sys.isa()),
        host: HostStats {
            seconds,
            ipcs,
            ipcs_per_second: if seconds > 0.0 { ipcs as f64 / seconds } else { 0.0 },
        },
    })
}
