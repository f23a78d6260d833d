//! `l4sim validate`: published seL4 results beyond Table I, simulated side by side.

#[test]
fn every_published_result_is_simulated_and_reported() {
    let rows = l4sim::validation::run().unwrap();
    let published = l4sim::validation::published(l4sim::builtin::VALIDATION).unwrap();
    assert_eq!(rows.len(), published.len());
    assert!(rows.len() >= 3);
    for row in l4sim::validation::to_json(&rows).as_array().unwrap() {
        for key in ["machine", "preset", "profile", "published", "simulated", "error_percent", "source"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
        assert!(row["simulated"]["call"].as_u64().unwrap() > 0);
    }
    // The skim window is switched as the measurement was made: on is dearer than off.
    let haswell = rows.iter().find(|r| r.published.skim_window == Some(true)).unwrap();
    let skylake = rows.iter().find(|r| r.published.skim_window == Some(false)).unwrap();
    assert!(haswell.simulated.0 > skylake.simulated.0);
}

#[test]
fn a_malformed_validation_file_is_an_error() {
    assert!(l4sim::validation::published("[[result]]\nmachine = 1\n").is_err());
}
