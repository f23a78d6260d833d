//! The profiles, kernel presets and guest programs shipped with l4sim, embedded in the binary so
//! that it runs from anywhere; files given on the command line override them.

/// A built-in microarchitecture profile: (name, TOML).
pub const PROFILES: &[(&str, &str)] = &[
    ("cortex-a9", include_str!("../fixtures/profiles/cortex-a9.toml")),
    ("arm1136", include_str!("../fixtures/profiles/arm1136.toml")),
    ("xscale", include_str!("../fixtures/profiles/xscale.toml")),
    ("i486", include_str!("../fixtures/profiles/i486.toml")),
    ("pentium", include_str!("../fixtures/profiles/pentium.toml")),
    ("pentium2", include_str!("../fixtures/profiles/pentium2.toml")),
    ("pentium4", include_str!("../fixtures/profiles/pentium4.toml")),
    ("nehalem", include_str!("../fixtures/profiles/nehalem.toml")),
    ("haswell", include_str!("../fixtures/profiles/haswell.toml")),
    ("skylake", include_str!("../fixtures/profiles/skylake.toml")),
    ("r4700", include_str!("../fixtures/profiles/r4700.toml")),
    ("alpha21064", include_str!("../fixtures/profiles/alpha21064.toml")),
    ("itanium2", include_str!("../fixtures/profiles/itanium2.toml")),
];

/// The paper's Table I (Heiser & Elphinstone, TOCS 2016), as CSV.
pub const TABLE1_CSV: &str = include_str!("../fixtures/table1.csv");

/// Which preset, profile and guest ISA reproduce each Table I row.
pub const TABLE1_RUNS: &str = include_str!("../fixtures/table1-runs.toml");

/// Published seL4 benchmark results beyond Table I, for validation (never calibration).
pub const VALIDATION: &str = include_str!("../fixtures/validation.toml");

/// A built-in kernel preset: (name, TOML).
pub const PRESETS: &[(&str, &str)] = &[
    ("sel4", include_str!("../fixtures/presets/sel4.toml")),
    ("sel4-today", include_str!("../fixtures/presets/sel4-today.toml")),
    ("original-l4-486", include_str!("../fixtures/presets/original-l4-486.toml")),
    ("original-l4-pentium", include_str!("../fixtures/presets/original-l4-pentium.toml")),
    ("hazelnut", include_str!("../fixtures/presets/hazelnut.toml")),
    ("nova", include_str!("../fixtures/presets/nova.toml")),
    ("okl4", include_str!("../fixtures/presets/okl4.toml")),
    ("l4-mips", include_str!("../fixtures/presets/l4-mips.toml")),
    ("l4-alpha", include_str!("../fixtures/presets/l4-alpha.toml")),
    ("pistachio-ia64", include_str!("../fixtures/presets/pistachio-ia64.toml")),
];

/// A built-in guest program: (architecture or flavour directory, e.g. `ia32-int`, name, ELF bytes).
pub const GUESTS: &[(&str, &str, &[u8])] = &[
    ("armv7", "pingpong-client", include_bytes!("../fixtures/guests/armv7/pingpong-client.elf")),
    ("armv7", "pingpong-server", include_bytes!("../fixtures/guests/armv7/pingpong-server.elf")),
    ("armv7", "fault-unmapped", include_bytes!("../fixtures/guests/armv7/fault-unmapped.elf")),
    ("armv7", "fault-kernel", include_bytes!("../fixtures/guests/armv7/fault-kernel.elf")),
    ("armv7", "errors-client", include_bytes!("../fixtures/guests/armv7/errors-client.elf")),
    ("armv6", "pingpong-client", include_bytes!("../fixtures/guests/armv6/pingpong-client.elf")),
    ("armv6", "pingpong-server", include_bytes!("../fixtures/guests/armv6/pingpong-server.elf")),
    ("armv6", "fault-unmapped", include_bytes!("../fixtures/guests/armv6/fault-unmapped.elf")),
    ("armv6", "fault-kernel", include_bytes!("../fixtures/guests/armv6/fault-kernel.elf")),
    ("armv6", "errors-client", include_bytes!("../fixtures/guests/armv6/errors-client.elf")),
    ("armv5", "pingpong-client", include_bytes!("../fixtures/guests/armv5/pingpong-client.elf")),
    ("armv5", "pingpong-server", include_bytes!("../fixtures/guests/armv5/pingpong-server.elf")),
    ("armv5", "fault-unmapped", include_bytes!("../fixtures/guests/armv5/fault-unmapped.elf")),
    ("armv5", "fault-kernel", include_bytes!("../fixtures/guests/armv5/fault-kernel.elf")),
    ("armv5", "errors-client", include_bytes!("../fixtures/guests/armv5/errors-client.elf")),
    ("ia32", "pingpong-client", include_bytes!("../fixtures/guests/ia32/pingpong-client.elf")),
    ("ia32", "pingpong-server", include_bytes!("../fixtures/guests/ia32/pingpong-server.elf")),
    ("ia32", "fault-unmapped", include_bytes!("../fixtures/guests/ia32/fault-unmapped.elf")),
    ("ia32", "fault-kernel", include_bytes!("../fixtures/guests/ia32/fault-kernel.elf")),
    ("ia32", "errors-client", include_bytes!("../fixtures/guests/ia32/errors-client.elf")),
    ("ia32-int", "pingpong-client", include_bytes!("../fixtures/guests/ia32-int/pingpong-client.elf")),
    ("ia32-int", "pingpong-server", include_bytes!("../fixtures/guests/ia32-int/pingpong-server.elf")),
    ("ia32-int", "fault-unmapped", include_bytes!("../fixtures/guests/ia32-int/fault-unmapped.elf")),
    ("ia32-int", "fault-kernel", include_bytes!("../fixtures/guests/ia32-int/fault-kernel.elf")),
    ("ia32-int", "errors-client", include_bytes!("../fixtures/guests/ia32-int/errors-client.elf")),
    ("x86_64", "pingpong-client", include_bytes!("../fixtures/guests/x86_64/pingpong-client.elf")),
    ("x86_64", "pingpong-server", include_bytes!("../fixtures/guests/x86_64/pingpong-server.elf")),
    ("x86_64", "fault-unmapped", include_bytes!("../fixtures/guests/x86_64/fault-unmapped.elf")),
    ("x86_64", "fault-kernel", include_bytes!("../fixtures/guests/x86_64/fault-kernel.elf")),
    ("x86_64", "errors-client", include_bytes!("../fixtures/guests/x86_64/errors-client.elf")),
];

