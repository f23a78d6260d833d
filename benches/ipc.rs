//! Simulator speed: simulated one-way cross-address-space IPCs per host second (release build).
//!
//! Each iteration builds a ping-pong system (ARMv7 on the Cortex-A9; IA-32 and x86-64 on Haswell;
//! IA-32 through an `int` gate on the i486) and runs `ROUNDS` unrecorded round trips
//! (2 x ROUNDS one-way IPCs) after a short measured part. `simulated_ipc` times the simulation run
//! alone (the run's own clock, set-up excluded), so its throughput is one-way IPCs per host
//! second; `system_setup` times building the system (RAM, emulator, loading the ELFs).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use l4sim::ipc::{self, IpcConfig};
use l4sim::system::SystemConfig;

const ROUNDS: u32 = 20_000;

fn ipc_speed(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulated_ipc");
    g.sample_size(10);
    let cases = [
        ("armv7", "cortex-a9", true),
        ("armv7", "cortex-a9", false),
        ("ia32", "haswell", true),
        ("ia32", "haswell", false),
        ("x86_64", "haswell", true),
        ("x86_64", "haswell", false),
        ("ia32", "i486", true),
    ];
    for (arch, uarch, fastpath) in cases {
        let name = format!("{arch}_{uarch}_{}", if fastpath { "fastpath" } else { "slowpath" });
        let mut system = SystemConfig::builtin(arch, uarch, "sel4").expect("config");
        system.fastpath = fastpath;
        let cfg = IpcConfig { system, samples: 16, warmup: 4, speed_rounds: ROUNDS };
        g.throughput(Throughput::Elements(2 * u64::from(ROUNDS + 20)));
        g.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let r = ipc::run(&cfg).expect("ipc run");
                    total += std::time::Duration::from_secs_f64(r.host.seconds);
                }
                total
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("system_setup");
    g.sample_size(10);
    g.bench_function("armv7_cortex-a9_pingpong", |b| {
        b.iter(|| {
            let mut sys =
                l4sim::system::System::new(SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap())
                    .unwrap();
            let ep = sys.endpoint().unwrap();
            let elf = l4sim::builtin::guest("armv7", "pingpong-server").unwrap();
            let rights = l4sim::kernel::types::Rights::READ;
            sys.thread(
                l4sim::system::ThreadSpec::new("server", elf)
                    .cap(1, l4sim::system::CapSpec::Endpoint { ep, badge: 0, rights }),
            )
            .unwrap();
            sys
        })
    });
    g.finish();
}

criterion_group!(benches, ipc_speed);
criterion_main!(benches);
