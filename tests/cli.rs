//! The command line: output formats, determinism, and clear errors for bad input.

use std::process::Command;

fn l4sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_l4sim")).args(args).output().expect("run l4sim")
}

const SMALL: &[&str] = &[
    "ipc",
    "--arch",
    "armv7",
    "--uarch",
    "cortex-a9",
    "--samples",
    "16",
    "--warmup",
    "4",
    "--speed-rounds",
    "0",
];

#[test]
fn ipc_json_has_the_documented_keys_and_a_breakdown_that_sums() {
    let mut args = SMALL.to_vec();
    args.extend(["--format", "json"]);
    let out = l4sim(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    for k in ["arch", "uarch", "kernel", "call", "reply", "breakdown", "host"] {
        assert!(v.get(k).is_some(), "missing key {k}");
    }
    for d in ["call", "reply"] {
        for k in ["median", "min", "max", "breakdown"] {
            assert!(v[d].get(k).is_some(), "missing {d}.{k}");
        }
    }
    let sum: u64 = v["breakdown"].as_object().unwrap().values().map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(sum, v["call"]["median"].as_u64().unwrap());
    assert!(v["host"]["ipcs_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn two_runs_print_identical_output_without_the_host_figures() {
    for fmt in ["table", "json", "csv"] {
        let mut args = SMALL.to_vec();
        args.extend(["--format", fmt, "--no-host"]);
        let a = l4sim(&args);
        let b = l4sim(&args);
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "format {fmt}");
    }
}

#[test]
fn unknown_profile_is_a_clear_error() {
    let out = l4sim(&["ipc", "--uarch", "pentium9"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown microarchitecture profile `pentium9`") && err.contains("cortex-a9"),
        "{err}"
    );
}

#[test]
fn a_bad_profile_file_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("l4sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("syntax.toml", "name = \"x\"\nthis is not toml"),
        ("unknown-field.toml", &format!("{}\nturbo = true\n", simcore_profile())),
        ("no-source.toml", &simcore_profile().replacen("source = ", "sauce = ", 1)),
    ];
    for (file, text) in cases {
        let p = dir.join(file);
        std::fs::write(&p, text).unwrap();
        let out = l4sim(&["model", "validate", p.to_str().unwrap()]);
        assert!(!out.status.success(), "{file} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid profile"), "{file}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn simcore_profile() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/profiles/cortex-a9.toml")).unwrap()
}

