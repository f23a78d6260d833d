//! The same scenarios on every backend: ARMv7 on the Cortex-A9; IA-32 with `sysenter` (Haswell)
//! and through an `int` gate (i486, which has no sysenter); x86-64 with `syscall` (Haswell). One
//! kernel, the built-in profiles and seL4 preset. Behaviour only (the cycles differ by design).

use l4sim::ipc::{self, IpcConfig};
use l4sim::kernel::object::{Fault, ThreadState};
use l4sim::kernel::types::{MessageInfo, Rights, SysError};
use l4sim::kernel::KernelEvent;
use l4sim::machine::GuestEntry;
use l4sim::system::{CapSpec, RunExit, System, SystemConfig, ThreadSpec};

/// (guest architecture, profile, the kernel entry the preset must choose there).
const BACKENDS: [(&str, &str, GuestEntry); 4] = [
    ("armv7", "cortex-a9", GuestEntry::Svc),
    ("ia32", "haswell", GuestEntry::Sysenter),
    ("ia32", "i486", GuestEntry::Int),
    ("x86_64", "haswell", GuestEntry::Syscall),
];

fn config(arch: &str, uarch: &str) -> SystemConfig {
    SystemConfig::builtin(arch, uarch, "sel4").unwrap_or_else(|e| panic!("{arch} on {uarch}: {e}"))
}

fn system(arch: &str, uarch: &str) -> System {
    System::new(config(arch, uarch)).unwrap_or_else(|e| panic!("{arch} on {uarch}: {e}"))
}

fn guest(sys: &System, name: &str) -> &'static [u8] {
    sys.builtin_guest(name).unwrap()
}

#[test]
fn each_backend_enters_the_kernel_the_way_the_preset_chooses_for_its_cpu() {
    for (arch, uarch, entry) in BACKENDS {
        assert_eq!(system(arch, uarch).guest_entry(), entry, "{arch} on {uarch}");
    }
}

#[test]
fn the_pingpong_completes_on_the_fastpath_on_every_backend() {
    for (arch, uarch, _) in BACKENDS {
        let r = ipc::run(&IpcConfig { system: config(arch, uarch), samples: 16, warmup: 4, speed_rounds: 0 })
            .unwrap_or_else(|e| panic!("{arch} on {uarch}: {e}"));
        assert_eq!(r.call.breakdown.total(), r.call.median, "{arch} on {uarch}");
        assert_eq!(r.reply.breakdown.total(), r.reply.median, "{arch} on {uarch}");
        assert_eq!(r.paths.0, 20, "{arch} on {uarch}: every Call on the fastpath");
        assert_eq!(r.paths.1, 20, "{arch} on {uarch}: every ReplyRecv on the fastpath");
        assert!(r.call.median > 0, "{arch} on {uarch}");
    }
}

#[test]
fn results_are_deterministic_on_every_backend() {
    for (arch, uarch, _) in BACKENDS {
        let run = || {
            let r =
                ipc::run(&IpcConfig { system: config(arch, uarch), samples: 8, warmup: 2, speed_rounds: 0 })
                    .unwrap();
            (r.call, r.reply, r.paths)
        };
        assert_eq!(run(), run(), "{arch} on {uarch}");
    }
}

