;; Legacy exception handling: try / catch / catch_all, tags by identity,
;; payloads, throws across frames, traps never caught.

(module
  (tag $e0)
  (tag $e1 (param i32))
  (tag $e2 (param i32 i64))
  (tag $ef (param f32 f64))

  (func $throw0 (throw $e0))
  (func $throw1 (param i32) (local.get 0) (throw $e1))
  (func $throw2 (param i32 i64) (local.get 0) (local.get 1) (throw $e2))
  (func $deep (param i32)
    (if (i32.eqz (local.get 0))
      (then (call $throw1 (i32.const 42)))
      (else (call $deep (i32.sub (local.get 0) (i32.const 1))))))

  (func (export "empty-try") (result i32)
    try   end (i32.const 1))

  (func (export "no-throw") (result i32)
    try (result i32)  (i32.const 7) catch $e0 (i32.const 8) end)

  (func (export "local-throw") (result i32)
    try (result i32)  (throw $e0) catch $e0 (i32.const 2) end)

  (func (export "local-payload") (param i32) (result i32)
    try (result i32)  (local.get 0) (throw $e1) catch $e1 (i32.add (i32.const 100)) end)

  (func (export "call-throw") (result i32)
    try (result i32)  (call $throw0) (i32.const 0) catch $e0 (i32.const 3) end)

  (func (export "call-payload2") (result i64)
    (local $t i64)
    try (result i64)  (call $throw2 (i32.const 5) (i64.const 6)) (i64.const 0) catch $e2 (local.set $t) (i64.extend_i32_u) (local.get $t) (i64.add) end)

  (func (export "float-payload") (result f64)
    (local $d f64)
    try (result f64)  (f32.const 1.5) (f64.const 2.25) (throw $ef) catch $ef (local.set $d) (f64.promote_f32) (local.get $d) (f64.add) end)

  (func (export "deep") (param i32) (result i32)
    try (result i32)  (call $deep (local.get 0)) (i32.const 0) catch $e1  end)

  (func (export "second-catch") (result i32)
    try (result i32)  (call $throw1 (i32.const 9)) (i32.const 0) catch $e0 (i32.const 1) catch $e1 (i32.const 1000) (i32.add) end)

  (func (export "catch-all") (result i32)
    try (result i32)  (call $throw2 (i32.const 1) (i64.const 2)) (i32.const 0) catch $e0 (i32.const 1) catch_all  (i32.const 77) end)

  (func (export "uncaught-by-tag") (result i32)
    try (result i32)  (call $throw0) (i32.const 0) catch $e1  end)

  (func (export "outer-catches") (result i32)
    try (result i32) 
        try (result i32)  (call $throw1 (i32.const 4)) (i32.const 0) catch $e0 (i32.const 1) end catch $e1 (i32.const 10) (i32.mul) end)

  (func (export "trap-not-caught") (result i32)
    try (result i32)  (unreachable) catch_all  (i32.const 1) end)

  (func $div (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "callee-trap-not-caught") (result i32)
    try (result i32)  (call $div (i32.const 0)) catch_all  (i32.const 1) end)

  (func (export "throw-out") (call $throw0))

  ;; Values on the stack below the try and locals survive the catch.
  (func (export "stack-and-locals") (param i32) (result i32)
    (local $l i32)
    (local.set $l (i32.const 1000))
    (i32.const 5)
    try (result i32)  (local.set $l (i32.const 2000)) (call $throw1 (local.get 0)) (i32.const 0) catch $e1  end
    (i32.add)
    (local.get $l)
    (i32.add))

  ;; Catch bodies run again on every iteration.
  (func (export "loop") (param i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get 0)))
        try   (call $throw1 (local.get 0)) catch $e1 (local.get $sum) (i32.add) (local.set $sum) end
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (local.get $sum))

  ;; A branch out of a catch body.
  (func (export "br-from-catch") (result i32)
    (block $b (result i32)
      try   (call $throw1 (i32.const 3)) catch $e1 (br $b) end
      (i32.const 0)))

  ;; An exception thrown in a catch body goes to the enclosing try.
  (func (export "throw-in-catch") (result i32)
    try (result i32) 
        try (result i32)  (call $throw0) (i32.const 0) catch $e0 (call $throw1 (i32.const 6)) (i32.const 0) end catch $e1  end)

  (func $id (param i32) (result i32) (local.get 0))
  (table funcref (elem $throw0 $id))
  (func (export "indirect") (param i32) (result i32)
    try (result i32)  (call_indirect (param i32) (result i32) (i32.const 50) (local.get 0)) catch_all  (i32.const -1) end)
  (type $v (func))
  (func (export "indirect-throw") (result i32)
    try (result i32)  (call_indirect (type $v) (i32.const 0)) (i32.const 0) catch $e0 (i32.const 11) end)
  (func (export "indirect-trap") (result i32)
    try (result i32)  (call_indirect (type $v) (i32.const 5)) (i32.const 0) catch_all  (i32.const 11) end)
)

(assert_return (invoke "empty-try") (i32.const 1))
(assert_return (invoke "no-throw") (i32.const 7))
(assert_return (invoke "local-throw") (i32.const 2))
(assert_return (invoke "local-payload" (i32.const 5)) (i32.const 105))
(assert_return (invoke "call-throw") (i32.const 3))
(assert_return (invoke "call-payload2") (i64.const 11))
(assert_return (invoke "float-payload") (f64.const 3.75))
(assert_return (invoke "deep" (i32.const 0)) (i32.const 42))
(assert_return (invoke "deep" (i32.const 1000)) (i32.const 42))
(assert_return (invoke "second-catch") (i32.const 1009))
(assert_return (invoke "catch-all") (i32.const 77))
(assert_exception (invoke "uncaught-by-tag"))
(assert_return (invoke "outer-catches") (i32.const 40))
(assert_trap (invoke "trap-not-caught") "unreachable")
(assert_trap (invoke "callee-trap-not-caught") "integer divide by zero")
(assert_exception (invoke "throw-out"))
(assert_return (invoke "stack-and-locals" (i32.const 20)) (i32.const 2025))
(assert_return (invoke "loop" (i32.const 10)) (i32.const 55))
(assert_return (invoke "br-from-catch") (i32.const 3))
(assert_return (invoke "throw-in-catch") (i32.const 6))
(assert_return (invoke "indirect" (i32.const 1)) (i32.const 50))
(assert_return (invoke "indirect-throw") (i32.const 11))
(assert_trap (invoke "indirect-trap") "undefined element")
;; the module still works after traps and uncaught exceptions
(assert_return (invoke "call-throw") (i32.const 3))
