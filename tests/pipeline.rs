//! Pipeline effects: chains of dependent loads (a preset's `load_chain`, priced with the
//! profile's `pipeline.load_use` and `out_of_order`) and the branches whose direction depends on
//! the IPC operation (a preset's `op_branches`, resolved by the profile's simulated
//! `pipeline.predictor`).

use l4sim::ipc::{self, IpcConfig, IpcResult};
use l4sim::system::SystemConfig;
use simcore::{PredictorKind, Profile};

fn run(cfg: SystemConfig) -> IpcResult {
    ipc::run(&IpcConfig { system: cfg, samples: 16, warmup: 8, speed_rounds: 0 }).unwrap()
}

fn with_predictor(mut cfg: SystemConfig, kind: PredictorKind, history_bits: u32) -> SystemConfig {
    cfg.profile.pipeline.predictor.kind = kind;
    cfg.profile.pipeline.predictor.history_bits = history_bits;
    cfg
}

/// seL4 on the ARM11 flushes the branch predictor (BTAC) in every address-space switch, so its
/// entry stub's `bhi fastpath_call` is always cold and predicted not taken: every Call pays one
/// mispredict, no ReplyRecv does. A two-level predictor would be cold too (the flush), but a
/// kernel that did not flush would let it learn the alternation.
#[test]
fn a_cold_predictor_after_the_btac_flush_mispredicts_every_call_on_the_arm11() {
    let cfg = SystemConfig::builtin("armv6", "arm1136", "sel4").unwrap();
    let penalty = cfg.profile.pipeline.branch_mispredict.value as u64;
    let base = run(cfg.clone());
    let none = run(with_predictor(cfg, PredictorKind::None, 0));
    assert_eq!(base.call.median, none.call.median + penalty, "Call: one mispredict");
    assert_eq!(base.reply.median, none.reply.median, "ReplyRecv: predicted (not taken)");
}

/// On the XScale every write of the FCSE process ID invalidates the BTB, which OKL4's fast
/// address-space switching does on each switch (the profile's `flushed_by`); without that, a
/// 2-bit counter would see strict alternation and settle into mispredicting every other entry.
#[test]
fn the_xscale_btb_is_invalidated_by_the_fcse_pid_write_of_every_switch() {
    let cfg = SystemConfig::builtin("armv5", "xscale", "okl4").unwrap();
    assert_eq!(cfg.profile.pipeline.predictor.flushed_by, vec!["asid_write".to_string()]);
    let penalty = cfg.profile.pipeline.branch_mispredict.value as u64;
    let cold = run(cfg.clone());
    let none = run(with_predictor(cfg.clone(), PredictorKind::None, 0));
    // OKL4's one operation-dependent branch (`bne decode_reply_cap`) is taken on the ReplyWait
    // here (the preset's Call direction is "taken" by convention: either way one of the two
    // operations pays). Cold, it is predicted not taken.
    let extra = (cold.call.median + cold.reply.median) - (none.call.median + none.reply.median);
    assert_eq!(extra, penalty, "one mispredict per round trip");
    // Without the flush, the counter oscillates and mispredicts one direction every time too.
    let mut warm = cfg;
    warm.profile.pipeline.predictor.flushed_by.clear();
    let warm = run(warm);
    let extra = (warm.call.median + warm.reply.median) - (none.call.median + none.reply.median);
    assert!(extra >= penalty, "a 2-bit counter cannot learn alternation: {extra}");
}

/// A two-level predictor learns the alternation once its history has filled: on Haswell (no
/// predictor flush in seL4's switch) the operation-dependent branch costs nothing.
#[test]
fn a_two_level_predictor_learns_the_call_reply_alternation() {
    let cfg = SystemConfig::builtin("x86_64", "haswell", "sel4").unwrap();
    assert_eq!(cfg.profile.pipeline.predictor.kind, PredictorKind::TwoLevel);
    let learnt = run(cfg.clone());
    let none = run(with_predictor(cfg.clone(), PredictorKind::None, 0));
    assert_eq!(learnt.call.median, none.call.median);
    assert_eq!(learnt.reply.median, none.reply.median);
    // A last-direction bit gets every one of them wrong.
    let penalty = cfg.profile.pipeline.branch_mispredict.value as u64;
    let last = run(with_predictor(cfg, PredictorKind::LastDirection, 0));
    assert_eq!(last.call.median, none.call.median + penalty);
    assert_eq!(last.reply.median, none.reply.median + penalty);
}

