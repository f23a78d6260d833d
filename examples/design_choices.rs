//! The design choices of the paper's Table IV, switched one at a time on one kernel and machine:
//! original L4 on the 486 with each mechanism of its preset turned off in turn, so that the cycles
//! each one costs (or saves) in a one-way IPC show up side by side.
//!
//! `cargo run --release --example design_choices`

use l4sim::ipc::{self, IpcConfig};
use l4sim::kernel::preset::KernelStack;
use l4sim::system::SystemConfig;

fn main() -> Result<(), l4sim::Error> {
    let base = SystemConfig::builtin("ia32", "i486", "original-l4-486")?;
    type Tweak = fn(&mut l4sim::kernel::preset::Design);
    let variants: [(&str, Tweak); 4] = [
        ("as published (thread IDs, timeouts, per-thread stacks, lazy scheduling)", |_| {}),
        ("without the timeout check", |d| d.timeouts = false),
        ("with one kernel stack (no per-thread stack switch)", |d| d.kernel_stack = KernelStack::PerCpu),
        ("with Benno instead of lazy scheduling", |d| d.lazy_scheduling = false),
    ];
    println!("original L4 on the i486, one-way IPC (Call), cycles:");
    for (what, tweak) in variants {
        let mut system = base.clone();
        let mut design = system.preset.design();
        tweak(&mut design);
        system.preset.design = Some(design);
        let r = ipc::run(&IpcConfig { system, samples: 16, warmup: 16, speed_rounds: 0 })?;
        println!("  {:>5}  {what}", r.call.median);
    }
    Ok(())
}
