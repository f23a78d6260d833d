//! Static systems from a scenario file (TOML): threads, address spaces loaded from ELF images,
//! endpoints, notifications, untyped memory and capabilities with badges and rights, built on
//! the complete kernel and run (`l4sim run SCENARIO`). For people who want a system without
//! writing a root task.
//!
//! ```toml
//! arch = "armv7"            # guest architecture
//! uarch = "cortex-a9"       # microarchitecture profile (built-in)
//! kernel = "sel4"           # kernel preset (built-in; default sel4)
//! max_cycles = 50000000     # optional
//!
//! [[endpoint]]
//! name = "ep"
//!
//! [[notification]]
//! name = "n"
//!
//! [[thread]]
//! name = "server"
//! guest = "ipc-call-reply"  # a built-in guest, or: elf = "path/relative/to/the/scenario.elf"
//! entry = "server_entry"    # optional: start at this symbol
//! priority = 100            # optional
//! fault_handler = 0         # optional: capability pointer of its fault endpoint
//! root_task = false         # optional: start it as seL4's root task (last thread, no caps)
//! bind_notification = "n"   # optional
//! caps = [
//!   { slot = 1, endpoint = "ep", rights = "r" },
//!   { slot = 2, cnode = "self" },
//!   { slot = 3, untyped = 16 },
//!   { slot = 4, notification = "n", badge = 1, rights = "w" },
//!   { slot = 5, tcb = "client" },   # a thread defined above, or "self"
//!   { slot = 6, vspace = "self" },  # its own address space
//! ]
//! ```
//! Rights are letters: `r` read, `w` write, `g` grant, `G` grant-reply (default: all four).
//! Threads are built in file order; the run ends when a thread halts (seL4_DebugHalt), no thread
//! can run, or the cycle limit is reached.

use crate::system::{CapSpec, RunExit, System, SystemConfig, ThreadSpec};
use crate::Error;
use kernel::object::ThreadState;
use kernel::types::{EpId, NtfnId, Rights, TcbId};
use kernel::KernelEvent;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Guest architecture (`armv7`, `x86_64`, ...).
    pub arch: String,
    /// Microarchitecture profile (built-in name).
    pub uarch: String,
    /// Kernel preset (built-in name).
    #[serde(default = "default_kernel")]
    pub kernel: String,
    /// Simulated cycles to run at most.
    #[serde(default)]
    pub max_cycles: Option<u64>,
    /// The kernel's preemption timer: a tick every so many cycles (default: no ticks).
    #[serde(default)]
    pub timer_tick: Option<u64>,
    /// The time slice in ticks (default 5, seL4's); needs `timer_tick`.
    #[serde(default)]
    pub time_slice: Option<u32>,
    /// Endpoints, by name.
    #[serde(default)]
    pub endpoint: Vec<Named>,
    /// Notifications, by name.
    #[serde(default)]
    pub notification: Vec<Named>,
    /// Threads, built in this order.
    #[serde(default)]
    pub thread: Vec<ThreadDecl>,
}

fn default_kernel() -> String {
    "sel4".into()
}

/// An object with a name.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    /// Its name.
    pub name: String,
}

/// A thread of the scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadDecl {
    /// Its name.
    pub name: String,
    /// A built-in guest program.
    #[serde(default)]
    pub guest: Option<String>,
    /// An ELF file, relative to the scenario file.
    #[serde(default)]
    pub elf: Option<PathBuf>,
    /// The symbol to start at.
    #[serde(default)]
    pub entry: Option<String>,
    /// Priority (default 100).
    #[serde(default)]
    pub priority: Option<u8>,
    /// Fault handler capability pointer.
    #[serde(default)]
    pub fault_handler: Option<u64>,
    /// A notification to bind to it.
    #[serde(default)]
    pub bind_notification: Option<String>,
    /// Start it as seL4's root task (initial capabilities, boot information, all remaining
    /// memory as untypeds); it must be the last thread, and takes no `caps`.
    #[serde(default)]
    pub root_task: bool,
    /// Its capabilities.
    #[serde(default)]
    pub caps: Vec<CapDecl>,
}

/// A capability in a thread's CSpace: exactly one of the object fields.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapDecl {
    /// The slot (the CSpace is one CNode of 256 slots).
    pub slot: usize,
    /// An endpoint, by name.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A notification, by name.
    #[serde(default)]
    pub notification: Option<String>,
    /// `"self"`: the thread's own CNode.
    #[serde(default)]
    pub cnode: Option<String>,
    /// A thread, by name (defined earlier), or `"self"`.
    #[serde(default)]
    pub tcb: Option<String>,
    /// A new untyped region of 2^n bytes.
    #[serde(default)]
    pub untyped: Option<u8>,
    /// `"self"`: the thread's own address space (VSpace root).
    #[serde(default)]
    pub vspace: Option<String>,
    /// Badge (endpoints and notifications).
    #[serde(default)]
    pub badge: u64,
    /// Rights letters (endpoints and notifications; default all).
    #[serde(default)]
    pub rights: Option<String>,
}

