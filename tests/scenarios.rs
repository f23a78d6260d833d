//! Guest-level scenarios of the complete kernel (Step 4): C programs written against the libsel4
//! API (fixtures/guests/c), each run on ARMv7 (Cortex-A9) and on x86-64 (Haswell) with the
//! kernel's invariant checker on after every kernel entry. A scenario checks what it observes
//! itself and prints `PASS <checks>` or a `FAIL` line per broken expectation (through
//! seL4_DebugPutChar); the test reads that output from the kernel's events.

use l4sim::kernel::types::{EpId, Rights, TcbId};
use l4sim::kernel::KernelEvent;
use l4sim::system::{CapSpec, RunExit, System, SystemConfig, ThreadSpec};

/// The two machines every scenario runs on.
const MACHINES: [(&str, &str); 2] = [("armv7", "cortex-a9"), ("x86_64", "haswell")];

/// A scenario's system on one machine, invariant checking on (as in every debug build, but
/// said explicitly so that a release-mode test run checks too).
fn system(arch: &str, uarch: &str) -> System {
    system_with_timer(arch, uarch, None)
}

/// As [`system`], with the kernel's preemption timer (tick period in cycles, slice in ticks).
fn system_with_timer(arch: &str, uarch: &str, timer: Option<(u64, u32)>) -> System {
    let mut cfg = SystemConfig::builtin(arch, uarch, "sel4").unwrap();
    cfg.check_invariants = true;
    cfg.timer = timer;
    System::new(cfg).unwrap()
}

fn elf(arch: &str, name: &str) -> &'static [u8] {
    l4sim::builtin::guest(arch, name).unwrap_or_else(|| panic!("no built-in guest {name} for {arch}"))
}

/// What each thread printed, in order, as one string per thread.
fn output(sys: &System, t: TcbId) -> String {
    let bytes: Vec<u8> = sys
        .kernel()
        .events()
        .iter()
        .filter_map(|e| match e {
            KernelEvent::PutChar { thread, byte } if *thread == t => Some(*byte),
            _ => None,
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Everything every thread printed, prefixed by thread.
fn all_output(sys: &System) -> String {
    let mut threads: Vec<TcbId> = sys
        .kernel()
        .events()
        .iter()
        .filter_map(|e| match e {
            KernelEvent::PutChar { thread, .. } => Some(*thread),
            _ => None,
        })
        .collect();
    threads.sort_by_key(|t| t.0);
    threads.dedup();
    threads.iter().map(|t| format!("[thread {}]\n{}", t.0, output(sys, *t))).collect()
}

/// Runs until the main thread halts; returns its output, which must end in a PASS verdict, with
/// no FAIL printed by any thread.
fn run_to_pass(mut sys: System, main: TcbId, what: &str) -> String {
    let exit = sys.run(50_000_000).unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = output(&sys, main);
    let all = all_output(&sys);
    assert_eq!(exit, RunExit::Halted(main), "{what}: the run ended with {exit:?}; output:\n{all}");
    let last = out.lines().last().unwrap_or("");
    assert!(
        last.starts_with("PASS ") && !all.contains("FAIL"),
        "{what}: the scenario did not pass; output:\n{all}"
    );
    let checks: u32 = last["PASS ".len()..].trim().parse().unwrap_or(0);
    assert!(checks > 0, "{what}: a scenario that checked nothing: {out}");
    out
}

/// Runs a scenario program started as seL4's root task, on both machines.
fn run_root_task(name: &str) {
    run_root_task_with_timer(name, None);
}

/// As [`run_root_task`], with the kernel's preemption timer.
fn run_root_task_with_timer(name: &str, timer: Option<(u64, u32)>) {
    for (arch, uarch) in MACHINES {
        let mut sys = system_with_timer(arch, uarch, timer);
        let r = sys.thread(ThreadSpec::new("root", elf(arch, name)).root_task()).unwrap();
        run_to_pass(sys, r, &format!("{name} on {arch}"));
    }
}

/// A client (the program's main) and a server (`server_entry`) on one endpoint: the client's
/// capability badged 0x61 with all rights, the server's read-only.
fn client_server(arch: &str, uarch: &str, name: &str) -> (System, TcbId, EpId) {
    let mut sys = system(arch, uarch);
    let ep = sys.endpoint().unwrap();
    let image = elf(arch, name);
    let server = ThreadSpec::new("server", image)
        .entry("server_entry")
        .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ });
    sys.thread(server).unwrap();
    let client =
        ThreadSpec::new("client", image).cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights: Rights::ALL });
    let c = sys.thread(client).unwrap();
    (sys, c, ep)
}