/// The fastpath_call step's chain of dependent loads: an in-order core stalls on each address
/// dependence; an out-of-order core overlaps the chain with the step's other work.
#[test]
fn a_longer_load_chain_stalls_an_in_order_core_and_is_hidden_by_an_out_of_order_one() {
    let lengthen = |mut cfg: SystemConfig, isa: &str, by: u32| {
        let paths = cfg.preset.code.get_mut(isa).unwrap();
        paths.fastpath_call.load_chain = paths.fastpath_call.load_chain.map(|n| n + by);
        cfg
    };
    // ARM11: in order; each extra link costs load_use less what the load class charges.
    let cfg = SystemConfig::builtin("armv6", "arm1136", "sel4").unwrap();
    let p: &Profile = &cfg.profile;
    let link = p.pipeline.load_use.value - p.insn("load").unwrap();
    let base = run(cfg.clone());
    let longer = run(lengthen(cfg, "aarch32", 4));
    let added = (longer.call.median - base.call.median) as f64;
    assert!((added - 4.0 * link).abs() <= 1.0, "4 links of {link}: {added}");
    assert_eq!(longer.reply.median, base.reply.median, "only fastpath_call changed");
    // Cortex-A9: out of order; fastpath_call's issue time (~90 cycles) dwarfs 7 x 4 cycles.
    let cfg = SystemConfig::builtin("armv7", "cortex-a9", "sel4").unwrap();
    assert_eq!(cfg.profile.pipeline.out_of_order.value, 1.0);
    let base = run(cfg.clone());
    let longer = run(lengthen(cfg.clone(), "aarch32", 1));
    assert_eq!(longer.call.median, base.call.median, "hidden under the issue time");
    // ... until the chain is the longer of the two.
    let very = run(lengthen(cfg, "aarch32", 40));
    assert!(very.call.median > base.call.median + 50, "{} vs {}", very.call.median, base.call.median);
}

/// Profiles and presets say how their pipelines behave, or they are refused.
#[test]
fn pipeline_facts_are_required_and_checked() {
    let a9 = l4sim::builtin::profile("cortex-a9").unwrap();
    let err = |t: &str| Profile::from_toml(t, "t").unwrap_err().to_string();
    let t: String = a9.lines().filter(|l| !l.starts_with("predictor")).collect::<Vec<_>>().join("\n");
    assert!(err(&t).contains("predictor"), "{}", err(&t));
    let t = a9.replace("history_bits = 12", "history_bits = 0");
    assert!(err(&t).contains("pipeline.predictor"), "{}", err(&t));
    let t = a9.replace(
        "kind = \"two_level\", history_bits = 12",
        "kind = \"bimodal\", flushed_by = [\"tlb_flush_al\"]",
    );
    assert!(err(&t).contains("unknown primitive `tlb_flush_al`"), "{}", err(&t));
    let t = a9.replace("out_of_order = { value = 1.0", "out_of_order = { value = 0.5");
    assert!(err(&t).contains("out_of_order"), "{}", err(&t));

    use l4sim::kernel::preset::KernelPreset;
    let sel4 = l4sim::builtin::preset("sel4").unwrap();
    let perr = |t: &str| KernelPreset::from_toml(t, "t").unwrap_err().to_string();
    let t = sel4.replacen("load_chain = 6\n", "", 1);
    assert!(perr(&t).contains("fastpath_call: `load_chain` missing"), "{}", perr(&t));
    let i = sel4.find("[code.aarch32.op_branches]").unwrap();
    let j = i + sel4[i..].find("\n\n").unwrap();
    let t = format!("{}{}", &sel4[..i], &sel4[j..]);
    assert!(perr(&t).contains("op_branches"), "{}", perr(&t));
}
