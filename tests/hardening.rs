//! Runtime hardening: what happens at the edges of a compiled program's
//! resources. Deep recursion ends in a clean `call stack exhausted` trap
//! (exit 134), an access at every distance around the end of memory traps
//! exactly when it should in the guard and explicit bounds modes, growing
//! memory past its limit returns -1, and a trap in a wasi-threads thread
//! ends the whole process with one clear line.

use runtime_support::{Imports, Instance, TrapError, Val};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use w2native::{BoundsMode, CompileOptions, Target};
use w2native_environ::Trap;
use w2native_tests::{cprog, cross, loader};

fn wat(src: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(src).expect("lexing test module");
    let mut module = wast::parser::parse::<wast::Wat>(&buf).expect("parsing test module");
    module.encode().expect("encoding test module")
}

/// Builds `wat` into an executable and runs it (timeout 60 s).
fn run_executable(src: &str, bounds: BoundsMode) -> std::process::Output {
    cross::runtime(Target::host())
        .expect("host runtime library (cargo build --release -p runtime-support)");
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("prog");
    let mut opts = CompileOptions::new(Target::host(), "app", "prog");
    opts.bounds = bounds;
    w2native::build_executable(&wat(src), &opts, &exe).expect("building the test program");
    cprog::run_with_timeout(Command::new(&exe), Duration::from_secs(60)).expect("running it")
}

fn load(src: &str, bounds: BoundsMode, dir: &Path) -> Instance {
    let module = loader::load(&wat(src), "hardening", bounds, dir)
        .unwrap_or_else(|e| panic!("loading the test module: {e}"));
    Instance::new(&module, &Imports::new()).unwrap_or_else(|e| panic!("instantiating: {e}"))
}

const RECURSION: &str = r#"(module
  (func $down (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "_start") (drop (call $down (i32.const 0)))))"#;

#[test]
fn stack_overflow_traps_cleanly() {
    for bounds in [BoundsMode::Guard, BoundsMode::Explicit] {
        let out = run_executable(RECURSION, bounds);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(134), "{bounds:?}: {stderr}");
        assert!(
            stderr.starts_with("trap: call stack exhausted") && stderr.lines().count() == 1,
            "{bounds:?}: {stderr:?}"
        );
    }
}

#[test]
fn stack_overflow_in_process_is_a_trap() {
    let dir = tempfile::tempdir().unwrap();
    let src = RECURSION.replace("\"_start\"", "\"run\"");
    let instance = load(&src, BoundsMode::Guard, dir.path());
    let f = instance.get_func("run").unwrap();
    for _ in 0..3 {
        // Again and again: the guard page and alternate stack are reusable.
        let err = f.call(&[]).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::StackOverflow), "{err}");
    }
}

/// Loads of every width with a dynamic address and static offsets.
const ACCESS: &str = r#"(module
  (memory (export "mem") 1 3)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "l8") (param i32) (drop (i32.load8_u (local.get 0))))
  (func (export "l16") (param i32) (drop (i32.load16_u (local.get 0))))
  (func (export "l32") (param i32) (drop (i32.load (local.get 0))))
  (func (export "l64") (param i32) (drop (i64.load (local.get 0))))
  (func (export "s32") (param i32) (i32.store (local.get 0) (i32.const 7)))
  (func (export "s64") (param i32) (i64.store (local.get 0) (i64.const 7)))
  (func (export "o1") (param i32) (drop (i32.load offset=1 (local.get 0))))
  (func (export "o64k") (param i32) (drop (i32.load offset=65536 (local.get 0))))
  (func (export "o2g") (param i32) (drop (i32.load offset=0x7fffffff (local.get 0))))
  (func (export "o4g") (param i32) (drop (i64.load offset=0xfffffff8 (local.get 0))))
  (func (export "omax") (param i32) (drop (i32.load8_u offset=0xffffffff (local.get 0)))))"#;

