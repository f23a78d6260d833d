//! The `l4sim` command line.

use clap::{Parser, Subcommand, ValueEnum};
use l4sim::ipc::{self, IpcConfig};
use l4sim::kernel::preset::KernelPreset;
use l4sim::report::{self, Format};
use l4sim::system::SystemConfig;
use l4sim::{builtin, Error};
use simcore::Profile;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "l4sim", version, about = "Cycle-accurate L4/seL4 microkernel simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Table,
    Json,
    Csv,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Format {
        match f {
            OutFormat::Table => Format::Table,
            OutFormat::Json => Format::Json,
            OutFormat::Csv => Format::Csv,
        }
    }
}

/// A switch.
#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum Command {
    /// Measure one-way IPC between two address spaces, as seL4's benchmark suite does.
    Ipc {
        /// Guest architecture.
        #[arg(long, default_value = "armv7")]
        arch: String,
        /// Microarchitecture profile (built-in name).
        #[arg(long, default_value = "cortex-a9")]
        uarch: String,
        /// A profile TOML file instead of a built-in profile.
        #[arg(long, value_name = "FILE", conflicts_with = "uarch")]
        profile: Option<PathBuf>,
        /// Kernel preset (built-in name).
        #[arg(long, default_value = "sel4")]
        kernel: String,
        /// A kernel preset TOML file instead of a built-in preset.
        #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
        preset: Option<PathBuf>,
        /// Measured round trips.
        #[arg(long, default_value_t = 64)]
        samples: u32,
        /// Round trips before measuring.
        #[arg(long, default_value_t = 16)]
        warmup: u32,
        /// Unrecorded round trips after the samples, for the host-speed figure.
        #[arg(long, default_value_t = 20_000)]
        speed_rounds: u32,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
        /// Disable the IPC fastpath (every IPC takes the slowpath).
        #[arg(long)]
        no_fastpath: bool,
        /// Switch the preset's x86-64 Meltdown skim window on or off (presets that define one).
        #[arg(long, value_name = "on|off")]
        skim_window: Option<OnOff>,
        /// Switch the FPU state on every thread switch (seL4 since 14.0 for threads that use the
        /// FPU), for presets that define it.
        #[arg(long, value_name = "on|off")]
        fpu_switch: Option<OnOff>,
        /// Leave out the host-speed figures, so that the output is identical on every run.
        #[arg(long)]
        no_host: bool,
    },
    /// Build a static system from a scenario file (TOML: threads, ELF images, endpoints,
    /// notifications, untyped memory, capabilities) and run it on the complete kernel.
    Run {
        /// The scenario file (see `l4sim::scenario`; examples in fixtures/scenarios/).
        scenario: PathBuf,
        /// Stop after this many simulated cycles (overrides the file's `max_cycles`).
        #[arg(long)]
        max_cycles: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
    },
    /// Take one IPC apart: every step the model charged between the two counter reads, in order.
    Explain {
        /// Guest architecture.
        #[arg(long, default_value = "armv7")]
        arch: String,
        /// Microarchitecture profile (built-in name).
        #[arg(long, default_value = "cortex-a9")]
        uarch: String,
        /// Kernel preset (built-in name).
        #[arg(long, default_value = "sel4")]
        kernel: String,
        /// Round trips before the explained one (hot caches); 0 explains a cold IPC.
        #[arg(long, default_value_t = 16)]
        warmup: u32,
        /// Disable the IPC fastpath.
        #[arg(long)]
        no_fastpath: bool,
        /// Output format (table or json).
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
    },
    /// The paper's Table I: every row's kernel on its machine, simulated next to the published cycles.
    Table1 {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
    },
    /// Published seL4 benchmark results beyond Table I next to the simulated ones (validation).
    Validate {
        /// Output format (table or json).
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
    },
    /// Microarchitecture profiles and kernel presets: list, show, validate.
    Model {
        #[command(subcommand)]
        cmd: ModelCmd,
    },
}

#[derive(Subcommand)]
enum ModelCmd {
    /// List the built-in profiles and kernel presets with their estimate counts.
    List,
    /// Show every parameter of a profile, or every step of a kernel preset, with its source or
    /// its estimate's reasoning.
    Show {
        /// Profile or kernel-preset name.
        name: String,
    },
    /// Validate a profile file.
    Validate {
        /// The TOML file.
        file: PathBuf,
    },
}

/// `print!` into the report buffer.
macro_rules! out {
    ($o:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($o, $($arg)*);
    }};
}

/// `println!` into the report buffer.
macro_rules! outln {
    ($o:expr) => {{
        $o.push('\n');
    }};
    ($o:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($arg)*);
    }};
}

