//! Shared helpers for the integration tests.
#![allow(dead_code)]

use l4sim::ipc::{self, IpcConfig, IpcResult};
use l4sim::system::SystemConfig;

/// A small IPC run on the default configuration.
pub fn small_ipc(fastpath: bool) -> IpcResult {
    let mut system = SystemConfig::builtin("armv7", "cortex-a9", "sel4").expect("config");
    system.fastpath = fastpath;
    ipc::run(&IpcConfig { system, samples: 32, warmup: 8, speed_rounds: 0 }).expect("ipc run")
}