#[test]
fn ipc_call_reply_with_register_and_buffer_messages() {
    for (arch, uarch) in MACHINES {
        let (sys, client, _) = client_server(arch, uarch, "ipc-call-reply");
        let out = run_to_pass(sys, client, &format!("ipc-call-reply on {arch}"));
        // 5 round trips of 0, 1, 3, 10 and 100 words: label, length and badge each, and every word.
        assert_eq!(out.trim_end(), "PASS 129", "{arch}");
    }
}

#[test]
fn ipc_send_nbsend_recv_nbrecv_and_reply() {
    for (arch, uarch) in MACHINES {
        let (sys, client, _) = client_server(arch, uarch, "ipc-send-recv");
        run_to_pass(sys, client, &format!("ipc-send-recv on {arch}"));
    }
}

#[test]
fn faults_go_to_the_fault_handler_and_its_reply_restarts_the_thread() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "fault-handler");
        let handler = sys.thread(
            ThreadSpec::new("handler", image)
                .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
        );
        let handler = handler.unwrap();
        let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
        let faulter = ThreadSpec::new("faulter", image)
            .entry("faulter_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0x77, rights })
            .fault_handler(1);
        sys.thread(faulter).unwrap();
        run_to_pass(sys, handler, &format!("fault-handler on {arch}"));
    }
}

#[test]
fn notifications_signal_wait_poll_and_binding() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let n = sys.notification().unwrap();
        let image = elf(arch, "notifications");
        let write = Rights::WRITE;
        let signaller = ThreadSpec::new("signaller", image)
            .entry("signaller_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })
            .cap(2, CapSpec::Notification { ntfn: n, badge: 0x1, rights: write })
            .cap(3, CapSpec::Notification { ntfn: n, badge: 0x4, rights: write });
        sys.thread(signaller).unwrap();
        let waiter = ThreadSpec::new("waiter", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights: Rights::ALL })
            .cap(2, CapSpec::Notification { ntfn: n, badge: 0, rights: Rights::READ })
            .cap(3, CapSpec::Notification { ntfn: n, badge: 0x10, rights: write })
            .bind_notification(n);
        let w = sys.thread(waiter).unwrap();
        let out = run_to_pass(sys, w, &format!("notifications on {arch}"));
        assert_eq!(out.trim_end(), "PASS 9", "{arch}");
    }
}

#[test]
fn tcb_suspend_resume_registers_priorities_and_binding() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let n = sys.notification().unwrap();
        let image = elf(arch, "tcb-control");
        let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
        let worker = ThreadSpec::new("worker", image)
            .entry("worker_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0x33, rights });
        let w = sys.thread(worker).unwrap();
        let controller = ThreadSpec::new("controller", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::ALL })
            .cap(2, CapSpec::Notification { ntfn: n, badge: 0, rights: Rights::READ })
            .cap(4, CapSpec::Tcb { tcb: w })
            .cap(5, CapSpec::OwnTcb);
        let c = sys.thread(controller).unwrap();
        run_to_pass(sys, c, &format!("tcb-control on {arch}"));
    }
}

#[test]
fn cnode_copy_mint_move_mutate_rotate_delete_revoke_savecaller() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "cnode-ops");
        let client = ThreadSpec::new("client", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::ALL })
            .cap(2, CapSpec::OwnCNode);
        let c = sys.thread(client).unwrap();
        let server = ThreadSpec::new("server", image)
            .entry("server_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })
            .cap(2, CapSpec::OwnCNode);
        sys.thread(server).unwrap();
        run_to_pass(sys, c, &format!("cnode-ops on {arch}"));
    }
}

#[test]
fn ipc_transfers_capabilities_with_grant_and_unwraps_its_own_endpoint() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let n = sys.notification().unwrap();
        let image = elf(arch, "ipc-cap-transfer");
        let server = ThreadSpec::new("server", image)
            .entry("server_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })
            .cap(2, CapSpec::OwnCNode);
        sys.thread(server).unwrap();
        let rw = Rights { read: true, write: true, grant: false, grant_reply: false };
        let no_grant = Rights { read: false, write: true, grant: false, grant_reply: true };
        let client = ThreadSpec::new("client", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights: Rights::ALL })
            .cap(3, CapSpec::Notification { ntfn: n, badge: 0x8, rights: rw })
            .cap(5, CapSpec::Endpoint { ep, badge: 0x62, rights: no_grant });
        let c = sys.thread(client).unwrap();
        run_to_pass(sys, c, &format!("ipc-cap-transfer on {arch}"));
    }
}

