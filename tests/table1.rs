//! `l4sim table1`: the golden file pins every row, so any change to the model shows up in review
//! as a changed row. After an intended change, regenerate it with
//! `L4SIM_BLESS=1 cargo test --test table1` and explain the changed rows in the commit.

use l4sim::table1;

const GOLDEN: &str = "tests/golden/table1.csv";

#[test]
fn the_table_matches_its_golden_file() {
    let rows = table1::run().expect("table1");
    let csv = table1::to_csv(&rows);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("L4SIM_BLESS").is_some() {
        std::fs::write(&path, &csv).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if golden != csv {
        let diff: Vec<String> = golden
            .lines()
            .zip(csv.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "Table I changed ({} lines before, {} now); if intended, run L4SIM_BLESS=1 cargo test --test table1\n{}",
            golden.lines().count(),
            csv.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn every_paper_row_is_reported_with_the_documented_json_keys() {
    let rows = table1::run().expect("table1");
    let paper = table1::paper_rows(l4sim::builtin::TABLE1_CSV).unwrap();
    assert_eq!(rows.len(), paper.len());
    assert_eq!(rows.len(), 12);
    let v = table1::to_json(&rows);
    for row in v.as_array().unwrap() {
        for key in [
            "kernel",
            "machine",
            "mhz",
            "paper_cycles",
            "simulated_cycles",
            "error_percent",
            "run_kind",
            "estimated_parameters",
            "hardware_limit",
            "breakdown",
        ] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
        match row["run_kind"].as_str().unwrap() {
            "emulated" | "model-only" => {
                let total: u64 =
                    row["breakdown"].as_object().unwrap().values().map(|c| c.as_u64().unwrap()).sum();
                assert_eq!(Some(total), row["simulated_cycles"].as_u64(), "breakdown sums: {row}");
                assert!(row["hardware_limit"].as_u64().unwrap() <= total);
                let range = row["layout_range"].as_array().unwrap();
                let (lo, hi) = (range[0].as_u64().unwrap(), range[1].as_u64().unwrap());
                assert!(lo <= total && total <= hi, "the first placement lies in the range: {row}");
            }
            "not-modelled" => {
                assert!(row["simulated_cycles"].is_null(), "a row not modelled has no number: {row}");
                assert!(row["not_modelled"].as_str().is_some_and(|w| !w.is_empty()));
            }
            other => panic!("unknown run kind {other}"),
        }
    }
    // The Pentium 4 row carries the other published figure.
    let p4 = v.as_array().unwrap().iter().find(|r| r["machine"] == "Pentium 4").unwrap();
    assert!(p4["remark"].as_str().unwrap().contains("1,008"));
    // A published range is a pair.
    let alpha = v.as_array().unwrap().iter().find(|r| r["kernel"] == "L4/Alpha").unwrap();
    assert_eq!(alpha["paper_cycles"], serde_json::json!([70, 80]));
}

#[test]
fn the_error_is_zero_inside_a_published_range_and_relative_to_the_nearer_end_outside() {
    let paper = table1::paper_rows("h\nK,1997,A,P,100,70,80,0.1,\n").unwrap();
    let spec =
        table1::run_specs("[[row]]\nkernel='K'\nprocessor='P'\npreset='x'\nprofile='y'\narch='z'\n").unwrap();
    let row = |cycles| table1::Row {
        paper: paper[0].clone(),
        spec: spec[0].clone(),
        kind: table1::RunKind::Emulated,
        result: Some(table1::Simulated {
            cycles,
            breakdown: Default::default(),
            estimated_parameters: 0,
            kernel_entry: String::new(),
            tlb_policy: String::new(),
            layout_range: (cycles, cycles),
        }),
    };
    assert_eq!(row(75).error_percent(), Some(0.0));
    assert_eq!(row(63).error_percent(), Some(-10.0));
    assert_eq!(row(88).error_percent(), Some(10.0));
}

#[test]
fn a_malformed_table_is_an_error_not_a_panic() {
    assert!(table1::paper_rows("h\nK,1997,A\n").is_err());
    assert!(table1::paper_rows("h\nK,x,A,P,100,70,80,0.1,\n").is_err());
    assert!(table1::run_specs("[[row]]\nkernel=1\n").is_err());
}

#[test]
fn each_rows_estimate_count_is_what_model_show_lists_for_its_profile_and_preset() {
    use l4sim::kernel::preset::KernelPreset;
    use simcore::{CostModel, Profile};
    for r in table1::run().unwrap() {
        let Some(sim) = &r.result else { continue };
        let profile = Profile::from_toml(l4sim::builtin::profile(&r.spec.profile).unwrap(), "p").unwrap();
        let preset = KernelPreset::from_toml(l4sim::builtin::preset(&r.spec.preset).unwrap(), "k").unwrap();
        let isa = l4sim::machine::isa_of(&r.spec.arch);
        let cost = CostModel::new(profile.clone());
        let from_preset = preset.ipc_estimate_count(isa, |p| cost.try_price_primitive(p).is_some());
        // The profile part counts the estimates the run reads: at most all of them (what
        // `l4sim model list` counts), and every estimate outside [pipeline] and [primitives].
        let read_always = profile
            .params()
            .iter()
            .filter(|(n, p)| p.is_estimate() && !n.starts_with("pipeline.") && !n.starts_with("primitives."))
            .count();
        let from_profile = sim.estimated_parameters - from_preset;
        let what = format!("{} on {}", r.paper.kernel, r.paper.processor);
        assert!(from_profile >= read_always && from_profile <= profile.estimate_count(), "{what}");
        // `l4sim model show <preset>` marks the steps counted.
        let shown = l4sim::report::preset_text(&preset);
        assert!(shown.contains(&format!(
            "{} of them on the fastpath one-way IPC",
            preset.fastpath_estimate_count(isa)
        )));
    }
}