/// What one thread did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadReport {
    /// Its name.
    pub name: String,
    /// Its final state.
    pub state: String,
    /// Simulated cycles spent on its behalf (user code and kernel work charged to it).
    pub cycles: u64,
    /// What it printed with seL4_DebugPutChar.
    pub output: String,
    /// Faults it took: (fault, delivered to a handler).
    pub faults: Vec<(String, bool)>,
}

/// The outcome of a scenario run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioReport {
    /// How the run ended.
    pub exit: String,
    /// Simulated cycles in total.
    pub cycles: u64,
    /// Per thread: the file's, and those the programs made (named `(made) #n`), in creation order.
    pub threads: Vec<ThreadReport>,
}

fn rights(s: Option<&str>) -> Result<Rights, Error> {
    let Some(s) = s else { return Ok(Rights::ALL) };
    let mut r = Rights { read: false, write: false, grant: false, grant_reply: false };
    for c in s.chars() {
        match c {
            'r' => r.read = true,
            'w' => r.write = true,
            'g' => r.grant = true,
            'G' => r.grant_reply = true,
            _ => return Err(Error::Invalid(format!("rights `{s}`: use the letters r, w, g, G"))),
        }
    }
    Ok(r)
}

impl Scenario {
    /// Parses a scenario.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, Error> {
        toml::from_str(text).map_err(|e| Error::Invalid(format!("scenario {origin}: {e}")))
    }

    /// Builds the system and runs it. ELF paths are relative to `dir`.
    pub fn run(&self, dir: &Path, max_cycles: Option<u64>) -> Result<ScenarioReport, Error> {
        let mut config = SystemConfig::builtin(&self.arch, &self.uarch, &self.kernel)?;
        config.timer = match (self.timer_tick, self.time_slice) {
            (Some(tick), slice) => Some((tick, slice.unwrap_or(5))),
            (None, Some(_)) => return Err(Error::Invalid("`time_slice` needs `timer_tick`".into())),
            (None, None) => None,
        };
        let mut sys = System::new(config)?;
        let mut eps: BTreeMap<&str, EpId> = BTreeMap::new();
        let mut ntfns: BTreeMap<&str, NtfnId> = BTreeMap::new();
        for e in &self.endpoint {
            if eps.insert(&e.name, sys.endpoint()?).is_some() {
                return Err(Error::Invalid(format!("endpoint `{}` is defined twice", e.name)));
            }
        }
        for n in &self.notification {
            if ntfns.insert(&n.name, sys.notification()?).is_some() {
                return Err(Error::Invalid(format!("notification `{}` is defined twice", n.name)));
            }
        }
        let mut threads: Vec<(String, TcbId)> = Vec::new();
        for t in &self.thread {
            let image: Vec<u8> = match (&t.guest, &t.elf) {
                (Some(g), None) => crate::builtin::guest(&self.arch, g)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "thread `{}`: no built-in guest `{g}` for {}",
                            t.name, self.arch
                        ))
                    })?
                    .to_vec(),
                (None, Some(p)) => std::fs::read(dir.join(p)).map_err(|e| {
                    Error::Invalid(format!("thread `{}`: cannot read {}: {e}", t.name, p.display()))
                })?,
                _ => {
                    return Err(Error::Invalid(format!(
                        "thread `{}`: give exactly one of `guest` and `elf`",
                        t.name
                    )))
                }
            };
            let mut spec = ThreadSpec::new(&t.name, &image);
            if t.root_task {
                spec = spec.root_task();
            }
            if let Some(e) = &t.entry {
                spec = spec.entry(e);
            }
            if let Some(p) = t.priority {
                spec = spec.priority(p);
            }
            if let Some(f) = t.fault_handler {
                spec = spec.fault_handler(f);
            }
            if let Some(n) = &t.bind_notification {
                let id = *ntfns
                    .get(n.as_str())
                    .ok_or_else(|| Error::Invalid(format!("thread `{}`: no notification `{n}`", t.name)))?;
                spec = spec.bind_notification(id);
            }
            for c in &t.caps {
                spec = spec.cap(c.slot, self.cap_spec(&t.name, c, &eps, &ntfns, &threads)?);
            }
            let id = sys.thread(spec)?;
            threads.push((t.name.clone(), id));
        }
        let exit = sys.run(max_cycles.or(self.max_cycles).unwrap_or(100_000_000))?;
        let k = sys.kernel();
        let name_of =
            |id: TcbId| threads.iter().find(|(_, t)| *t == id).map_or("?".to_string(), |(n, _)| n.clone());
        let exit = match exit {
            RunExit::Halted(t) => format!("halted by {}", name_of(t)),
            RunExit::Idle => "idle: no thread can run".into(),
            RunExit::CycleLimit => "cycle limit".into(),
            RunExit::KernelStopped => "stopped by the kernel".into(),
        };
        // The scenario's threads by name, then those its programs made (by Retype).
        let all: Vec<(String, TcbId)> = k
            .threads()
            .map(|(id, _)| {
                let name = threads
                    .iter()
                    .find(|(_, t)| *t == id)
                    .map_or_else(|| format!("(made) #{}", id.0), |(n, _)| n.clone());
                (name, id)
            })
            .collect();
        let reports = all
            .iter()
            .map(|(name, id)| {
                let mut output = Vec::new();
                let mut faults = Vec::new();
                for e in k.events() {
                    match e {
                        KernelEvent::PutChar { thread, byte } if thread == id => output.push(*byte),
                        KernelEvent::Fault { thread, fault, delivered, .. } if thread == id => {
                            faults.push((format!("{fault:?}"), *delivered));
                        }
                        _ => {}
                    }
                }
                let state = k.tcb(*id).map_or(ThreadState::Inactive, |t| t.state);
                ThreadReport {
                    name: name.clone(),
                    state: format!("{state:?}"),
                    cycles: k.cost().ledger().thread_totals(id.0).total(),
                    output: String::from_utf8_lossy(&output).into_owned(),
                    faults,
                }
            })
            .collect();
        Ok(ScenarioReport { exit, cycles: k.cost().now().get(), threads: reports })
    }

    fn cap_spec(
        &self,
        thread: &str,
        c: &CapDecl,
        eps: &BTreeMap<&str, EpId>,
        ntfns: &BTreeMap<&str, NtfnId>,
        threads: &[(String, TcbId)],
    ) -> Result<CapSpec, Error> {
        let what = format!("thread `{thread}` slot {}", c.slot);
        let given = [
            c.endpoint.is_some(),
            c.notification.is_some(),
            c.cnode.is_some(),
            c.tcb.is_some(),
            c.vspace.is_some(),
            c.untyped.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Error::Invalid(format!(
                "{what}: give exactly one of endpoint, notification, cnode, tcb, vspace, untyped"
            )));
        }
        let r = rights(c.rights.as_deref())?;
        Ok(if let Some(e) = &c.endpoint {
            let ep =
                *eps.get(e.as_str()).ok_or_else(|| Error::Invalid(format!("{what}: no endpoint `{e}`")))?;
            CapSpec::Endpoint { ep, badge: c.badge, rights: r }
        } else if let Some(n) = &c.notification {
            let ntfn = *ntfns
                .get(n.as_str())
                .ok_or_else(|| Error::Invalid(format!("{what}: no notification `{n}`")))?;
            CapSpec::Notification { ntfn, badge: c.badge, rights: r }
        } else if let Some(cn) = &c.cnode {
            if cn != "self" {
                return Err(Error::Invalid(format!(
                    "{what}: cnode = \"self\" is the only CNode a scenario names"
                )));
            }
            CapSpec::OwnCNode
        } else if let Some(t) = &c.tcb {
            if t == "self" {
                CapSpec::OwnTcb
            } else {
                let tcb = threads.iter().find(|(n, _)| n == t).map(|(_, id)| *id).ok_or_else(|| {
                    Error::Invalid(format!("{what}: no thread `{t}` defined before this one"))
                })?;
                CapSpec::Tcb { tcb }
            }
        } else if let Some(v) = &c.vspace {
            if v != "self" {
                return Err(Error::Invalid(format!(
                    "{what}: vspace = \"self\" is the only VSpace a scenario names"
                )));
            }
            CapSpec::OwnVSpace
        } else {
            CapSpec::Untyped { size_bits: c.untyped.unwrap_or(0) }
        })
    }
}

impl ScenarioReport {
    /// A readable report.
    pub fn to_table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "run ended: {}, after {} cycles\n", self.exit, self.cycles);
        let _ = writeln!(o, "{:<16} {:<28} {:>12}  faults", "thread", "state", "cycles");
        for t in &self.threads {
            let faults: Vec<String> = t
                .faults
                .iter()
                .map(|(f, d)| format!("{f}{}", if *d { "" } else { " (no handler)" }))
                .collect();
            let _ = writeln!(o, "{:<16} {:<28} {:>12}  {}", t.name, t.state, t.cycles, faults.join("; "));
        }
        for t in self.threads.iter().filter(|t| !t.output.is_empty()) {
            let _ = writeln!(o, "\noutput of {}:\n{}", t.name, t.output.trim_end());
        }
        o
    }

    /// The report as JSON: `exit`, `cycles`, `threads` (name, state, cycles, output, faults).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "exit": self.exit,
            "cycles": self.cycles,
            "threads": self.threads.iter().map(|t| serde_json::json!({
                "name": t.name,
                "state": t.state,
                "cycles": t.cycles,
                "output": t.output,
                "faults": t.faults.iter().map(|(f, d)| serde_json::json!({"fault": f, "delivered": d})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}
