//! The cost of a call inside a legacy `try` (the runtime try-call of
//! `w2native-sjlj`) against a plain call, and of a throw caught one frame
//! up. A benchmark, not a test: `cargo bench -p w2native-tests --bench
//! trycall` prints nanoseconds per call and the ratio (docs/sjlj.md).

use runtime_support::Val;
use std::time::Instant;
use w2native::BoundsMode;
use w2native_tests::loader;

const WAT: &str = r#"
(module
  (tag $e (param i32))
  (func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $thrower (param i32) (result i32) (local.get 0) (throw $e))
  (func (export "plain") (param $n i32) (result i32)
    (local $acc i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (call $f (local.get $acc)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc))
  (func (export "in_try") (param $n i32) (result i32)
    (local $acc i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      try
        (local.set $acc (call $f (local.get $acc)))
      catch_all
      end
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc))
  (func (export "throw_catch") (param $n i32) (result i32)
    (local $acc i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      try
        (drop (call $thrower (local.get $acc)))
      catch $e
        (local.set $acc (i32.add (i32.const 1)))
      end
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc)))
"#;

fn main() {
    let buf = wast::parser::ParseBuffer::new(WAT).expect("lexing the benchmark");
    let mut wat: wast::Wat = wast::parser::parse(&buf).expect("parsing the benchmark");
    let wasm = wat.encode().expect("encoding the benchmark");
    let dir = tempfile::tempdir().expect("temporary directory");
    let module = loader::load(&wasm, "trycall", BoundsMode::Guard, dir.path()).expect("compiles");
    let instance =
        runtime_support::Instance::new(&module, &runtime_support::Imports::new()).expect("links");
    // One timed call of `name` looping `n` times: nanoseconds per iteration.
    let once = |name: &str, n: i32| -> f64 {
        let f = instance.get_func(name).expect("export");
        let start = Instant::now();
        let r = f.call(&[Val::I32(n)]).expect("runs");
        assert_eq!(r, vec![Val::I32(n)]);
        start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
    };
    for name in ["plain", "in_try", "throw_catch"] {
        once(name, 1000); // warm-up
    }
    // Interleaved rounds, best of each: the machine is shared, and
    // interleaving makes both kinds see the same load.
    let (mut plain, mut in_try, mut throw) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..9 {
        plain = plain.min(once("plain", 20_000_000));
        in_try = in_try.min(once("in_try", 5_000_000));
        throw = throw.min(once("throw_catch", 500_000));
    }
    println!("plain call          {plain:8.2} ns");
    println!(
        "call inside try     {in_try:8.2} ns  ({:.1}x a plain call)",
        in_try / plain
    );
    println!(
        "throw + catch       {throw:8.2} ns  ({:.1}x a plain call)",
        throw / plain
    );
}