#[test]
fn untyped_retype_makes_objects_and_revoke_reclaims_them() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let image = elf(arch, "untyped-retype");
        let main = ThreadSpec::new("root", image)
            .cap(2, CapSpec::OwnCNode)
            .cap(3, CapSpec::Untyped { size_bits: 16 });
        let t = sys.thread(main).unwrap();
        run_to_pass(sys, t, &format!("untyped-retype on {arch}"));
    }
}

#[test]
fn scheduling_by_priority_yield_and_direct_switch() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let (a, b) = (sys.endpoint().unwrap(), sys.endpoint().unwrap());
        let image = elf(arch, "sched-priorities");
        let send = Rights { read: false, write: true, grant: false, grant_reply: true };
        let main = ThreadSpec::new("main", image)
            .cap(1, CapSpec::Endpoint { ep: a, badge: 0, rights: Rights::ALL })
            .cap(2, CapSpec::Endpoint { ep: b, badge: 0, rights: Rights::ALL });
        let m = sys.thread(main).unwrap();
        let high = ThreadSpec::new("high", image)
            .entry("high_entry")
            .priority(150)
            .cap(1, CapSpec::Endpoint { ep: a, badge: 0x150, rights: Rights::READ });
        sys.thread(high).unwrap();
        for (name, prio, badge) in [("peer", 100, 0x100), ("low", 50, 0x50)] {
            let spec = ThreadSpec::new(name, image)
                .entry(&format!("{name}_entry"))
                .priority(prio)
                .cap(1, CapSpec::Endpoint { ep: b, badge, rights: send });
            sys.thread(spec).unwrap();
        }
        run_to_pass(sys, m, &format!("sched-priorities on {arch}"));
    }
}

#[test]
fn capability_faults_and_user_exceptions_reach_the_fault_handler() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "fault-cap-exception");
        let h = sys.thread(
            ThreadSpec::new("handler", image)
                .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
        );
        let h = h.unwrap();
        let rights = Rights { read: false, write: true, grant: false, grant_reply: true };
        for (name, badge) in [("send_faulter", 0x11), ("recv_faulter", 0x22), ("udf_faulter", 0x33)] {
            let spec = ThreadSpec::new(name, image)
                .entry(&format!("{name}_entry"))
                .cap(1, CapSpec::Endpoint { ep, badge, rights })
                .fault_handler(1);
            sys.thread(spec).unwrap();
        }
        run_to_pass(sys, h, &format!("fault-cap-exception on {arch}"));
    }
}

#[test]
fn a_root_task_creates_and_starts_a_thread() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "tcb-create");
        let root = ThreadSpec::new("root", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::ALL })
            .cap(2, CapSpec::OwnCNode)
            .cap(3, CapSpec::Untyped { size_bits: 16 })
            .cap(4, CapSpec::OwnVSpace)
            .cap(5, CapSpec::OwnTcb);
        let r = sys.thread(root).unwrap();
        let out = run_to_pass(sys, r, &format!("tcb-create on {arch}"));
        assert!(out.contains("PASS"), "{out}");
    }
}

#[test]
fn a_root_task_boots_from_its_boot_information() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let r = sys.thread(ThreadSpec::new("root", elf(arch, "root-task")).root_task()).unwrap();
        // It owns all remaining memory: nothing more can be built.
        assert!(sys.endpoint().is_err());
        run_to_pass(sys, r, &format!("root-task on {arch}"));
    }
}

#[test]
fn deleting_an_endpoint_and_cancelling_badged_sends_restart_the_waiters() {
    run_root_task("endpoint-delete");
}