#[test]
fn calls_block_until_replied_and_each_clients_badge_arrives_on_every_backend() {
    // Two clients with badges 1 and 2 in their own address spaces (same virtual addresses, other
    // frames) call one server, which adds up the badges it receives. Resumed last, b runs first;
    // each of its Calls blocks it until the reply, and the fastpath switches directly between b
    // and the server, so a (ready, same priority) never runs before b halts: the server has seen
    // exactly b's 30 calls with badge 2.
    for (arch, uarch, _) in BACKENDS {
        let what = format!("{arch} on {uarch}");
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
        let spec = |name: &str, badge: u64, samples: u64| {
            ThreadSpec::new(name, guest(&sys, "pingpong-client"))
                .cap(1, CapSpec::Endpoint { ep, badge, rights })
                .patch("warmup", 0)
                .patch("samples", samples)
        };
        let (spec_a, spec_b) = (spec("a", 1, 60), spec("b", 2, 30));
        let a = sys.thread(spec_a).unwrap();
        let b = sys.thread(spec_b).unwrap();
        let server_spec = ThreadSpec::new("server", guest(&sys, "pingpong-server"))
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ });
        let server = sys.thread(server_spec).unwrap();
        assert_eq!(sys.run(u64::MAX / 2).unwrap(), RunExit::Halted(b), "{what}");
        assert!(sys.kernel().events().is_empty(), "{what}: {:?}", sys.kernel().events());
        assert_eq!(sys.read_words(b, "error_info", 1).unwrap()[0], 0, "{what}");
        assert_eq!(sys.read_words(server, "badge_sum", 1).unwrap()[0], 2 * 30, "{what}");
        assert_eq!(sys.kernel().tcb(a).unwrap().state, ThreadState::Running, "{what}: a is ready");
        assert_eq!(sys.read_words(a, "results", 4).unwrap(), vec![0; 4], "{what}: a never ran");
        let rb = sys.read_words(b, "results", 4 * 30).unwrap();
        for s in rb.chunks(4) {
            assert!(s[0] < s[1] && s[1] <= s[2] && s[2] < s[3], "{what}: {s:?}");
        }

        // One client alone: every one of its calls arrives with its badge.
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let spec = ThreadSpec::new("c", guest(&sys, "pingpong-client"))
            .cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights })
            .patch("warmup", 3)
            .patch("samples", 7);
        let c = sys.thread(spec).unwrap();
        let server_spec = ThreadSpec::new("server", guest(&sys, "pingpong-server"))
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ });
        let server = sys.thread(server_spec).unwrap();
        assert_eq!(sys.run(u64::MAX / 2).unwrap(), RunExit::Halted(c), "{what}");
        assert_eq!(sys.read_words(server, "badge_sum", 1).unwrap()[0], 0x61 * 10, "{what}");
    }
}

fn call_label(
    arch: &str,
    uarch: &str,
    caps: impl FnOnce(&mut System) -> Vec<(usize, CapSpec)>,
    target: u64,
) -> u64 {
    let mut sys = system(arch, uarch);
    let caps = caps(&mut sys);
    let mut spec = ThreadSpec::new("errors", guest(&sys, "errors-client")).patch("target_cptr", target);
    for (slot, c) in caps {
        spec = spec.cap(slot, c);
    }
    let t = sys.thread(spec).unwrap();
    assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Halted(t), "{arch} on {uarch}");
    MessageInfo::from_word(u64::from(sys.read_words(t, "result_info", 1).unwrap()[0])).label
}

#[test]
fn invocation_errors_are_sel4_errors_on_every_backend() {
    for (arch, uarch, _) in BACKENDS {
        let read_only = |sys: &mut System| {
            let ep = sys.endpoint().unwrap();
            vec![(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })]
        };
        let what = format!("{arch} on {uarch}");
        assert_eq!(call_label(arch, uarch, read_only, 1), SysError::InvalidCapability as u64, "{what}");
        assert_eq!(call_label(arch, uarch, |_| vec![], 5), SysError::InvalidCapability as u64, "{what}");
        assert_eq!(
            call_label(arch, uarch, |_| vec![(2, CapSpec::OwnCNode)], 2),
            SysError::IllegalOperation as u64,
            "{what}"
        );
    }
}

