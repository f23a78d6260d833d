//! The ping-pong of Step 1, end to end: two ARMv7 address spaces, an endpoint, Call/ReplyRecv.

mod common;

use l4sim::report;
use simcore::Category;

#[test]
fn the_pingpong_completes_on_the_fastpath_with_a_breakdown_that_sums_to_the_median() {
    let r = common::small_ipc(true);
    assert!(r.call.median > 0 && r.reply.median > 0);
    assert_eq!(r.call.breakdown.total(), r.call.median);
    assert_eq!(r.reply.breakdown.total(), r.reply.median);
    assert!(r.call.min <= r.call.median && r.call.median <= r.call.max);
    // 40 round trips: every Call and every ReplyRecv after the first Recv takes the fastpath.
    assert_eq!(r.paths.0, 40);
    assert_eq!(r.paths.1, 40);
    // The mechanisms the paper's hardware limit names are all present.
    for c in [Category::TrapEntry, Category::TrapExit, Category::StateSave, Category::StateRestore] {
        assert!(r.call.breakdown.get(c) > 0, "{} missing", c.name());
    }
    assert!(r.call.breakdown.get(Category::AddressSpaceSwitch) > 0);
    assert!(r.call.breakdown.get(Category::KernelPath) > 0);
    // The counter-read overhead was measured (one mrc) and subtracted from the user share.
    assert!(r.counter_overhead > 0);
}

#[test]
fn two_runs_give_identical_results() {
    let a = report::ipc_json(&common::small_ipc(true), false).to_string();
    let b = report::ipc_json(&common::small_ipc(true), false).to_string();
    assert_eq!(a, b);
}

#[test]
fn the_slowpath_gives_the_same_protocol_and_costs_more() {
    let fast = common::small_ipc(true);
    let slow = common::small_ipc(false);
    assert_eq!(slow.paths.0 + slow.paths.1, 0, "no fastpath taken when disabled");
    assert!(
        slow.call.median > fast.call.median,
        "slowpath {} vs fastpath {}",
        slow.call.median,
        fast.call.median
    );
    assert!(slow.reply.median > fast.reply.median);
    assert_eq!(slow.call.breakdown.total(), slow.call.median);
}

#[test]
fn warm_caches_leave_no_miss_in_the_median_call() {
    let r = common::small_ipc(true);
    // Hot loop: the working set of two threads and the kernel fits the Cortex-A9's L1 and TLBs.
    assert_eq!(r.call.breakdown.get(Category::TlbMiss), 0);
}

#[test]
fn the_pingpong_also_runs_on_the_arm1136_and_xscale_models() {
    for (arch, uarch) in [("armv6", "arm1136"), ("armv5", "xscale")] {
        let system = l4sim::system::SystemConfig::builtin(arch, uarch, "sel4").expect("config");
        let r = l4sim::ipc::run(&l4sim::ipc::IpcConfig { system, samples: 16, warmup: 4, speed_rounds: 0 })
            .unwrap_or_else(|e| panic!("{uarch}: {e}"));
        assert_eq!(r.call.breakdown.total(), r.call.median, "{uarch}");
        assert_eq!(r.paths.0, 20, "{uarch}: every Call on the fastpath");
        assert!(r.call.median > 0);
    }
}

#[test]
fn three_address_spaces_share_one_server_without_crosstalk() {
    // Two clients in their own address spaces (same virtual addresses, different frames) call one
    // server: more address spaces than the emulator keeps translations for at once, so switches
    // must evict and refill correctly. Wrong translations would run the wrong code or data.
    use l4sim::builtin;
    use l4sim::kernel::types::Rights;
    use l4sim::system::{CapSpec, System, SystemConfig, ThreadSpec};
    let mut sys = System::new(SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap()).unwrap();
    let ep = sys.endpoint().unwrap();
    let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    let client = builtin::guest("armv7", "pingpong-client").unwrap();
    let a = sys
        .thread(
            ThreadSpec::new("a", client)
                .cap(1, CapSpec::Endpoint { ep, badge: 1, rights })
                .patch("samples", 200),
        )
        .unwrap();
    let b = sys
        .thread(
            ThreadSpec::new("b", client)
                .cap(1, CapSpec::Endpoint { ep, badge: 2, rights })
                .patch("samples", 100),
        )
        .unwrap();
    sys.thread(
        ThreadSpec::new("server", builtin::guest("armv7", "pingpong-server").unwrap())
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
    )
    .unwrap();
    let exit = sys.run(u64::MAX / 2).unwrap();
    // b has fewer rounds and finishes first.
    assert_eq!(exit, l4sim::system::RunExit::Halted(b));
    assert!(sys.kernel().events().is_empty(), "no faults: {:?}", sys.kernel().events());
    for t in [a, b] {
        assert_eq!(sys.read_words(t, "error_info", 1).unwrap()[0], 0);
    }
    let rb = sys.read_words(b, "results", 4 * 116).unwrap();
    for s in rb.chunks(4) {
        assert!(s[0] < s[1] && s[1] <= s[2] && s[2] < s[3], "timestamps out of order: {s:?}");
    }
}

#[test]
fn explain_takes_the_warm_call_apart_into_steps_that_sum_to_the_measured_figure() {
    let system = l4sim::system::SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    let cfg = l4sim::ipc::IpcConfig { system, samples: 1, warmup: 16, speed_rounds: 0 };
    let [call, reply] = l4sim::explain::explain(&cfg).expect("explain");
    let measured = common::small_ipc(true);
    assert_eq!(call.between_reads - call.counter_overhead, measured.call.median);
    assert_eq!(reply.between_reads - reply.counter_overhead, measured.reply.median);
    for e in [&call, &reply] {
        assert_eq!(e.steps.iter().map(|s| s.cycles).sum::<u64>(), e.between_reads);
        // Steps are contiguous and in time order.
        let mut at = 0;
        for s in &e.steps {
            assert_eq!(s.offset, at, "{:?}", s);
            at += s.cycles;
        }
    }
    assert!(call.steps.iter().any(|s| s.what == "kernel: fastpath_call"));
    assert!(reply.steps.iter().any(|s| s.what == "kernel: fastpath_reply_recv"));
    // The sender pays the entry, the receiver the exit.
    assert_eq!(call.steps.first().unwrap().thread, "client");
    assert_eq!(call.steps.last().unwrap().thread, "server");
}
