//! The committed guest ELFs are what their sources build to (needs clang and ld.lld, which
//! `make test` installs; skipped with a message where they are missing).

use std::process::Command;

#[test]
fn guest_elfs_match_their_sources() {
    let have = |t: &str| {
        Command::new("sh").arg("-c").arg(format!("command -v {t}")).output().is_ok_and(|o| o.status.success())
    };
    if !have("clang") || !have("ld.lld") {
        eprintln!("skipped: clang or ld.lld not installed (run `make test`, which installs them)");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/fixtures/build-guests.sh"))
        .arg("--check")
        .output()
        .expect("run build-guests.sh");
    assert!(
        out.status.success(),
        "guest ELFs are stale; run fixtures/build-guests.sh\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
