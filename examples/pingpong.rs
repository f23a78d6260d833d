//! Build the ping-pong system through the library API, run it, and read the ledger:
//! what an embedding researcher starts from.
//!
//! `cargo run --release --example pingpong`

use l4sim::builtin;
use l4sim::kernel::types::Rights;
use l4sim::system::RunExit;
use l4sim::system::{CapSpec, System, SystemConfig, ThreadSpec};
use simcore::Category;

fn main() -> Result<(), l4sim::Error> {
    // Hardware facts (profile) + software facts (kernel preset) + guest architecture.
    let config = SystemConfig::builtin("armv7", "cortex-a9", "sel4")?;
    let mut sys = System::new(config)?;

    // One endpoint; the client may send and grant a reply capability, the server may receive.
    let ep = sys.endpoint()?;
    let client_rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    let client_elf = builtin::guest("armv7", "pingpong-client").expect("built-in guest");
    let server_elf = builtin::guest("armv7", "pingpong-server").expect("built-in guest");
    let client = sys.thread(
        ThreadSpec::new("client", client_elf)
            .cap(1, CapSpec::Endpoint { ep, badge: 0x61, rights: client_rights })
            .patch("warmup", 4)
            .patch("samples", 8),
    )?;
    let server = sys.thread(
        ThreadSpec::new("server", server_elf)
            .cap(1, CapSpec::Endpoint { ep, badge: 0, rights: Rights::READ }),
    )?;

    let exit = sys.run(100_000_000)?;
    assert_eq!(exit, RunExit::Halted(client));

    // The guest's own measurements: {t0, t1, t2, t3} per round trip.
    let words = sys.read_words(client, "results", 4 * 12)?;
    for (i, t) in words.chunks(4).enumerate().skip(4) {
        println!(
            "round trip {i}: call {} cycles, reply {} cycles",
            t[1].wrapping_sub(t[0]),
            t[3].wrapping_sub(t[2])
        );
    }

    // The ledger: every simulated cycle by category and by thread.
    let ledger = sys.kernel().cost().ledger();
    println!("\nsimulated time: {} cycles", ledger.now());
    for (thread, name) in [(client, "client"), (server, "server")] {
        let b = ledger.thread_totals(thread.0);
        println!(
            "{name}: {} cycles ({} user, {} kernel path)",
            b.total(),
            b.get(Category::User),
            b.get(Category::KernelPath)
        );
    }
    let attributed: u64 = ledger.threads().map(|(_, b)| b.total()).sum();
    println!("kernel before any thread ran (boot, cold caches): {} cycles", ledger.now().0 - attributed);
    println!("kernel: {:?}", sys.kernel().stats());
    Ok(())
}
