//! The design choices of the paper's Table IV as kernel mechanisms, switched one by one on the
//! seL4 preset's paths (so that each difference is the mechanism's alone): thread IDs as IPC
//! targets, timeouts, per-thread kernel stacks, lazy scheduling, small spaces. Every mechanism
//! step is given the same test counts here; real presets give their kernels' counts.

use l4sim::ipc::{self, IpcConfig, IpcResult};
use l4sim::kernel::preset::KernelPreset;
use l4sim::kernel::types::Rights;
use l4sim::system::{CapSpec, RunExit, System, SystemConfig, ThreadSpec};
use simcore::Category;

const BACKENDS: [(&str, &str); 4] =
    [("armv7", "cortex-a9"), ("ia32", "haswell"), ("ia32", "i486"), ("x86_64", "haswell")];

/// The seL4 preset with a `[design]` and the mechanism steps for every ISA it covers.
fn preset(design: &str) -> KernelPreset {
    let mut text = l4sim::builtin::preset("sel4").unwrap().to_string();
    text.push_str(&format!("\n[design]\n{design}\nestimate = \"test\"\n"));
    for isa in ["aarch32", "ia32", "x86_64"] {
        for step in ["thread_id_lookup", "timeout_check", "stack_switch"] {
            text.push_str(&format!(
                "\n[code.{isa}.{step}]\nalu = 4\nload = 2\nstore = 1\nbranch = 1\nload_chain = 1\nestimate = \"test\"\n"
            ));
        }
    }
    KernelPreset::from_toml(&text, "test").unwrap()
}

fn config(arch: &str, uarch: &str, design: Option<&str>) -> SystemConfig {
    let mut c = SystemConfig::builtin(arch, uarch, "sel4").unwrap();
    if let Some(d) = design {
        c.preset = preset(d);
    }
    c
}

fn pingpong(arch: &str, uarch: &str, design: Option<&str>) -> IpcResult {
    let cfg = IpcConfig { system: config(arch, uarch, design), samples: 8, warmup: 8, speed_rounds: 0 };
    ipc::run(&cfg).unwrap_or_else(|e| panic!("{arch} on {uarch} with {design:?}: {e}"))
}

#[test]
fn thread_id_ipc_names_the_receiver_and_delivers_the_senders_id() {
    for (arch, uarch) in BACKENDS {
        let what = format!("{arch} on {uarch}");
        let mut sys = System::new(config(arch, uarch, Some("ipc_target = \"thread_id\""))).unwrap();
        // No endpoint is needed: the server receives on its own queue, the client names it.
        let ep = sys.endpoint().unwrap();
        let server = sys
            .thread(
                ThreadSpec::new("server", sys.builtin_guest("pingpong-server").unwrap())
                    .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
            )
            .unwrap();
        let server_id = sys.kernel().thread_id(server).expect("a thread-ID kernel gives IDs");
        let client = sys
            .thread(
                ThreadSpec::new("client", sys.builtin_guest("pingpong-client").unwrap())
                    .patch("warmup", 2)
                    .patch("samples", 5)
                    .patch("dest", server_id),
            )
            .unwrap();
        let client_id = sys.kernel().thread_id(client).unwrap();
        assert_ne!(client_id, server_id);
        assert_eq!(sys.run(u64::MAX / 2).unwrap(), RunExit::Halted(client), "{what}");
        assert!(sys.kernel().events().is_empty(), "{what}: {:?}", sys.kernel().events());
        assert_eq!(sys.read_words(client, "error_info", 1).unwrap()[0], 0, "{what}");
        // The receiver learns who sent: the sender's thread ID, on every one of the 7 calls.
        assert_eq!(sys.read_words(server, "badge_sum", 1).unwrap()[0] as u64, client_id * 7, "{what}");
    }
}

#[test]
fn calling_a_thread_id_that_names_no_thread_is_a_capability_fault_not_a_panic() {
    let mut sys = System::new(config("armv7", "cortex-a9", Some("ipc_target = \"thread_id\""))).unwrap();
    let client = sys
        .thread(
            ThreadSpec::new("client", sys.builtin_guest("pingpong-client").unwrap())
                .patch("samples", 1)
                .patch("dest", 4711),
        )
        .unwrap();
    let exit = sys.run(10_000_000).unwrap();
    assert_ne!(exit, RunExit::Halted(client));
    assert!(!sys.kernel().events().is_empty(), "the bad destination is reported as a fault");
}

#[test]
fn each_mechanism_adds_its_work_to_the_ipc_path_and_nothing_else() {
    for (arch, uarch) in BACKENDS {
        let base = pingpong(arch, uarch, None);
        for design in ["timeouts = true", "kernel_stack = \"per_thread\"", "ipc_target = \"thread_id\""] {
            let r = pingpong(arch, uarch, Some(design));
            let what = format!("{arch} on {uarch} with {design}");
            assert!(r.paths.0 + 1 >= base.paths.0, "{what}: the fastpath carries the IPCs");
            assert_eq!(r.call.breakdown.total(), r.call.median, "{what}");
            assert!(
                r.call.breakdown.get(Category::KernelPath) > base.call.breakdown.get(Category::KernelPath),
                "{what}: kernel path {} vs {}",
                r.call.breakdown.get(Category::KernelPath),
                base.call.breakdown.get(Category::KernelPath)
            );
            // The hardware part of the IPC is the same mechanism-independent work.
            for c in [Category::TrapEntry, Category::TrapExit, Category::AddressSpaceSwitch] {
                assert_eq!(r.call.breakdown.get(c), base.call.breakdown.get(c), "{what}: {}", c.name());
            }
        }
    }
}