#[test]
fn bad_loads_are_vm_faults_on_every_backend() {
    for (arch, uarch, _) in BACKENDS {
        for (name, addr) in [("fault-unmapped", 4u64), ("fault-kernel", 0)] {
            let mut sys = system(arch, uarch);
            let t = sys.thread(ThreadSpec::new(name, guest(&sys, name))).unwrap();
            assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Idle, "{arch} {name}");
            assert_eq!(sys.kernel().tcb(t).unwrap().state, ThreadState::Inactive);
            match sys.kernel().events() {
                [KernelEvent::Fault {
                    fault: Fault::VmFault { addr: a, instruction: false, .. },
                    delivered: false,
                    ..
                }] => {
                    if addr != 0 {
                        assert_eq!(*a, addr, "{arch} {name}");
                    } else {
                        assert!(*a >= 0xE000_0000, "{arch} {name}: a kernel address, got {a:#x}");
                    }
                }
                other => panic!("{arch} on {uarch} {name}: expected one data VM fault, got {other:?}"),
            }
        }
    }
}

#[test]
fn several_faults_in_one_run_are_each_a_vm_fault_on_every_backend() {
    // x86: each fault is taken in the emulator's interrupt hook; a CPU that remembered the previous
    // exception would turn the next page fault into a double fault.
    for (arch, uarch, _) in BACKENDS {
        let mut sys = system(arch, uarch);
        let names = ["fault-unmapped", "fault-kernel", "fault-unmapped", "fault-kernel"];
        let ts: Vec<_> = names
            .iter()
            .map(|n| {
                let spec = ThreadSpec::new(n, guest(&sys, n));
                sys.thread(spec).unwrap()
            })
            .collect();
        assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Idle, "{arch} on {uarch}");
        let faults: Vec<_> = sys
            .kernel()
            .events()
            .iter()
            .map(|e| match e {
                KernelEvent::Fault { fault: Fault::VmFault { .. }, delivered: false, .. } => true,
                other => panic!("{arch} on {uarch}: expected only VM faults, got {other:?}"),
            })
            .collect();
        assert_eq!(faults.len(), names.len(), "{arch} on {uarch}");
        for t in ts {
            assert_eq!(sys.kernel().tcb(t).unwrap().state, ThreadState::Inactive, "{arch} on {uarch}");
        }
    }
}

#[test]
fn every_builtin_profile_runs_the_pingpong_on_each_guest_architecture_it_lists() {
    for (name, toml) in l4sim::builtin::PROFILES {
        let profile = simcore::Profile::from_toml(toml, name).unwrap();
        for arch in profile.guest_arches() {
            if l4sim::model_only::is_model_only(&arch) {
                continue; // no seL4 paths for these ISAs: tests/model_only.rs runs their kernels
            }
            let cfg = || IpcConfig { system: config(&arch, name), samples: 8, warmup: 4, speed_rounds: 0 };
            let r = ipc::run(&cfg()).unwrap_or_else(|e| panic!("{arch} on {name}: {e}"));
            assert!(r.call.median > 0, "{arch} on {name}");
            assert_eq!(r.call.breakdown.total(), r.call.median, "{arch} on {name}: call breakdown");
            assert_eq!(r.reply.breakdown.total(), r.reply.median, "{arch} on {name}: reply breakdown");
            assert_eq!(r.paths.0, 12, "{arch} on {name}: every Call on the fastpath");
            let again = ipc::run(&cfg()).unwrap();
            assert_eq!(
                l4sim::report::ipc_json(&r, false).to_string(),
                l4sim::report::ipc_json(&again, false).to_string(),
                "{arch} on {name}: not deterministic"
            );
        }
    }
}

#[test]
fn x86_64_on_a_cpu_without_long_mode_is_a_clear_error() {
    for uarch in ["i486", "pentium", "pentium2", "pentium4"] {
        let e = SystemConfig::builtin("x86_64", uarch, "sel4")
            .map_err(|e| e.to_string())
            .and_then(|c| System::new(c).map(|_| ()).map_err(|e| e.to_string()))
            .expect_err(uarch);
        assert!(e.contains("x86_64") || e.contains("syscall"), "{uarch}: {e}");
    }
}
