//! seL4 as it is today (preset `sel4-today`), with the x86-64 Meltdown skim window switchable.

use l4sim::ipc::{self, IpcConfig, IpcResult};
use l4sim::system::SystemConfig;
use simcore::{Category, Primitive};

fn run(arch: &str, uarch: &str, skim: Option<bool>) -> IpcResult {
    let mut system = SystemConfig::builtin(arch, uarch, "sel4-today").unwrap();
    if let Some(on) = skim {
        system.set_skim_window(on).unwrap();
    }
    ipc::run(&IpcConfig { system, samples: 8, warmup: 8, speed_rounds: 0 }).unwrap()
}

fn cr3(uarch: &str) -> u64 {
    let p = simcore::Profile::from_toml(l4sim::builtin::profile(uarch).unwrap(), uarch).unwrap();
    simcore::CostModel::new(p).price_primitive(Primitive::Cr3Write).round() as u64
}

#[test]
fn the_skim_window_moves_the_cr3_write_from_the_switch_to_every_entry_and_exit() {
    for uarch in ["haswell", "skylake"] {
        let on = run("x86_64", uarch, Some(true));
        let off = run("x86_64", uarch, Some(false));
        // Off: one CR3 write at the thread switch; on: one after the entry and one before the exit.
        assert_eq!(off.call.breakdown.get(Category::AddressSpaceSwitch), cr3(uarch), "{uarch}");
        assert_eq!(on.call.breakdown.get(Category::AddressSpaceSwitch), 2 * cr3(uarch), "{uarch}");
        // PCIDs: neither write flushes.
        assert_eq!(on.call.breakdown.get(Category::TlbMiss), 0, "{uarch}");
        assert!(on.call.median > off.call.median);
        assert_eq!(on.call.breakdown.total(), on.call.median);
        // The preset's default is seL4's: on.
        assert_eq!(run("x86_64", uarch, None).call.median, on.call.median);
    }
}

#[test]
fn without_pcids_the_skim_window_flushes_the_tlb_on_every_crossing() {
    let on = run("x86_64", "nehalem", Some(true));
    let off = run("x86_64", "nehalem", Some(false));
    assert!(on.call.breakdown.get(Category::TlbMiss) > off.call.breakdown.get(Category::TlbMiss));
}

#[test]
fn aarch32_has_no_skim_window_and_asking_for_one_is_an_error() {
    let r = run("armv7", "cortex-a9", None);
    assert_eq!(r.call.breakdown.total(), r.call.median);
    assert_eq!(r.paths.0, 16);
    let mut system = SystemConfig::builtin("armv7", "cortex-a9", "sel4-today").unwrap();
    assert!(system.set_skim_window(true).unwrap_err().to_string().contains("skim window"));
    assert!(system.set_skim_window(false).is_ok());
}

#[test]
fn fpu_switching_adds_the_state_save_and_restore_to_every_switch() {
    for (arch, uarch) in [("armv7", "cortex-a9"), ("x86_64", "skylake")] {
        let mut off = SystemConfig::builtin(arch, uarch, "sel4-today").unwrap();
        off.set_fpu_switch(false).unwrap();
        let mut on = off.clone();
        on.set_fpu_switch(true).unwrap();
        let run = |s: SystemConfig| {
            ipc::run(&IpcConfig { system: s, samples: 8, warmup: 8, speed_rounds: 0 }).unwrap()
        };
        let (a, b) = (run(off), run(on));
        assert!(b.call.median > a.call.median, "{arch}");
        assert_eq!(b.call.breakdown.total(), b.call.median);
        // The hardware part that is not about the FPU does not change.
        for c in [Category::TrapEntry, Category::TrapExit, Category::AddressSpaceSwitch] {
            assert_eq!(a.call.breakdown.get(c), b.call.breakdown.get(c), "{arch}: {}", c.name());
        }
    }
    // A preset without FPU switching cannot be asked for it.
    let mut c = SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    assert!(c.set_fpu_switch(true).is_err());
}
