;; Legacy exception handling: delegate (to an outer try, to a plain block,
;; out of the function) and rethrow (of the caught exception, from nested
;; catches, with catch_all), plus the clang sjlj shape.

(module
  (tag $e0)
  (tag $e1 (param i32))
  (func $throw0 (throw $e0))
  (func $throw1 (param i32) (local.get 0) (throw $e1))

  (func (export "delegate-to-outer") (result i32)
    try (result i32) 
        try   (call $throw0) delegate 0 
        (i32.const 0) catch $e0 (i32.const 1) end)

  ;; delegate skips a try that is between it and its label.
  (func (export "delegate-skips") (result i32)
    try $outer (result i32) 
        try (result i32) 
            try   (call $throw0) delegate $outer 
            (i32.const 0) catch $e0 (i32.const 2) end catch $e0 (i32.const 3) end)

  ;; delegate to a label that is a plain block: the nearest try around it.
  (func (export "delegate-block") (result i32)
    try (result i32) 
        (block $b
          try   (call $throw1 (i32.const 8)) delegate $b )
        (i32.const 0) catch $e1  end)

  ;; delegate out of the function (the clang sjlj shape around
  ;; __wasm_setjmp).
  (func $delegate-out
    (block
      try   (call $throw0) delegate 1 ))
  (func (export "delegate-out") (result i32)
    try (result i32)  (call $delegate-out) (i32.const 0) catch $e0 (i32.const 4) end)
  (func (export "delegate-out-uncaught") (call $delegate-out))

  ;; A delegate whose body throws nothing.
  (func (export "delegate-quiet") (result i32)
    try (result i32)  (i32.const 9) delegate 0 )

  ;; A local throw inside a delegating try.
  (func (export "delegate-local-throw") (result i32)
    try (result i32)  try   (throw $e1 (i32.const 12)) delegate 0  (i32.const 0) catch $e1  end)

  (func (export "rethrow") (result i32)
    try (result i32) 
        try   (call $throw1 (i32.const 21)) catch $e1 (drop) (rethrow 0) end
        (i32.const 0) catch $e1  end)

  (func (export "rethrow-catch-all") (result i32)
    try (result i32) 
        try   (call $throw1 (i32.const 22)) catch_all  (rethrow 0) end
        (i32.const 0) catch $e1  end)

  (func (export "rethrow-out") (param i32) (result i32)
    try (result i32)  (call $throw1 (local.get 0)) (i32.const 0) catch $e1 (if (i32.eqz) (then (rethrow 1))) (i32.const 5) end)

  ;; rethrow 2 from a nested catch rethrows the outer exception, and the
  ;; try around the rethrow catches it.
  (func (export "rethrow-nested") (result i32)
    try (result i32)  (call $throw1 (i32.const 30)) (i32.const 0) catch $e1 (drop) try (result i32) 
            try (result i32)  (call $throw0) (i32.const 0) catch $e0 (rethrow 2) end catch $e1 (i32.const 1) (i32.add) end end)

  ;; The clang -wasm-enable-sjlj shape: a loop around a try whose catch
  ;; tests the payload and either re-enters the loop or rethrows.
  (global $jmpbuf (mut i32) (i32.const 0))
  (func $longjmp (param i32) (local.get 0) (throw $e1))
  (func (export "sjlj") (param $n i32) (result i32)
    (local $label i32) (local $count i32)
    (block $done
      (loop $again
        try  
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (br_if $done (i32.ge_u (local.get $count) (local.get $n)))
            (call $longjmp (local.get $count)) catch $e1 (local.set $label) (br_if $again (i32.eq (local.get $label) (local.get $count))) (rethrow 0) end))
    (local.get $count))
)

(assert_return (invoke "delegate-to-outer") (i32.const 1))
(assert_return (invoke "delegate-skips") (i32.const 3))
(assert_return (invoke "delegate-block") (i32.const 8))
(assert_return (invoke "delegate-out") (i32.const 4))
(assert_exception (invoke "delegate-out-uncaught"))
(assert_return (invoke "delegate-quiet") (i32.const 9))
(assert_return (invoke "delegate-local-throw") (i32.const 12))
(assert_return (invoke "rethrow") (i32.const 21))
(assert_return (invoke "rethrow-catch-all") (i32.const 22))
(assert_exception (invoke "rethrow-out" (i32.const 0)))
(assert_return (invoke "rethrow-out" (i32.const 1)) (i32.const 5))
(assert_return (invoke "rethrow-nested") (i32.const 31))
(assert_return (invoke "sjlj" (i32.const 100)) (i32.const 100))

;; Tags are compared by identity: an imported tag is the exporter's, two
;; instances of one module have distinct tags.
(module $exporter
  (tag $t (export "t") (param i32))
  (func (export "throw") (param i32) (local.get 0) (throw $t)))
(register "exporter" $exporter)

(module $importer
  (tag $t (import "exporter" "t") (param i32))
  (tag $own (param i32))
  (func $throw (import "exporter" "throw") (param i32))
  (func (export "catch-imported") (result i32)
    try (result i32)  (call $throw (i32.const 61)) (i32.const 0) catch $own (i32.const 1000) (i32.add) catch $t  end)
  (func (export "throw-imported-local") (result i32)
    try (result i32)  (throw $t (i32.const 62)) catch $t  end))
(assert_return (invoke "catch-imported") (i32.const 61))
(assert_return (invoke "throw-imported-local") (i32.const 62))

(assert_unlinkable
  (module (tag (import "exporter" "t") (param i64)))
  "incompatible import type")

;; Validation of the legacy instructions still applies.
(assert_invalid
  (module (tag $e (param i32)) (func try   catch $e  end))
  "type mismatch")
(assert_invalid
  (module (func (block (rethrow 0))))
  "invalid rethrow label")
