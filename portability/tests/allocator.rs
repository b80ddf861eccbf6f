//! The counting allocator installed as this test binary's global allocator. Tests that arm
//! a small limit (or must arm before anything else) run in a child: this same binary,
//! re-executed with `CHILD_VAR` naming a scenario, running only `child_entry`.

use std::fmt::Write as _;

use repy_portability::{
    memory::CountingAllocator,
    process::{exit_now, write_stderr_raw},
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

const CHILD_VAR: &str = "REPY_ALLOCATOR_TEST_CHILD";
const MIB: usize = 1 << 20;

/// A fixed buffer implementing fmt::Write, so the handler can format without allocating.
struct StackText {
    bytes: [u8; 128],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn on_exceeded(limit: usize) -> ! {
    let mut text = StackText { bytes: [0; 128], len: 0 };
    let _ = writeln!(text, "allocator-test: limit {limit} exceeded");
    write_stderr_raw(&text.bytes[..text.len]);
    exit_now(4)
}

/// The scenarios, run inside the child.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_VAR) else {
        return; // a normal run of the suite
    };
    match scenario.as_str() {
        "single" => {
            ALLOCATOR.start_counting(16 * MIB, on_exceeded);
            let small = std::hint::black_box(vec![1u8; MIB]);
            println!("SMALL-OK {}", small.len());
            let big: Vec<u8> = Vec::with_capacity(64 * MIB);
            std::hint::black_box(&big);
        }
        "zeroed" => {
            ALLOCATOR.start_counting(16 * MIB, on_exceeded);
            let big = vec![0u8; 64 * MIB];
            std::hint::black_box(&big);
        }
        "growth" => {
            ALLOCATOR.start_counting(16 * MIB, on_exceeded);
            let mut v: Vec<u8> = Vec::with_capacity(MIB);
            println!("SMALL-OK {}", v.capacity());
            // Doubling reallocations: one of them must cross 16 MiB.
            for i in 0..64 * MIB {
                v.push(i as u8);
            }
            std::hint::black_box(&v);
        }
        "underflow" => {
            // Memory from before counting started, freed afterwards.
            let early = std::hint::black_box(vec![1u8; 8 * MIB]);
            ALLOCATOR.start_counting(4 * MIB, on_exceeded);
            drop(early);
            let live = ALLOCATOR.live_bytes();
            assert!(live < MIB, "live bytes after freeing uncounted memory: {live}");
            // A wrapped unsigned count would refuse this.
            let small = std::hint::black_box(vec![1u8; MIB]);
            assert!(ALLOCATOR.live_bytes() < 2 * MIB);
            drop(small);
            println!("UNDERFLOW-OK");
            return;
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("SURVIVED");
}

/// Runs `scenario` in a child; returns (exit code, stdout, stderr).
fn run_child(scenario: &str) -> (Option<i32>, String, String) {
    let output = repy_portability::child::repy_command(&std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, scenario)
        .output()
        .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_refused(scenario: &str) {
    let (code, stdout, stderr) = run_child(scenario);
    assert_eq!(code, Some(4), "{scenario}: status {code:?}\nstdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("allocator-test: limit 16777216 exceeded\n"), "{scenario}: stderr: {stderr}");
    assert!(!stdout.contains("SURVIVED"), "{scenario}: the refused allocation was performed");
}

#[test]
fn single_large_allocation_is_refused() {
    assert_refused("single");
    assert!(run_child("single").1.contains("SMALL-OK"), "allocations under the limit must work");
}

#[test]
fn zeroed_allocation_is_refused() {
    assert_refused("zeroed");
}

#[test]
fn reallocation_growth_is_refused() {
    assert_refused("growth");
}

#[test]
fn freeing_uncounted_memory_does_not_underflow() {
    let (code, stdout, stderr) = run_child("underflow");
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("UNDERFLOW-OK"), "stdout: {stdout}");
}

/// The only test that arms the allocator in this process; the limit is high enough for
/// every other test running alongside. Other threads allocate and free meanwhile, so the
/// expectations leave 1 MiB of slack.
#[test]
fn counts_live_and_peak_bytes_once_armed() {
    ALLOCATOR.start_counting(1 << 30, on_exceeded);
    let before = ALLOCATOR.live_bytes();

    let block = std::hint::black_box(vec![7u8; 4 * MIB]);
    let with_block = ALLOCATOR.live_bytes();
    assert!(with_block >= before + 3 * MIB, "{before} -> {with_block}");
    assert!(ALLOCATOR.peak_bytes() >= 4 * MIB);

    let mut grown: Vec<u8> = Vec::with_capacity(MIB);
    grown.reserve_exact(8 * MIB);
    let with_growth = ALLOCATOR.live_bytes();
    assert!(with_growth >= with_block + 7 * MIB, "{with_block} -> {with_growth} after growing by 8 MiB");

    grown.shrink_to(0);
    drop(grown);
    drop(block);
    let after = ALLOCATOR.live_bytes();
    assert!(after + 11 * MIB <= with_growth, "{with_growth} -> {after} after freeing 12 MiB");
    assert!(ALLOCATOR.peak_bytes() >= with_growth, "peak below a value seen");
}
