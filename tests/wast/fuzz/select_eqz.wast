;; Found by the differential fuzzer (fuzz/): wasmi 2.0.0, then the reference,
;; returned the first operand of a `select` whose condition is an `i32.eqz`
;; when the eqz operand was non-zero (an inverted fused condition), so a
;; guarded `rem_u` trapped there and not here. w2native was right; this
;; pins the behaviour (the fuzzer now uses wasmi 1.1, see docs/fuzzing.md).
(module
  (func (export "select_eqz") (param i32 i32) (result i32)
    (select (local.get 0) (local.get 1) (i32.eqz (local.get 1))))
  (func (export "guarded_rem") (param i32 i32) (result i32)
    (i32.rem_u (local.get 0)
      (select (i32.const 1) (local.get 1) (i32.eqz (local.get 1)))))
  (func (export "select_eqz3") (param i32 i32) (result i32)
    (select (i32.const 1) (local.get 1)
      (i32.eqz (i32.eqz (i32.eqz (local.get 1))))))
  (func (export "select_eqz_i64") (param i64 i64) (result i64)
    (select (local.get 0) (local.get 1) (i64.eqz (local.get 1)))))

(assert_return (invoke "select_eqz" (i32.const 65536) (i32.const 430144716)) (i32.const 430144716))
(assert_return (invoke "select_eqz" (i32.const 65536) (i32.const 0)) (i32.const 65536))
(assert_return (invoke "guarded_rem" (i32.const 65536) (i32.const 430144716)) (i32.const 65536))
(assert_return (invoke "guarded_rem" (i32.const 65536) (i32.const 0)) (i32.const 0))
(assert_return (invoke "select_eqz3" (i32.const 65536) (i32.const 430144716)) (i32.const 430144716))
(assert_return (invoke "select_eqz3" (i32.const 65536) (i32.const 0)) (i32.const 1))
(assert_return (invoke "select_eqz_i64" (i64.const 5) (i64.const 7)) (i64.const 7))
(assert_return (invoke "select_eqz_i64" (i64.const 5) (i64.const 0)) (i64.const 5))
