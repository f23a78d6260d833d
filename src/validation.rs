//! Validation against published seL4 benchmark results beyond Table I
//! (`fixtures/validation.toml`): the simulated call and reply next to the published ones. These
//! results validate the model; nothing in a profile or preset is fitted to them.

use crate::builtin;
use crate::ipc::{self, IpcConfig};
use crate::system::SystemConfig;
use crate::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// One published result.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// The measured machine as the source names it.
    pub machine: String,
    /// The preset that models the measured kernel.
    pub preset: String,
    /// The profile of the machine.
    pub profile: String,
    /// Guest ISA.
    pub arch: String,
    /// The skim window as measured (x86-64), if the source says.
    #[serde(default)]
    pub skim_window: Option<bool>,
    /// Published one-way Call, cycles.
    pub call: u64,
    /// Published one-way reply, cycles.
    pub reply: u64,
    /// Where the figures were published.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    result: Vec<Published>,
}

/// A published result with the simulated figures.
#[derive(Clone, Debug)]
pub struct Compared {
    /// The published result.
    pub published: Published,
    /// Simulated call and reply (median), cycles.
    pub simulated: (u64, u64),
}

fn error_percent(sim: u64, published: u64) -> f64 {
    ((sim as f64 - published as f64) / published as f64 * 1000.0).round() / 10.0
}

/// Parses a validation file.
pub fn published(text: &str) -> Result<Vec<Published>, Error> {
    let f: File = toml::from_str(text).map_err(|e| Error::Invalid(format!("validation.toml: {e}")))?;
    Ok(f.result)
}

/// Simulates every published result of the built-in file.
pub fn run() -> Result<Vec<Compared>, Error> {
    let mut out = Vec::new();
    for p in published(builtin::VALIDATION)? {
        let mut system = SystemConfig::builtin(&p.arch, &p.profile, &p.preset)?;
        if let Some(on) = p.skim_window {
            system.set_skim_window(on)?;
        }
        let r = ipc::run(&IpcConfig { system, samples: 16, warmup: 16, speed_rounds: 0 })?;
        out.push(Compared { simulated: (r.call.median, r.reply.median), published: p });
    }
    Ok(out)
}

/// The comparison as JSON.
pub fn to_json(rows: &[Compared]) -> Value {
    Value::Array(
        rows.iter()
            .map(|c| {
                let p = &c.published;
                json!({
                    "machine": p.machine, "preset": p.preset, "profile": p.profile, "arch": p.arch,
                    "skim_window": p.skim_window,
                    "published": { "call": p.call, "reply": p.reply },
                    "simulated": { "call": c.simulated.0, "reply": c.simulated.1 },
                    "error_percent": {
                        "call": error_percent(c.simulated.0, p.call),
                        "reply": error_percent(c.simulated.1, p.reply),
                    },
                    "source": p.source,
                })
            })
            .collect(),
    )
}

/// The comparison as a table for people.
pub fn to_table(rows: &[Compared]) -> String {
    let mut o = String::from(
        "Validation: published seL4 benchmark results (not Table I, never used to fit the model)\n\n",
    );
    let _ = writeln!(
        o,
        "{:<72} {:>6} {:>6} {:>7}   {:>6} {:>6} {:>7}",
        "machine (preset, profile, arch)", "call", "sim", "error", "reply", "sim", "error"
    );
    for c in rows {
        let p = &c.published;
        let _ = writeln!(
            o,
            "{:<72} {:>6} {:>6} {:>+6.1}%   {:>6} {:>6} {:>+6.1}%",
            format!("{} ({}, {}, {})", p.machine, p.preset, p.profile, p.arch),
            p.call,
            c.simulated.0,
            error_percent(c.simulated.0, p.call),
            p.reply,
            c.simulated.1,
            error_percent(c.simulated.1, p.reply)
        );
    }
    for c in rows {
        let _ = writeln!(o, "  source: {}", c.published.source);
    }
    o
}