/// Embeds a C guest (fixtures/guests/c/scenarios/<name>.c), built for armv7 and x86_64.
macro_rules! c_guest {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../fixtures/guests/armv7/", $name, ".elf")).as_slice(),
            include_bytes!(concat!("../fixtures/guests/x86_64/", $name, ".elf")).as_slice(),
        )
    };
}

/// The built-in C guests: (name, armv7 ELF, x86_64 ELF). Scenarios of the complete kernel, each
/// run on both architectures.
pub const C_GUESTS: &[(&str, &[u8], &[u8])] = &[
    c_guest!("ipc-call-reply"),
    c_guest!("ipc-send-recv"),
    c_guest!("fault-handler"),
    c_guest!("tcb-control"),
    c_guest!("notifications"),
    c_guest!("cnode-ops"),
    c_guest!("ipc-cap-transfer"),
    c_guest!("untyped-retype"),
    c_guest!("sched-priorities"),
    c_guest!("fault-cap-exception"),
    c_guest!("tcb-create"),
    c_guest!("root-task"),
    c_guest!("endpoint-delete"),
    c_guest!("ipc-reply-rules"),
    c_guest!("revoke-tree"),
    c_guest!("ipc-no-buffer"),
    c_guest!("sched-round-robin"),
    c_guest!("cspace-two-level"),
    c_guest!("notification-lifecycle"),
    c_guest!("untyped-split"),
    c_guest!("ipc-badges"),
    c_guest!("retype-targets"),
    c_guest!("tcb-errors"),
    c_guest!("notification-bound-wait"),
    c_guest!("ipc-call-chain"),
    c_guest!("fault-vm-skip"),
    c_guest!("vm-map-unmap"),
    c_guest!("vm-errors"),
    c_guest!("vm-rights"),
    c_guest!("vm-asid"),
    c_guest!("vm-large-pages"),
    c_guest!("vm-revoke"),
    c_guest!("irq-timer"),
    c_guest!("sched-preempt"),
    c_guest!("revoke-preempt"),
    c_guest!("irq-bound"),
    c_guest!("vm-pager"),
    c_guest!("vm-ipc-buffer"),
    c_guest!("delete-preempt"),
    c_guest!("timer-server"),
    c_guest!("vm-code-fault"),
    c_guest!("vm-shared-spaces"),
    c_guest!("irq-latency"),
    c_guest!("untyped-revoke-threads"),
    c_guest!("vm-many-spaces"),
    c_guest!("fault-chain"),
    c_guest!("ipc-message-lengths"),
    c_guest!("timer-device"),
    c_guest!("sched-suspend-resume"),
    c_guest!("irq-handler-caps"),
    c_guest!("ipc-queue-order"),
    c_guest!("ipc-rights"),
    c_guest!("notification-waiters"),
    c_guest!("sched-call-lower"),
    c_guest!("tcb-lifetime"),
    c_guest!("fault-handler-caps"),
    c_guest!("cspace-lookup-errors"),
    c_guest!("asid-exhaust"),
    c_guest!("retype-alignment"),
    c_guest!("vm-many-pages"),
    c_guest!("fuzz-invocations"),
    c_guest!("fuzz-instructions"),
];

/// The TOML of a built-in profile.
pub fn profile(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The TOML of a built-in preset.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A built-in guest program.
pub fn guest(arch: &str, name: &str) -> Option<&'static [u8]> {
    GUESTS.iter().find(|(a, n, _)| *a == arch && *n == name).map(|(_, _, b)| *b).or_else(|| {
        let (_, arm, x86) = C_GUESTS.iter().find(|(n, _, _)| *n == name)?;
        match arch {
            "armv7" => Some(*arm),
            "x86_64" => Some(*x86),
            _ => None,
        }
    })
}