/// Runs a command, writing its report to `o` (printed by `main`, which treats a closed pipe, as
/// in `l4sim model list | head`, as the reader having had enough rather than as an error).
fn run(cli: Cli, o: &mut String) -> Result<(), Error> {
    match cli.command {
        Command::Validate { format } => {
            let rows = l4sim::validation::run()?;
            match format {
                OutFormat::Json => outln!(o, "{:#}", l4sim::validation::to_json(&rows)),
                _ => out!(o, "{}", l4sim::validation::to_table(&rows)),
            }
        }
        Command::Run { scenario, max_cycles, format } => {
            let text = std::fs::read_to_string(&scenario)
                .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", scenario.display())))?;
            let sc = l4sim::scenario::Scenario::from_toml(&text, &scenario.display().to_string())?;
            let dir = scenario.parent().unwrap_or(std::path::Path::new("."));
            let report = sc.run(dir, max_cycles)?;
            match format {
                OutFormat::Json => outln!(o, "{:#}", report.to_json()),
                _ => out!(o, "{}", report.to_table()),
            }
        }
        Command::Table1 { format } => {
            let rows = l4sim::table1::run()?;
            match format {
                OutFormat::Table => out!(o, "{}", l4sim::table1::to_table(&rows)),
                OutFormat::Json => outln!(o, "{:#}", l4sim::table1::to_json(&rows)),
                OutFormat::Csv => out!(o, "{}", l4sim::table1::to_csv(&rows)),
            }
        }
        Command::Ipc {
            arch,
            uarch,
            profile,
            kernel,
            preset,
            samples,
            warmup,
            speed_rounds,
            format,
            no_fastpath,
            skim_window,
            fpu_switch,
            no_host,
        } => {
            let mut system = SystemConfig::builtin(&arch, &uarch, &kernel)?;
            if let Some(path) = profile {
                system.profile = Profile::load(&path)?;
            }
            if let Some(path) = preset {
                system.preset = KernelPreset::load(&path)?;
            }
            if let Some(sw) = skim_window {
                system.set_skim_window(matches!(sw, OnOff::On))?;
            }
            if let Some(f) = fpu_switch {
                system.set_fpu_switch(matches!(f, OnOff::On))?;
            }
            system.fastpath = !no_fastpath;
            let r = ipc::run(&IpcConfig { system, samples, warmup, speed_rounds })?;
            let out = match Format::from(format) {
                Format::Table => report::ipc_table(&r, !no_host),
                Format::Json => format!("{:#}\n", report::ipc_json(&r, !no_host)),
                Format::Csv => report::ipc_csv(&r, !no_host),
            };
            out!(o, "{out}");
        }
        Command::Explain { arch, uarch, kernel, warmup, no_fastpath, format } => {
            let mut system = SystemConfig::builtin(&arch, &uarch, &kernel)?;
            system.fastpath = !no_fastpath;
            let title = format!(
                "One IPC of the ping-pong, {kernel} kernel on {uarch} ({arch}), fastpath {}, after {warmup} warm-up round trips",
                if no_fastpath { "off" } else { "on" }
            );
            let ex = l4sim::explain::explain(&IpcConfig { system, samples: 1, warmup, speed_rounds: 0 })?;
            match Format::from(format) {
                Format::Json => outln!(o, "{:#}", l4sim::explain::json(&ex)),
                _ => out!(o, "{}", l4sim::explain::text(&ex, &title)),
            }
        }
        Command::Model { cmd } => match cmd {
            ModelCmd::List => {
                outln!(
                    o,
                    "{:<12} {:<6} {:<12} {:>6} {:>10}  machine",
                    "profile",
                    "arch",
                    "guests",
                    "MHz",
                    "estimates"
                );
                for (name, text) in builtin::PROFILES {
                    let p = Profile::from_toml(text, name)?;
                    outln!(
                        o,
                        "{:<12} {:<6} {:<12} {:>6} {:>4} of {:<3}  {}",
                        p.name,
                        p.arch,
                        p.guest_arches().join(","),
                        p.mhz.value,
                        p.estimate_count(),
                        p.params().len(),
                        p.machine
                    );
                }
                outln!(o, "\n{:<20} {:<22} {:>10}  kernel", "kernel preset", "ISAs", "est. steps");
                for (name, text) in builtin::PRESETS {
                    let k = KernelPreset::from_toml(text, name)?;
                    let isas: Vec<&str> = k.code.keys().map(String::as_str).collect();
                    let (est, steps) = k
                        .code
                        .iter()
                        .fold((0, 0), |(e, n), (isa, c)| (e + k.estimate_count(isa), n + c.steps().len()));
                    outln!(
                        o,
                        "{:<20} {:<22} {:>4} of {:<3}  {}",
                        k.name,
                        isas.join(","),
                        est,
                        steps,
                        k.description
                    );
                }
            }
            ModelCmd::Show { name } => {
                if builtin::profile(&name).is_none() {
                    if let Some(text) = builtin::preset(&name) {
                        out!(o, "{}", report::preset_text(&KernelPreset::from_toml(text, &name)?));
                        return Ok(());
                    }
                }
                let text = builtin::profile(&name).ok_or_else(|| Error::Unknown {
                    what: "profile or kernel preset",
                    name: name.clone(),
                    known: builtin::PROFILES
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(builtin::PRESETS.iter().map(|(n, _)| *n))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
                let p = Profile::from_toml(text, &name)?;
                outln!(o, "{} — {} ({}, Unicorn CPU {})", p.name, p.machine, p.arch, p.unicorn_cpu);
                outln!(o, "guest architectures: {}", p.guest_arches().join(", "));
                if p.family() == Some(simcore::Family::X86) {
                    let f = &p.features;
                    outln!(
                        o,
                        "features: global pages {}, PCID {}, NX {}, sysenter {}, syscall {}",
                        f.global_pages,
                        f.pcid,
                        f.nx,
                        f.sysenter,
                        f.syscall
                    );
                }
                outln!(o, "{} parameters, {} of them estimates\n", p.params().len(), p.estimate_count());
                for (n, v) in p.params() {
                    let tag = if v.is_estimate() { "E" } else { "S" };
                    outln!(o, "{n:<40} {:>10}  [{tag}] {}", v.value, v.provenance());
                }
            }
            ModelCmd::Validate { file } => {
                let p = Profile::load(&file)?;
                outln!(
                    o,
                    "{}: valid, {} parameters, {} estimates",
                    file.display(),
                    p.params().len(),
                    p.estimate_count()
                );
            }
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut o = String::new();
    let result = run(cli, &mut o);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(o.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("l4sim: cannot write the report: {e}");
            return ExitCode::FAILURE;
        }
        _ => {}
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l4sim: {e}");
            ExitCode::FAILURE
        }
    }
}