#[test]
fn reply_capabilities_need_grant_die_with_the_next_receive_and_can_be_saved() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "ipc-reply-rules");
        let server = ThreadSpec::new("server", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ })
            .cap(2, CapSpec::OwnCNode);
        let s = sys.thread(server).unwrap();
        let grant_reply = Rights { read: true, write: true, grant: false, grant_reply: true };
        let no_grant = Rights { read: true, write: true, grant: false, grant_reply: false };
        for (name, badge, rights) in
            [("nogrant", 1, no_grant), ("grantreply", 2, grant_reply), ("third", 3, grant_reply)]
        {
            let spec = ThreadSpec::new(name, image)
                .entry(&format!("{name}_entry"))
                .priority(110)
                .cap(1, CapSpec::Endpoint { ep, badge, rights });
            sys.thread(spec).unwrap();
        }
        run_to_pass(sys, s, &format!("ipc-reply-rules on {arch}"));
    }
}

#[test]
fn revoke_takes_exactly_the_descendants_at_any_depth() {
    run_root_task("revoke-tree");
}

#[test]
fn without_an_ipc_buffer_messages_are_cut_to_the_register_words() {
    run_root_task("ipc-no-buffer");
}

#[test]
fn yield_goes_round_among_equals_and_suspend_resume_change_the_rotation() {
    run_root_task("sched-round-robin");
}

#[test]
fn a_two_level_cspace_resolves_and_reports_missing_levels() {
    run_root_task("cspace-two-level");
}

#[test]
fn bound_notifications_wait_for_replies_and_deleted_ones_restart_their_waiters() {
    run_root_task("notification-lifecycle");
}

#[test]
fn child_untypeds_hold_the_parents_watermark_until_revoked() {
    run_root_task("untyped-split");
}

#[test]
fn badges_tell_clients_apart_and_revoking_the_original_cuts_them_off() {
    run_root_task("ipc-badges");
}

#[test]
fn retype_puts_objects_into_the_cnode_its_node_address_names() {
    run_root_task("retype-targets");
}

#[test]
fn tcb_invocations_check_their_arguments() {
    run_root_task("tcb-errors");
}

#[test]
fn only_the_bound_thread_waits_on_its_notification() {
    run_root_task("notification-bound-wait");
}

#[test]
fn nested_calls_keep_each_reply_capability() {
    run_root_task("ipc-call-chain");
}

#[test]
fn a_fault_handler_repairs_a_thread_with_write_registers() {
    run_root_task("fault-vm-skip");
}

/// The harness itself: a scenario whose expectation fails is reported as failing (the server
/// here gets the wrong badge, so the client's badge check fails).
#[test]
fn a_failing_expectation_is_reported() {
    for (arch, uarch) in MACHINES {
        let mut sys = system(arch, uarch);
        let ep = sys.endpoint().unwrap();
        let image = elf(arch, "ipc-call-reply");
        let server = ThreadSpec::new("server", image)
            .entry("server_entry")
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ });
        sys.thread(server).unwrap();
        let client = ThreadSpec::new("client", image)
            .cap(1, CapSpec::Endpoint { ep, badge: 0x62, rights: Rights::ALL });
        let c = sys.thread(client).unwrap();
        assert_eq!(sys.run(50_000_000).unwrap(), RunExit::Halted(c));
        let out = output(&sys, c);
        assert!(out.contains("FAIL ") && out.lines().last().unwrap().starts_with("FAIL "), "{out}");
    }
}

/// Every C guest is registered, and a test names each one (so none is built and forgotten):
/// a scenario test here, or the fuzzer's in `faults_and_errors.rs`.
#[test]
fn every_c_guest_is_built_in_and_exercised() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/guests/c/scenarios");
    let this = [include_str!("scenarios.rs"), include_str!("faults_and_errors.rs")].concat();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".c") else { continue };
        assert!(
            l4sim::builtin::C_GUESTS.iter().any(|(n, _, _)| *n == stem),
            "{stem} is not in builtin::C_GUESTS"
        );
        assert!(this.contains(&format!("\"{stem}\"")), "no scenario test runs {stem}");
    }
}

/// Virtual memory: frames and page tables from untyped memory, Map, remap, Unmap, GetAddress,
/// shared frames through copied capabilities, a VM fault repaired by mapping, delete unmaps.
#[test]
fn frames_are_mapped_shared_unmapped_and_faults_repaired() {
    run_root_task("vm-map-unmap");
}

/// Virtual memory: the checks of frame and page-table Map/Unmap, ASID assignment and the VSpace
/// root's validity, in seL4's order with seL4's errors.
#[test]
fn vm_invocations_fail_as_sel4_fails_them() {
    run_root_task("vm-errors");
}

