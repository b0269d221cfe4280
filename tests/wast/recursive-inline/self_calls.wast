;; `recursive_inline` copies a small function into its own self-calls, one
;; level deep: the copy runs every other level of the recursion. Results,
;; traps at either parity of depth, and stack exhaustion must not change.
(module
  (memory 1)
  ;; A tree of nodes {left, right, value} at 16-byte slots; node 0 at 64.
  ;; Depth 3, full: nodes 64..=288 (15 nodes), leaves have left = right = 0.
  (func $build (param $at i32) (param $depth i32) (param $next i32) (result i32)
    ;; Lays out a full tree of $depth below node $at, allocating from
    ;; $next; returns the next free slot.
    (local $l i32)
    (i32.store offset=8 (local.get $at) (local.get $depth))
    (if (result i32) (i32.eqz (local.get $depth))
      (then (i32.store (local.get $at) (i32.const 0))
            (i32.store offset=4 (local.get $at) (i32.const 0))
            (local.get $next))
      (else
        (local.set $l (local.get $next))
        (i32.store (local.get $at) (local.get $l))
        (local.set $next
          (call $build (local.get $l) (i32.sub (local.get $depth) (i32.const 1))
                       (i32.add (local.get $next) (i32.const 16))))
        (i32.store offset=4 (local.get $at) (local.get $next))
        (call $build (local.get $next) (i32.sub (local.get $depth) (i32.const 1))
                     (i32.add (local.get $next) (i32.const 16))))))
  (func (export "build") (param $depth i32) (result i32)
    (call $build (i32.const 64) (local.get $depth) (i32.const 80)))

  ;; Two self-call sites, state live across both (the shape of a tree walk).
  (func $sum (export "sum") (param $n i32) (result i64)
    (local $v i64)
    (local.set $v (i64.load32_u offset=8 (local.get $n)))
    (if (result i64) (i32.eqz (i32.load (local.get $n)))
      (then (local.get $v))
      (else
        (i64.sub
          (i64.add (i64.mul (local.get $v) (i64.const 3))
                   (call $sum (i32.load (local.get $n))))
          (call $sum (i32.load offset=4 (local.get $n)))))))

  ;; Corrupts the left link of the node at $n (sets it past the memory).
  (func (export "poison") (param $n i32)
    (i32.store (local.get $n) (i32.const 0x7ffffff0)))

  ;; One self-call site in a loop (clang's shape for fib).
  (func $fib (export "fib") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (br_if $done (i32.lt_u (local.get $n) (i32.const 2)))
      (loop $l
        (local.set $acc (i32.add (local.get $acc)
          (call $fib (i32.sub (local.get $n) (i32.const 1)))))
        (br_if $l (i32.gt_u
          (local.tee $n (i32.sub (local.get $n) (i32.const 2))) (i32.const 1)))))
    (i32.add (local.get $n) (local.get $acc)))

  ;; Two results through the recursion.
  (func $fibpair (export "fibpair") (param $n i32) (result i64 i64)
    (local $a i64) (local $b i64)
    (if (result i64 i64) (i32.eqz (local.get $n))
      (then (i64.const 0) (i64.const 1))
      (else
        (call $fibpair (i32.sub (local.get $n) (i32.const 1)))
        (local.set $b) (local.set $a)
        (local.get $b) (i64.add (local.get $a) (local.get $b)))))

  ;; Traps with `unreachable` when the countdown reaches zero: at an even
  ;; or an odd depth, so once in the outer body and once in the copy.
  (func $countdown (export "countdown") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then unreachable)
      (else (i32.add (i32.const 1)
        (call $countdown (i32.sub (local.get $n) (i32.const 1)))))))

  ;; Divides on the way back up: a trap after the inlined call returns.
  (func $divs (export "divs") (param $n i32) (param $d i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1000000))
      (else (i32.div_u
        (call $divs (i32.sub (local.get $n) (i32.const 1)) (i32.sub (local.get $d) (i32.const 1)))
        (local.get $d)))))

  ;; Never stops.
  (func $forever (export "forever") (param $n i32) (result i32)
    (i32.add (i32.const 1) (call $forever (i32.add (local.get $n) (i32.const 1))))))

(assert_return (invoke "fib" (i32.const 0)) (i32.const 0))
(assert_return (invoke "fib" (i32.const 1)) (i32.const 1))
(assert_return (invoke "fib" (i32.const 2)) (i32.const 1))
(assert_return (invoke "fib" (i32.const 3)) (i32.const 2))
(assert_return (invoke "fib" (i32.const 10)) (i32.const 55))
(assert_return (invoke "fib" (i32.const 25)) (i32.const 75025))
(assert_return (invoke "fibpair" (i32.const 0)) (i64.const 0) (i64.const 1))
(assert_return (invoke "fibpair" (i32.const 1)) (i64.const 1) (i64.const 1))
(assert_return (invoke "fibpair" (i32.const 90)) (i64.const 2880067194370816120) (i64.const 4660046610375530309))

;; Full tree of depth 3: 15 nodes, slots 64..=288.
(assert_return (invoke "build" (i32.const 3)) (i32.const 304))
;; sum(leaf) = 0; sum(d) = 3d + 2 sum(d-1) - ... the two subtrees are
;; equal, so sum(d) = 3d: 9.
(assert_return (invoke "sum" (i32.const 64)) (i64.const 9))
(assert_return (invoke "build" (i32.const 4)) (i32.const 560))
(assert_return (invoke "sum" (i32.const 64)) (i64.const 12))
;; A bad link at depth 1 (read by the outer body) and at depth 2 (read by
;; the inlined copy) must trap either way.
(assert_return (invoke "build" (i32.const 4)) (i32.const 560))
(invoke "poison" (i32.const 80))
(assert_trap (invoke "sum" (i32.const 64)) "out of bounds memory access")
(assert_return (invoke "build" (i32.const 4)) (i32.const 560))
(invoke "poison" (i32.const 96))
(assert_trap (invoke "sum" (i32.const 64)) "out of bounds memory access")

(assert_trap (invoke "countdown" (i32.const 0)) "unreachable")
(assert_trap (invoke "countdown" (i32.const 1)) "unreachable")
(assert_trap (invoke "countdown" (i32.const 6)) "unreachable")
(assert_trap (invoke "countdown" (i32.const 7)) "unreachable")
(assert_return (invoke "divs" (i32.const 3) (i32.const 10)) (i32.const 1388))
(assert_trap (invoke "divs" (i32.const 3) (i32.const 2)) "integer divide by zero")
(assert_trap (invoke "divs" (i32.const 4) (i32.const 2)) "integer divide by zero")
(assert_exhaustion (invoke "forever" (i32.const 0)) "call stack exhausted")
