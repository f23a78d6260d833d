//! Simulator speed: simulated one-way cross-address-space IPCs per host second (release build).
//!
//! Each iteration builds the Cortex-A9 ping-pong system and runs `ROUNDS` unrecorded round trips
//! (2 x ROUNDS one-way IPCs) after a short measured part; criterion reports the time per
//! iteration and, through its throughput setting, elements (one-way IPCs) per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use l4sim::ipc::{self, IpcConfig};
use l4sim::system::SystemConfig;

const ROUNDS: u32 = 20_000;

fn ipc_speed(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulated_ipc");
    g.sample_size(10);
    for (name, fastpath) in [("armv7_cortex-a9_fastpath", true), ("armv7_cortex-a9_slowpath", false)] {
        let mut system = SystemConfig::builtin("armv7", "cortex-a9", "sel4").expect("config");
        system.fastpath = fastpath;
        let cfg = IpcConfig { system, samples: 16, warmup: 4, speed_rounds: ROUNDS };
        g.throughput(Throughput::Elements(2 * u64::from(ROUNDS + 20)));
        g.bench_function(name, |b| b.iter(|| ipc::run(&cfg).expect("ipc run")));
    }
    g.finish();
}

criterion_group!(benches, ipc_speed);
criterion_main!(benches);