/// Virtual memory: read-only, kernel-only (write-only rights) and read-only-capability mappings
/// and ARM's ExecuteNever give permission faults with the architecture's fault status; remapping
/// in place repairs them.
#[test]
fn mapping_rights_are_enforced_and_faults_report_them() {
    run_root_task("vm-rights");
}

/// Virtual memory: ASID control makes pools from 4 KiB untypeds, a new VSpace root gets an ASID
/// and a thread runs in it; deleting the pool leaves the thread faulting; pools run out.
#[test]
fn asid_pools_give_address_spaces_and_take_them_away() {
    run_root_task("vm-asid");
}

/// Virtual memory: large pages (ARM sections and 64 KiB pages, x86-64 2 MiB pages) map, work end
/// to end, and exclude page tables and smaller pages where seL4 excludes them.
#[test]
fn large_pages_map_and_exclude_what_sel4_excludes() {
    run_root_task("vm-large-pages");
}

/// Virtual memory: revoking an untyped deletes the frames, page tables, VSpace root and thread
/// made from it; the mappings go, and the memory comes back zeroed.
#[test]
fn revoking_an_untyped_takes_its_address_space_objects() {
    run_root_task("vm-revoke");
}

/// Interrupts: a user-level timer driver (device frame, IRQ handler, badged notification, Ack),
/// an interrupt that comes while masked delivered at Ack, IRQ control's checks.
#[test]
fn a_timer_driver_gets_its_interrupts_as_signals() {
    run_root_task("irq-timer");
}

/// Scheduling: the preemption timer (5000-cycle ticks, 2-tick slices) shares the processor
/// round-robin between spinning threads of equal priority; a lower priority starves until they
/// are suspended.
#[test]
fn the_preemption_timer_drives_round_robin() {
    run_root_task_with_timer("sched-preempt", Some((5000, 2)));
}

/// Revoke of a large tree: preempted by an interrupt (a higher-priority driver runs while it is
/// half done), then restarted and completed.
#[test]
fn a_long_revoke_is_preempted_and_restarted() {
    run_root_task("revoke-preempt");
}

/// Interrupts and binding: a driver's bound notification, signalled by an IRQ, ends its endpoint
/// Recv between client calls; a cleared handler signals nothing.
#[test]
fn a_driver_gets_interrupts_and_calls_through_one_recv() {
    run_root_task("irq-bound");
}

/// Virtual memory: demand paging; a pager maps a new, filled frame for each VM fault of a thread
/// in another address space, and the thread's access restarts on the reply.
#[test]
fn a_pager_pages_in_on_faults() {
    run_root_task("vm-pager");
}

/// Virtual memory and IPC: an IPC buffer in a retyped frame carries long messages; unmapped, the
/// thread receives only its message registers.
#[test]
fn an_ipc_buffer_in_a_frame_of_its_own_carries_long_messages() {
    run_root_task("vm-ipc-buffer");
}

/// Deleting a large CNode: its contents go slot by slot with preemption points; a due interrupt
/// lets a higher-priority driver run while it is half done, and the Delete then completes.
#[test]
fn deleting_a_large_cnode_is_preempted_and_restarted() {
    run_root_task("delete-preempt");
}

/// A user-level sleep service: a server saves its callers' reply capabilities and answers them
/// on timer interrupts, in deadline order.
#[test]
fn a_timer_server_wakes_sleepers_in_deadline_order() {
    run_root_task("timer-server");
}

/// Virtual memory: an instruction fetch from an unmapped code page is a VM fault with the
/// prefetch flag; mapping the page back and replying restarts the fetch.
#[test]
fn an_instruction_fault_is_repaired_by_mapping_the_code() {
    run_root_task("vm-code-fault");
}

/// Virtual memory: two address spaces with private pages at the same address and a frame shared
/// at different addresses; a producer's writes reach a consumer through it.
#[test]
fn two_address_spaces_share_a_frame_and_keep_their_private_pages() {
    run_root_task("vm-shared-spaces");
}

/// Scheduling: a spinning thread suspended (it stands still), resumed (it goes on) and deleted
/// (it stops for good) from outside, while the root task sleeps on the timer.
#[test]
fn a_spinning_thread_is_suspended_resumed_and_deleted() {
    run_root_task("sched-suspend-resume");
}

/// Interrupts: a high-priority driver preempts a spinning thread when its interrupt comes, within
/// a bounded latency (which the scenario prints).
#[test]
fn an_interrupt_preempts_a_spinning_thread_promptly() {
    run_root_task("irq-latency");
}

