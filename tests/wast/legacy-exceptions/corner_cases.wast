;; Legacy exception handling, translator corner cases: block params,
;; dead code, delegate to a try that is already catching, exceptions from
;; another module, catch_all + rethrow of a foreign tag.

(module
  (tag $e (param i32))
  (tag $f (param i64 i32))
  (func $throw (param i32) (throw $e (local.get 0)))

  ;; A try with block params: they are the body's inputs.
  (func (export "params") (param i32) (result i32)
    (local.get 0)
    (i32.const 10)
    try (param i32 i32) (result i32)  (i32.add) (call $throw) (i32.const 0) catch $e (i32.const 1) (i32.add) end)

  ;; Try/catch/delegate in dead code compile and do nothing.
  (func (export "dead") (result i32)
    (return (i32.const 3))
    try   (call $throw (i32.const 1)) catch $e (drop) end
    try   (nop) delegate 0 
    try   (throw $e (i32.const 2)) catch_all  (rethrow 0) end
    (i32.const 4))

  ;; A catch body whose end is dead (rethrow) next to one that falls through.
  (func (export "mixed-ends") (param i32) (result i32)
    try (result i32) 
        try (result i32)  (call $throw (local.get 0)) (i32.const 0) catch $e (if (i32.eqz (local.get 0)) (then (rethrow 1))) (i32.const 100) (i32.add) end catch $e (i32.const 200) (i32.add) end)

  ;; delegate to a try that is in its catch clause: the exception goes to
  ;; the handler around that try.
  (func (export "delegate-to-catching") (result i32)
    try $outer (result i32) 
        try $mid (result i32)  (call $throw (i32.const 1)) (i32.const 0) catch $e (drop) try   (call $throw (i32.const 7)) delegate $mid  (i32.const 0) end catch $e (i32.const 50) (i32.add) end)

  ;; Two-value payload and a loop re-entering a try from its catch.
  (func (export "retry") (result i64)
    (local $tries i32)
    (local $acc i64)
    (loop $again
      try  
          (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
          (if (i32.lt_u (local.get $tries) (i32.const 5))
            (then (throw $f (i64.const 1000) (local.get $tries)))) catch $f (drop) (local.set $acc (i64.add (local.get $acc))) (br $again) end)
    (i64.add (local.get $acc) (i64.extend_i32_u (local.get $tries))))

  (func (export "throw") (param i32) (call $throw (local.get 0)))
)

(assert_return (invoke "params" (i32.const 5)) (i32.const 16))
(assert_return (invoke "dead") (i32.const 3))
(assert_return (invoke "mixed-ends" (i32.const 1)) (i32.const 101))
(assert_return (invoke "mixed-ends" (i32.const 0)) (i32.const 200))
(assert_return (invoke "delegate-to-catching") (i32.const 57))
(assert_return (invoke "retry") (i64.const 4005))
(register "thrower")

;; An exception of another module's tag: caught by catch_all, rethrown,
;; and recognised further out by a module that imports the tag.
(module $m1
  (func $throw (import "thrower" "throw") (param i32))
  (func (export "pass") (param i32)
    try   (call $throw (local.get 0)) catch_all  (rethrow 0) end))
(register "m1" $m1)

(module
  (func $pass (import "m1" "pass") (param i32))
  (tag $mine (param i32))
  (func (export "foreign-caught-all") (result i32)
    try (result i32)  (call $pass (i32.const 9)) (i32.const 0) catch $mine (drop) (i32.const -1) catch_all  (i32.const 9) end)
  (func (export "foreign-uncaught")
    try   (call $pass (i32.const 9)) catch $mine (drop) end))
(assert_return (invoke "foreign-caught-all") (i32.const 9))
(assert_exception (invoke "foreign-uncaught"))
