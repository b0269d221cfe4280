;; wast `thread` blocks run on their own OS threads against one shared
;; memory: a wait/notify handshake, message passing, and atomic increments
;; from two threads.

(module $Mem
  (memory (export "shared") 1 1 shared))
(register "mem" $Mem)

;; T1 sleeps in memory.atomic.wait32 until T2 publishes and notifies.
(thread $T1 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "run") (result i32)
      (block $done
        (loop $again
          (br_if $done (i32.atomic.load (i32.const 0)))
          (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
          (br $again)))
      (i32.load (i32.const 4))))
  (assert_return (invoke "run") (i32.const 42)))

(thread $T2 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "run")
      (i32.store (i32.const 4) (i32.const 42))
      (i32.atomic.store (i32.const 0) (i32.const 1))
      (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))))
  (invoke "run"))

(wait $T1)
(wait $T2)

;; Two threads add 1 to the same word 100000 times each.
(module $Adder
  (memory (import "mem" "shared") 1 1 shared)
  (func (export "add") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))
  (func (export "total") (result i32) (i32.atomic.load (i32.const 16))))

(thread $A (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "go")
      (local $n i32)
      (local.set $n (i32.const 100000))
      (block $done
        (loop $again
          (br_if $done (i32.eqz (local.get $n)))
          (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))))
  (invoke "go"))

(thread $B (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "go")
      (local $n i32)
      (local.set $n (i32.const 100000))
      (block $done
        (loop $again
          (br_if $done (i32.eqz (local.get $n)))
          (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))))
  (invoke "go"))

(invoke $Adder "add" (i32.const 100000))
(wait $A)
(wait $B)
(assert_return (invoke $Adder "total") (i32.const 300000))

;; A wait with a timeout and nobody to notify times out; a wait on a value
;; that differs returns "not-equal" at once.
(module
  (memory (import "mem" "shared") 1 1 shared)
  (func (export "timeout") (result i32)
    (memory.atomic.wait32 (i32.const 32) (i32.const 0) (i64.const 1000000)))
  (func (export "not-equal") (result i32)
    (memory.atomic.wait32 (i32.const 16) (i32.const 7) (i64.const -1))))
(assert_return (invoke "timeout") (i32.const 2))
(assert_return (invoke "not-equal") (i32.const 1))