/// The timer device's registers as a polling driver sees them: one-shot and periodic expiry,
/// the expired bit, the counter, registers that do not exist.
#[test]
fn the_timer_device_behaves_as_documented() {
    run_root_task("timer-device");
}

/// Revoking an untyped stops the running thread made from it, and a waiter on an endpoint made
/// from it restarts its Recv into a capability fault.
#[test]
fn revoking_an_untyped_takes_its_threads_and_endpoints() {
    run_root_task("untyped-revoke-threads");
}

/// Virtual memory: sixteen address spaces with a private page at the same address each; no
/// thread sees another's.
#[test]
fn many_address_spaces_stay_apart() {
    run_root_task("vm-many-spaces");
}

/// IPC: every message length from 0 to 120 words arrives and returns whole; a longer length
/// field is cut to 120.
#[test]
fn every_message_length_arrives_whole() {
    run_root_task("ipc-message-lengths");
}

/// Faults: a fault handler's own fault goes to its handler; both are repaired in turn; a thread
/// without a handler stops at its fault.
#[test]
fn a_fault_handlers_own_fault_goes_to_its_handler() {
    run_root_task("fault-chain");
}

/// Interrupts: IRQ handler capabilities are copied, deleted and revoked like others; the
/// notification an IRQ signals is a copy in the IRQ node, which keeps it alive and goes with a
/// Revoke of its source.
#[test]
fn irq_handler_capabilities_and_the_irq_node() {
    run_root_task("irq-handler-caps");
}

/// IPC: senders and receivers queue on an endpoint in the order they block, whatever their
/// priorities (non-MCS); a priority change does not reorder a queue.
#[test]
fn endpoint_queues_are_fifo_whatever_the_priorities() {
    run_root_task("ipc-queue-order");
}

/// IPC: endpoint rights. A Call without Write is refused, a Send without Write dropped, a Recv
/// without Read a capability fault; Mint only takes rights away; Grant and GrantReply decide
/// the reply capability.
#[test]
fn endpoint_rights_are_enforced_as_sel4_does() {
    run_root_task("ipc-rights");
}

/// Notifications: each Signal wakes one waiter, first come first served, with its own badge;
/// signals with no waiter OR into the word, which Wait and Poll take and clear.
#[test]
fn each_signal_wakes_one_waiter_in_order() {
    run_root_task("notification-waiters");
}

/// Scheduling: a Call switches directly to its server only if no ready thread outranks it;
/// SetPriority and Yield take effect at once (the paper's section 4.3).
#[test]
fn direct_switch_is_subject_to_priorities() {
    run_root_task("sched-call-lower");
}

/// TCBs: a thread lives while a capability to it exists; deleting or suspending a thread takes
/// it out of the IPC it is in; Resume restarts its Call.
#[test]
fn threads_live_while_a_capability_to_them_does() {
    run_root_task("tcb-lifetime");
}

/// Faults: the fault handler capability is looked up in the faulting thread's CSpace at fault
/// time and must be an endpoint with Write and Grant or GrantReply; anything else is a double
/// fault that leaves the thread Inactive.
#[test]
fn a_fault_handler_capability_must_be_a_granting_endpoint() {
    run_root_task("fault-handler-caps");
}

/// CNodes: a failed lookup's description in the message registers (source or destination,
/// InvalidRoot, MissingCapability, DepthMismatch, GuardMismatch and their details), and the
/// depth's range.
#[test]
fn failed_lookups_describe_themselves() {
    run_root_task("cspace-lookup-errors");
}

/// Virtual memory: ASID control and pools at their limits (128 pools of 1024 on aarch32, 8 of
/// 512 on x86-64); what deleting pools and VSpace roots frees.
#[test]
fn asid_control_and_pools_at_their_limits() {
    run_root_task("asid-exhaust");
}

/// Untyped: Retype places each object at the free index rounded up to its own size; the
/// memory left in NotEnoughMemory; the size checks' ranges; the reset of an untyped without
/// children.
#[test]
fn retype_places_objects_as_sel4_does() {
    run_root_task("retype-alignment");
}

/// Virtual memory: 300 pages across a page-table boundary, mapped twice through copies of their
/// capabilities; an unmapped alias faults and is repaired.
#[test]
fn three_hundred_pages_and_their_aliases() {
    run_root_task("vm-many-pages");
}
