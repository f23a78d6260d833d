//! The same scenarios on every backend: ARMv7, IA-32 and x86-64 guests, one kernel.
//! Behaviour only (the cycles differ by design).

use l4sim::builtin;
use l4sim::ipc::{self, IpcConfig};
use l4sim::kernel::object::{Fault, ThreadState};
use l4sim::kernel::types::{MessageInfo, Rights, SysError};
use l4sim::kernel::KernelEvent;
use l4sim::system::{CapSpec, RunExit, System, SystemConfig, ThreadSpec};

const ARCHES: [&str; 3] = ["armv7", "ia32", "x86_64"];

/// A configuration for `arch`: the built-in Cortex-A9 for ARM; for x86 the built-in Haswell
/// profile and seL4 preset when they cover the architecture, else a stand-in (behaviour tests do
/// not depend on prices).
fn config(arch: &str) -> SystemConfig {
    if arch == "armv7" {
        return SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    }
    if let Ok(c) = SystemConfig::builtin(arch, "haswell", "sel4") {
        if c.preset.code.contains_key(arch) {
            return c;
        }
    }
    let mut c = SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    let paths = c.preset.code["aarch32"].clone();
    c.preset.code.insert(arch.to_string(), paths);
    c.preset.vspace_switch.insert(arch.to_string(), vec!["cr3_write".into()]);
    c.profile = simcore::Profile::from_toml(STAND_IN_X86, "stand-in").unwrap();
    c.arch = arch.into();
    c
}

fn guest(arch: &str, name: &str) -> &'static [u8] {
    builtin::guest(arch, name).unwrap()
}

#[test]
fn the_pingpong_completes_on_the_fastpath_on_every_backend() {
    for arch in ARCHES {
        let r = ipc::run(&IpcConfig { system: config(arch), samples: 16, warmup: 4, speed_rounds: 0 })
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(r.call.breakdown.total(), r.call.median, "{arch}");
        assert_eq!(r.paths.0, 20, "{arch}: every Call on the fastpath");
        assert_eq!(r.paths.1, 20, "{arch}: every ReplyRecv on the fastpath");
        assert!(r.call.median > 0, "{arch}");
    }
}

#[test]
fn results_are_deterministic_on_every_backend() {
    for arch in ARCHES {
        let run = || {
            let r = ipc::run(&IpcConfig { system: config(arch), samples: 8, warmup: 2, speed_rounds: 0 })
                .unwrap();
            (r.call, r.reply, r.paths)
        };
        assert_eq!(run(), run(), "{arch}");
    }
}

fn call_label(arch: &str, caps: Vec<(usize, CapSpec)>, target: u64) -> u64 {
    let mut sys = System::new(config(arch)).unwrap();
    let mut spec = ThreadSpec::new("errors", guest(arch, "errors-client")).patch("target_cptr", target);
    for (slot, c) in caps {
        spec = spec.cap(slot, c);
    }
    let t = sys.thread(spec).unwrap();
    assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Halted(t), "{arch}");
    MessageInfo::from_word(u64::from(sys.read_words(t, "result_info", 1).unwrap()[0])).label
}

#[test]
fn invocation_errors_are_sel4_errors_on_every_backend() {
    for arch in ARCHES {
        let mut sys = System::new(config(arch)).unwrap();
        let ep = sys.endpoint().unwrap();
        drop(sys);
        let read_only = vec![(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })];
        assert_eq!(call_label(arch, read_only, 1), SysError::InvalidCapability as u64, "{arch}");
        assert_eq!(call_label(arch, vec![], 5), SysError::InvalidCapability as u64, "{arch}");
        assert_eq!(
            call_label(arch, vec![(2, CapSpec::OwnCNode)], 2),
            SysError::IllegalOperation as u64,
            "{arch}"
        );
    }
}

#[test]
fn bad_loads_are_vm_faults_on_every_backend() {
    for arch in ARCHES {
        for (name, addr) in [("fault-unmapped", 4u64), ("fault-kernel", 0)] {
            let mut sys = System::new(config(arch)).unwrap();
            let t = sys.thread(ThreadSpec::new(name, guest(arch, name))).unwrap();
            assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Idle, "{arch} {name}");
            assert_eq!(sys.kernel().tcb(t).unwrap().state, ThreadState::Inactive);
            match sys.kernel().events() {
                [KernelEvent::Fault { fault: Fault::VmFault { addr: a, .. }, delivered: false, .. }] => {
                    if addr != 0 {
                        assert_eq!(*a, addr, "{arch} {name}");
                    } else {
                        assert!(*a >= 0xE000_0000, "{arch} {name}: a kernel address, got {a:#x}");
                    }
                }
                other => panic!("{arch} {name}: expected one VM fault, got {other:?}"),
            }
        }
    }
}

#[test]
fn several_faults_in_one_run_are_each_a_vm_fault_on_every_backend() {
    // x86: each fault is taken in the emulator's interrupt hook; a CPU that remembered the previous
    // exception would turn the next page fault into a double fault.
    for arch in ARCHES {
        let mut sys = System::new(config(arch)).unwrap();
        let names = ["fault-unmapped", "fault-kernel", "fault-unmapped", "fault-kernel"];
        let ts: Vec<_> =
            names.iter().map(|n| sys.thread(ThreadSpec::new(n, guest(arch, n))).unwrap()).collect();
        assert_eq!(sys.run(10_000_000).unwrap(), RunExit::Idle, "{arch}");
        let faults: Vec<_> = sys
            .kernel()
            .events()
            .iter()
            .map(|e| match e {
                KernelEvent::Fault { fault: Fault::VmFault { .. }, delivered: false, .. } => true,
                other => panic!("{arch}: expected only VM faults, got {other:?}"),
            })
            .collect();
        assert_eq!(faults.len(), names.len(), "{arch}");
        for t in ts {
            assert_eq!(sys.kernel().tcb(t).unwrap().state, ThreadState::Inactive, "{arch}");
        }
    }
}

const STAND_IN_X86: &str = include_str!("../fixtures/test-profiles/stand-in-x86.toml");