#[test]
fn lazy_scheduling_leaves_a_blocked_thread_queued_where_benno_scheduling_does_not() {
    for (arch, uarch) in BACKENDS {
        let base = pingpong(arch, uarch, None);
        let lazy = pingpong(arch, uarch, Some("lazy_scheduling = true"));
        assert_eq!(lazy.paths, base.paths, "{arch} on {uarch}: the same IPC protocol");
        assert_eq!(lazy.call.breakdown.total(), lazy.call.median);
        for (design, queued) in [(None, false), (Some("lazy_scheduling = true"), true)] {
            let mut sys = System::new(config(arch, uarch, design)).unwrap();
            let ep = sys.endpoint().unwrap();
            let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
            let client = sys
                .thread(
                    ThreadSpec::new("client", sys.builtin_guest("pingpong-client").unwrap())
                        .cap(1, CapSpec::Endpoint { ep, badge: 1, rights })
                        .patch("warmup", 0)
                        .patch("samples", 3),
                )
                .unwrap();
            let server = sys
                .thread(
                    ThreadSpec::new("server", sys.builtin_guest("pingpong-server").unwrap())
                        .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
                )
                .unwrap();
            assert_eq!(sys.run(u64::MAX / 2).unwrap(), RunExit::Halted(client));
            // The client was chosen by the scheduler once and has run ever since by direct
            // switches, blocking in every Call: Benno took it out of the ready queue when it was
            // chosen; lazy scheduling leaves it there, blocked or not, until the scheduler meets
            // it blocked (it never does here: the fastpath switches without the scheduler).
            assert!(!sys.kernel().tcb(server).unwrap().state.is_runnable(), "{arch}: server waits");
            let c = sys.kernel().tcb(client).unwrap();
            assert_eq!(c.queued, queued, "{arch} on {uarch} with {design:?}: ready-queue membership");
        }
    }
}

#[test]
fn small_spaces_keep_the_tlb_across_a_switch_on_a_cpu_that_would_flush_it() {
    // IA-32 seL4 on Haswell without PCIDs: every page-table switch flushes the user TLB entries.
    let small = "address_spaces = \"small_spaces\"";
    let flat = pingpong("ia32", "haswell", None);
    assert!(flat.call.breakdown.get(Category::TlbMiss) > 0);
    let kept = pingpong("ia32", "haswell", Some(small));
    assert_eq!(kept.call.breakdown.get(Category::TlbMiss), 0, "no refills when nothing is flushed");
    // The i486's 32-entry TLB cannot hold both spaces and the kernel: fewer misses, not none.
    let flat = pingpong("ia32", "i486", None);
    let kept = pingpong("ia32", "i486", Some(small));
    assert!(kept.call.breakdown.get(Category::TlbMiss) < flat.call.breakdown.get(Category::TlbMiss));
}

#[test]
fn a_design_that_needs_a_mechanism_step_the_preset_lacks_is_refused() {
    let mut text = l4sim::builtin::preset("sel4").unwrap().to_string();
    text.push_str("\n[design]\ntimeouts = true\nsource = \"x\"\n");
    let e = KernelPreset::from_toml(&text, "t").unwrap_err().to_string();
    assert!(e.contains("timeout_check"), "{e}");
    let mut text = l4sim::builtin::preset("sel4").unwrap().to_string();
    text.push_str("\n[design]\nipc_target = \"names\"\nsource = \"x\"\n");
    assert!(KernelPreset::from_toml(&text, "t").is_err());
}

#[test]
fn fass_keeps_the_xscales_virtually_tagged_caches_and_tlbs_across_a_switch() {
    // The XScale's caches are virtually tagged with no address-space tag: a plain page-table
    // switch must invalidate them, so every IPC refills; FASS relocates each space (FCSE PID) and
    // tags it (ARM domains), so nothing is flushed.
    let flat = pingpong("armv5", "xscale", None);
    assert!(flat.call.breakdown.get(Category::CacheMiss) > 0);
    let fass = pingpong("armv5", "xscale", Some("address_spaces = \"fass\""));
    assert_eq!(fass.call.breakdown.get(Category::CacheMiss), 0);
    assert_eq!(fass.call.breakdown.get(Category::TlbMiss), 0);
    assert!(fass.call.median < flat.call.median);
}

#[test]
fn malformed_skim_window_sections_and_layouts_are_errors_not_panics() {
    let base = l4sim::builtin::preset("sel4-today").unwrap();
    for (bad, what) in [
        (base.replace("entry = [\"cr3_write\"]", "entry = [\"cr4_write\"]"), "cr4_write"),
        (base.replace("[skim_window.x86_64.steps.exit]", "[skim_window.x86_64.steps.exitt]"), "exitt"),
    ] {
        let e = KernelPreset::from_toml(&bad, "t").unwrap_err().to_string();
        assert!(e.contains(what), "{e}");
    }
    // A kernel text placed beyond the kernel image is refused.
    let mut c = SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    c.kernel_text_offset = 2 << 20;
    assert!(System::new(c).is_err());
}