fn check_accesses(instance: &Instance, bounds: BoundsMode) {
    let pages = instance.get_memory("mem").unwrap().pages();
    let end = pages << 16;
    let cases: [(&str, u64, u64); 11] = [
        ("l8", 0, 1),
        ("l16", 0, 2),
        ("l32", 0, 4),
        ("l64", 0, 8),
        ("s32", 0, 4),
        ("s64", 0, 8),
        ("o1", 1, 4),
        ("o64k", 65536, 4),
        ("o2g", 0x7fff_ffff, 4),
        ("o4g", 0xffff_fff8, 8),
        ("omax", 0xffff_ffff, 1),
    ];
    for (name, offset, size) in cases {
        let f = instance.get_func(name).unwrap();
        // Addresses around the end of memory, minus the static offset, and
        // the top of the 32-bit address space.
        let mut addrs: Vec<u64> = (-16i64..=16)
            .map(|d| (end as i64 + d - offset as i64).rem_euclid(1 << 32) as u64)
            .collect();
        addrs.extend([0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0, 0xffff_ffff]);
        for addr in addrs {
            let in_bounds = addr + offset + size <= end;
            let got = f.call(&[Val::I32(addr as u32 as i32)]);
            match (&got, in_bounds) {
                (Ok(_), true) => {}
                (Err(TrapError::Trap { trap, .. }), false) if *trap == Trap::MemoryOutOfBounds => {}
                _ => panic!(
                    "{bounds:?} {name} (offset {offset:#x}, {size} bytes) at {addr:#x}, memory end {end:#x}: \
                     expected {}, got {got:?}",
                    if in_bounds { "success" } else { "out of bounds trap" }
                ),
            }
        }
    }
}

#[test]
fn out_of_bounds_at_every_distance() {
    let dir = tempfile::tempdir().unwrap();
    for bounds in [BoundsMode::Guard, BoundsMode::Explicit] {
        let instance = load(ACCESS, bounds, dir.path());
        check_accesses(&instance, bounds);
        // After growing, the new end is the boundary.
        let grow = instance.get_func("grow").unwrap();
        assert_eq!(grow.call(&[Val::I32(1)]).unwrap(), vec![Val::I32(1)]);
        check_accesses(&instance, bounds);
    }
}

#[test]
fn memory_grow_to_the_limit_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for bounds in [BoundsMode::Guard, BoundsMode::Explicit] {
        let instance = load(ACCESS, bounds, dir.path());
        let grow = instance.get_func("grow").unwrap();
        let g = |n: i32| grow.call(&[Val::I32(n)]).unwrap();
        assert_eq!(g(1), vec![Val::I32(1)]);
        assert_eq!(g(1), vec![Val::I32(2)]);
        assert_eq!(
            g(1),
            vec![Val::I32(-1)],
            "{bounds:?}: past the declared maximum"
        );
        assert_eq!(g(-1), vec![Val::I32(-1)], "{bounds:?}: 0xffffffff pages");
        assert_eq!(g(0), vec![Val::I32(3)]);
        // The last byte is usable, the next one is not.
        let s32 = instance.get_func("s32").unwrap();
        assert!(s32.call(&[Val::I32(3 * 65536 - 4)]).is_ok());
        assert!(s32.call(&[Val::I32(3 * 65536 - 3)]).is_err());

        // Without a declared maximum: the 4 GiB limit of wasm32.
        let unbounded = load(
            r#"(module (memory 1)
                 (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
                 (func (export "last") (result i32)
                   (i32.store8 (i32.const -1) (i32.const 9)) (i32.load8_u (i32.const -1))))"#,
            bounds,
            dir.path(),
        );
        let grow = unbounded.get_func("grow").unwrap();
        let g = |n: i32| grow.call(&[Val::I32(n)]).unwrap();
        assert_eq!(g(65536), vec![Val::I32(-1)], "{bounds:?}: 1 + 65536 pages");
        assert_eq!(g(65535), vec![Val::I32(1)], "{bounds:?}: up to 65536 pages");
        assert_eq!(g(1), vec![Val::I32(-1)], "{bounds:?}: past 4 GiB");
        let last = unbounded.get_func("last").unwrap();
        assert_eq!(last.call(&[]).unwrap(), vec![Val::I32(9)]);
    }
}

#[test]
fn trap_in_a_thread_ends_the_process() {
    // The main thread spawns a thread that traps, then waits (bounded) on
    // a futex nobody wakes: the trap must end the process first.
    let src = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
      (func (export "wasi_thread_start") (param i32 i32)
        (drop (i32.div_u (i32.const 1) (local.get 1))))
      (func (export "_start")
        (drop (call $spawn (i32.const 0)))
        (drop (memory.atomic.wait32 (i32.const 64) (i32.const 0) (i64.const 30000000000)))))"#;
    let out = run_executable(src, BoundsMode::Guard);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(134), "{stderr}");
    assert!(
        stderr.starts_with("trap: integer divide by zero") && stderr.lines().count() == 1,
        "{stderr:?}"
    );
}
