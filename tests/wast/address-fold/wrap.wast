;; `address_fold` widens 32-bit address arithmetic only where it cannot
;; wrap. wasm addresses wrap at 2^32, so an add that does must still reach
;; the low address; one that provably does not is folded, and its
;; out-of-bounds access must still trap.
(module
  (memory 1)
  (data (i32.const 16) "\2a\00\00\00")
  (data (i32.const 65532) "\07\00\00\00")
  ;; Unknown x: x + 24 may wrap (0xfffffff8 + 24 = 16).
  (func (export "plus") (param $x i32) (result i32)
    (i32.load (i32.add (local.get $x) (i32.const 24))))
  ;; A known range that still reaches past 2^32: (x & ~15) + 32.
  (func (export "masked_plus") (param $x i32) (result i32)
    (i32.load (i32.add (i32.and (local.get $x) (i32.const 0xfffffff0)) (i32.const 32))))
  ;; A shift whose bits may leave: (x << 4) + 16, x = 0x10000000 gives 16.
  (func (export "shifted") (param $x i32) (result i32)
    (i32.load (i32.add (i32.shl (local.get $x) (i32.const 4)) (i32.const 16))))
  ;; A product that may wrap: x * 12 + 4.
  (func (export "times") (param $x i32) (result i32)
    (i32.load (i32.add (i32.mul (local.get $x) (i32.const 12)) (i32.const 4))))
  ;; Provably no wrap: ((x & 0x3fff) << 2) + 8, folded into the access.
  (func (export "folded") (param $x i32) (result i32)
    (i32.load (i32.add (i32.shl (i32.and (local.get $x) (i32.const 0x3fff)) (i32.const 2)) (i32.const 8))))
  ;; Provably no wrap over a loop index: a[i + 1] for i in 0..16383.
  (func (export "loop_folded") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (i32.load (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const 4)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16383))))
    (local.get $s))
  (func (export "loop_folded_past") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (i32.load (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const 4)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16384))))
    (local.get $s))
)
(assert_return (invoke "plus" (i32.const 0xfffffff8)) (i32.const 42))
(assert_return (invoke "plus" (i32.const 65508)) (i32.const 7))
(assert_trap (invoke "plus" (i32.const 65509)) "out of bounds memory access")
(assert_return (invoke "masked_plus" (i32.const 0xfffffff0)) (i32.const 42))
(assert_return (invoke "shifted" (i32.const 0x10000000)) (i32.const 42))
(assert_return (invoke "times" (i32.const 0x40000001)) (i32.const 42))
(assert_return (invoke "folded" (i32.const 2)) (i32.const 42))
(assert_return (invoke "folded" (i32.const 0x3ffd)) (i32.const 7))
(assert_trap (invoke "folded" (i32.const 0x3fff)) "out of bounds memory access")
(assert_return (invoke "loop_folded" (i32.const 0)) (i32.const 49))
(assert_trap (invoke "loop_folded_past" (i32.const 0)) "out of bounds memory access")
