//! Model-only runs: the kernel's paths on the cost model with a scripted user side, for the CPUs
//! of Table I that cannot be emulated (MIPS R4700, Alpha 21064, Itanium 2).

use l4sim::ipc::{self, IpcConfig, RunKind};
use l4sim::system::{System, SystemConfig};

const ROWS: [(&str, &str, &str); 3] = [
    ("mips64", "r4700", "l4-mips"),
    ("alpha", "alpha21064", "l4-alpha"),
    ("ia64", "itanium2", "pistachio-ia64"),
];

fn run(arch: &str, uarch: &str, kernel: &str) -> ipc::IpcResult {
    let system = SystemConfig::builtin(arch, uarch, kernel).unwrap();
    ipc::run(&IpcConfig { system, samples: 8, warmup: 8, speed_rounds: 0 }).unwrap()
}

#[test]
fn each_model_only_row_runs_the_kernels_fastpath_with_a_breakdown_that_sums() {
    for (arch, uarch, kernel) in ROWS {
        let r = run(arch, uarch, kernel);
        assert_eq!(r.run_kind, RunKind::ModelOnly, "{arch}");
        assert_eq!(r.call.breakdown.total(), r.call.median, "{arch}");
        assert_eq!(r.reply.breakdown.total(), r.reply.median, "{arch}");
        // Every Call and every ReplyRecv after the server's first Recv takes the fastpath.
        assert_eq!(r.paths, (16, 16, 1), "{arch}");
        assert!(r.call.breakdown.hardware_limit() > 0);
        let json = l4sim::report::ipc_json(&r, false);
        assert_eq!(json["run_kind"], "model-only");
        let again = l4sim::report::ipc_json(&run(arch, uarch, kernel), false);
        assert_eq!(json, again, "{arch}: deterministic");
    }
}

#[test]
fn the_alpha_21064s_untagged_tlb_refills_after_every_switch_and_the_tagged_ones_do_not() {
    let alpha = run("alpha", "alpha21064", "l4-alpha");
    assert!(alpha.call.breakdown.get(simcore::Category::TlbMiss) > 0);
    for (arch, uarch, kernel) in [ROWS[0], ROWS[2]] {
        assert_eq!(run(arch, uarch, kernel).call.breakdown.get(simcore::Category::TlbMiss), 0, "{arch}");
    }
}

#[test]
fn model_only_cpus_and_emulated_guests_do_not_mix() {
    // A model-only profile cannot run emulated guests, and an emulated profile has no model-only ISA.
    let c = SystemConfig::builtin("armv7", "r4700", "sel4").unwrap();
    assert!(System::new(c).is_err());
    let c = SystemConfig::builtin("mips64", "cortex-a9", "l4-mips").unwrap();
    assert!(ipc::run(&IpcConfig { system: c, samples: 4, warmup: 0, speed_rounds: 0 }).is_err());
    // A preset without paths for the ISA is a clear error.
    let c = SystemConfig::builtin("ia64", "itanium2", "sel4").unwrap();
    let e = ipc::run(&IpcConfig { system: c, samples: 4, warmup: 0, speed_rounds: 0 }).unwrap_err();
    assert!(e.to_string().contains("ia64"), "{e}");
}

#[test]
fn table1_labels_the_three_rows_model_only() {
    let rows = l4sim::table1::run().unwrap();
    let kinds: Vec<&str> = rows
        .iter()
        .filter(|r| ["L4/MIPS", "L4/Alpha", "Pistachio"].contains(&r.paper.kernel.as_str()))
        .map(|r| r.kind.name())
        .collect();
    assert_eq!(kinds, vec!["model-only"; 3]);
}

#[test]
fn explain_takes_a_model_only_ipc_apart_into_steps_that_sum_to_it() {
    let system = SystemConfig::builtin("ia64", "itanium2", "pistachio-ia64").unwrap();
    let cfg = IpcConfig { system, samples: 4, warmup: 4, speed_rounds: 0 };
    let ex = l4sim::explain::explain(&cfg).unwrap();
    let r = ipc::run(&cfg).unwrap();
    for (e, one_way) in ex.iter().zip([r.call.median, r.reply.median]) {
        let sum: u64 = e.steps.iter().map(|s| s.cycles).sum();
        assert_eq!(sum, e.between_reads);
        assert_eq!(e.counter_overhead, 0, "no counter read in a scripted run");
        assert_eq!(e.between_reads, one_way, "{}: the explained IPC is a measured one", e.direction);
    }
}

#[test]
fn every_preset_runs_its_slowpath_on_the_cpus_of_its_rows_and_counts_its_stand_ins() {
    for (arch, uarch, kernel) in [
        ("mips64", "r4700", "l4-mips"),
        ("ia32", "i486", "original-l4-486"),
        ("ia32", "pentium2", "hazelnut"),
        ("ia32", "nehalem", "nova"),
        ("armv5", "xscale", "okl4"),
        ("x86_64", "skylake", "sel4-today"),
    ] {
        let mut system = SystemConfig::builtin(arch, uarch, kernel).unwrap();
        let fast =
            ipc::run(&IpcConfig { system: system.clone(), samples: 4, warmup: 4, speed_rounds: 0 }).unwrap();
        system.fastpath = false;
        let slow = ipc::run(&IpcConfig { system, samples: 4, warmup: 4, speed_rounds: 0 }).unwrap();
        assert_eq!(slow.paths.0 + slow.paths.1, 0, "{kernel}: no fastpath");
        assert_eq!(slow.call.breakdown.total(), slow.call.median, "{kernel}");
        assert!(slow.call.median > fast.call.median, "{kernel}");
        // The slowpath's stand-in steps are estimates the slow IPC depends on.
        assert!(slow.preset_estimates > fast.preset_estimates, "{kernel}");
    }
}

#[test]
fn ia64_paths_are_priced_as_their_instruction_group_schedule() {
    let r = run("ia64", "itanium2", "pistachio-ia64");
    // The check stage: 9 groups of one cycle each and the ar.k7 stall of up to 8 cycles.
    assert_eq!(r.call.breakdown.get(simcore::Category::KernelPath), 9 + 8);
    // The switch stage's 17 groups, split between parking the sender and restoring the receiver.
    let b = &r.call.breakdown;
    assert_eq!(b.get(simcore::Category::StateSave) + b.get(simcore::Category::StateRestore), 17);
    // A profile that does not price instruction groups cannot run a preset given as groups.
    let text = l4sim::builtin::profile("itanium2").unwrap();
    let text: String =
        text.lines().filter(|l| !l.starts_with("instruction_group")).collect::<Vec<_>>().join("\n");
    let mut system = SystemConfig::builtin("ia64", "itanium2", "pistachio-ia64").unwrap();
    system.profile = simcore::Profile::from_toml(&text, "no-groups").unwrap();
    let e = ipc::run(&IpcConfig { system, samples: 2, warmup: 0, speed_rounds: 0 }).unwrap_err();
    assert!(e.to_string().contains("instruction_group"), "{e}");
}