#[test]
fn too_many_samples_is_refused_not_truncated() {
    let out = l4sim(&["ipc", "--samples", "5000"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 1024"));
}

#[test]
fn model_list_shows_every_profile_with_its_estimates() {
    let out = l4sim(&["model", "list"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for p in [
        "cortex-a9",
        "arm1136",
        "xscale",
        "i486",
        "pentium",
        "pentium2",
        "pentium4",
        "nehalem",
        "haswell",
        "skylake",
    ] {
        assert!(s.lines().any(|l| l.starts_with(&format!("{p} "))), "{p} missing from model list");
    }
    let show = l4sim(&["model", "show", "cortex-a9"]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("[E] estimate:"));
}

#[test]
fn table1_prints_every_row_in_each_format() {
    let table = l4sim(&["table1"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    for k in ["Original", "L4/MIPS", "L4/Alpha", "Hazelnut", "Pistachio", "OKL4", "NOVA", "seL4"] {
        assert!(text.contains(k), "{k} missing");
    }
    assert!(text.contains("model-only") && text.contains("emulated"));
    let json = l4sim(&["table1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(v.as_array().unwrap().len(), 12);
    let csv = l4sim(&["table1", "--format", "csv"]);
    assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 13);
}

#[test]
fn validate_and_preset_views_work_and_unknown_names_are_clear_errors() {
    let v = l4sim(&["validate"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains("benchmarks.json"));
    let show = l4sim(&["model", "show", "okl4"]);
    assert!(show.status.success());
    assert!(String::from_utf8_lossy(&show.stdout).contains("fastpath one-way IPC (marked *)"));
    let bad = l4sim(&["model", "show", "no-such-thing"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("profile or kernel preset"));
    let skim = l4sim(&["ipc", "--arch", "armv7", "--kernel", "sel4-today", "--skim-window", "on"]);
    assert!(!skim.status.success());
    assert!(String::from_utf8_lossy(&skim.stderr).contains("skim window"));
}

/// A reader that stops early (`l4sim model list | head -1`) closes the pipe: the CLI stops
/// quietly instead of panicking on the failed write.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_l4sim"))
        .args(["model", "show", "sel4"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run l4sim");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}

/// `l4sim run`: a static system from a scenario file, its report in both formats, the same on
/// every run; a malformed or inconsistent file is a clear error, never a panic.
#[test]
fn run_builds_a_system_from_a_scenario_file_and_reports_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let file = format!("{root}/fixtures/scenarios/notifications.toml");
    let out = l4sim(&["run", &file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("halted by waiter") && text.contains("PASS 9"), "{text}");
    let json = |f: &str| {
        let out = l4sim(&["run", f, "--format", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("valid JSON")
    };
    let a = json(&file);
    assert_eq!(a, json(&file), "two runs, one report");
    for k in ["exit", "cycles", "threads"] {
        assert!(a.get(k).is_some(), "missing {k}");
    }
    let threads = a["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    assert!(threads.iter().all(|t| t["cycles"].as_u64().unwrap() > 0));
    let x86 = json(&format!("{root}/fixtures/scenarios/root-task-x86_64.toml"));
    assert_eq!(x86["threads"][0]["output"].as_str().unwrap().trim(), "PASS 30");
    let boot = json(&format!("{root}/fixtures/scenarios/root-task.toml"));
    assert!(boot["threads"][0]["output"].as_str().unwrap().starts_with("PASS"), "{boot}");
    // With timer ticks and device interrupts too: deterministic, and the equals shared the CPU.
    let tick = format!("{root}/fixtures/scenarios/preemption.toml");
    let p = json(&tick);
    assert_eq!(p, json(&tick), "two runs with interrupts, one report");
    assert!(p["threads"][0]["output"].as_str().unwrap().starts_with("PASS"), "{p}");

    let dir = std::env::temp_dir().join(format!("l4sim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Every kind of capability the file format documents is accepted.
    let every = dir.join("every-kind.toml");
    std::fs::write(
        &every,
        "arch = \"armv7\"\nuarch = \"cortex-a9\"\nmax_cycles = 100000\n[[endpoint]]\nname = \"e\"\n\
         [[notification]]\nname = \"n\"\n[[thread]]\nname = \"a\"\nguest = \"notifications\"\n\
         [[thread]]\nname = \"t\"\nguest = \"notifications\"\ncaps = [{ slot = 1, endpoint = \"e\" }, \
         { slot = 2, cnode = \"self\" }, { slot = 3, untyped = 16 }, { slot = 4, notification = \"n\" }, \
         { slot = 5, tcb = \"a\" }, { slot = 6, vspace = \"self\" }, { slot = 7, tcb = \"self\" }]\n",
    )
    .unwrap();
    let out = l4sim(&["run", every.to_str().unwrap()]);
    assert!(out.status.success(), "every kind: {}", String::from_utf8_lossy(&out.stderr));
    for (name, body, says) in [
        ("bad-toml", "arch = \"armv7\"\nuarch = ", "scenario"),
        ("no-such-endpoint", "arch = \"armv7\"\nuarch = \"cortex-a9\"\n[[thread]]\nname = \"t\"\nguest = \"notifications\"\ncaps = [{ slot = 1, endpoint = \"nope\" }]\n", "no endpoint `nope`"),
        ("two-objects", "arch = \"armv7\"\nuarch = \"cortex-a9\"\n[[endpoint]]\nname = \"e\"\n[[thread]]\nname = \"t\"\nguest = \"notifications\"\ncaps = [{ slot = 1, endpoint = \"e\", untyped = 12 }]\n", "exactly one of"),
        ("bad-rights", "arch = \"armv7\"\nuarch = \"cortex-a9\"\n[[endpoint]]\nname = \"e\"\n[[thread]]\nname = \"t\"\nguest = \"notifications\"\ncaps = [{ slot = 1, endpoint = \"e\", rights = \"rx\" }]\n", "rights `rx`"),
        ("missing-elf", "arch = \"armv7\"\nuarch = \"cortex-a9\"\n[[thread]]\nname = \"t\"\nelf = \"nothing-here.elf\"\n", "cannot read"),
        ("unknown-field", "arch = \"armv7\"\nuarch = \"cortex-a9\"\ncolour = \"blue\"\n", "colour"),
        ("slice-without-tick", "arch = \"armv7\"\nuarch = \"cortex-a9\"\ntime_slice = 3\n", "needs `timer_tick`"),
        ("zero-tick", "arch = \"armv7\"\nuarch = \"cortex-a9\"\ntimer_tick = 0\n", "at least 1"),
        ("bad-slot", "arch = \"armv7\"\nuarch = \"cortex-a9\"\n[[endpoint]]\nname = \"e\"\n[[thread]]\nname = \"t\"\nguest = \"notifications\"\ncaps = [{ slot = 9999, endpoint = \"e\" }]\n", "slot"),
    ] {
        let f = dir.join(format!("{name}.toml"));
        std::fs::write(&f, body).unwrap();
        let out = l4sim(&["run", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
