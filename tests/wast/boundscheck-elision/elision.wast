;; Each rule of boundscheck-elision next to an access that must still trap
;; (run in every bounds mode; what matters is `--bounds explicit`).

;; Rule 1: constant addresses below the declared minimum need no check;
;; one byte further they do.
(module
  (memory 1)
  (func (export "last_word") (result i32) (i32.load (i32.const 65532)))
  (func (export "last_word_offset") (result i32) (i32.load offset=65532 (i32.const 0)))
  (func (export "past_end") (result i32) (i32.load (i32.const 65533)))
  (func (export "past_end_offset") (result i32) (i32.load offset=65533 (i32.const 0)))
  (func (export "both") (result i32)
    (drop (i32.load8_u (i32.const 0)))
    (i32.load (i32.const 65536)))
)
(assert_return (invoke "last_word") (i32.const 0))
(assert_return (invoke "last_word_offset") (i32.const 0))
(assert_trap (invoke "past_end") "out of bounds memory access")
(assert_trap (invoke "past_end_offset") "out of bounds memory access")
(assert_trap (invoke "both") "out of bounds memory access")

;; Rule 2: same base, smaller or equal end already checked in the block.
;; A larger end is checked again, and a store before it stays visible.
(module
  (memory 1)
  (func (export "grow_end") (param $p i32) (result i32)
    (i32.store8 (local.get $p) (i32.const 7))
    (drop (i32.load (local.get $p)))
    (drop (i32.load8_u offset=2 (local.get $p)))
    (i32.load offset=8 (local.get $p)))
  (func (export "read8") (param $p i32) (result i32) (i32.load8_u (local.get $p)))
  (func (export "covered") (param $p i32) (result i32)
    (drop (i32.load offset=8 (local.get $p)))
    (i32.add (i32.load (local.get $p)) (i32.load16_u offset=10 (local.get $p))))
  ;; The check of the first access does not cover another block's larger one.
  (func (export "other_block") (param $p i32) (param $c i32) (result i32)
    (drop (i32.load (local.get $p)))
    (if (result i32) (local.get $c)
      (then (i32.load offset=4 (local.get $p)))
      (else (i32.load (local.get $p)))))
  ;; A different value of the same local is a different base.
  (func (export "redefined") (param $p i32) (result i32)
    (drop (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (i32.load (local.get $p)))
  ;; memory.grow between two accesses: memory never shrinks, the covered
  ;; access stays in bounds, the larger one is still checked.
  (func (export "around_grow") (param $p i32) (result i32)
    (drop (i32.load offset=4 (local.get $p)))
    (drop (memory.grow (i32.const 0)))
    (drop (i32.load (local.get $p)))
    (i32.load offset=8 (local.get $p)))
)
(assert_return (invoke "grow_end" (i32.const 100)) (i32.const 0))
(assert_trap (invoke "grow_end" (i32.const 65528)) "out of bounds memory access")
(assert_return (invoke "read8" (i32.const 65528)) (i32.const 7))
(assert_return (invoke "covered" (i32.const 65524)) (i32.const 0))
(assert_trap (invoke "covered" (i32.const 65525)) "out of bounds memory access")
(assert_return (invoke "other_block" (i32.const 65532) (i32.const 0)) (i32.const 0))
(assert_trap (invoke "other_block" (i32.const 65532) (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "redefined" (i32.const 65532)) "out of bounds memory access")
(assert_return (invoke "around_grow" (i32.const 65524)) (i32.const 0))
(assert_trap (invoke "around_grow" (i32.const 65528)) "out of bounds memory access")

;; Rule 3: a check dominating another block covers it; a check in one arm
;; of an `if` covers nothing after the `if`.
(module
  (memory 1)
  (func (export "dominating") (param $p i32) (param $c i32) (result i32)
    (drop (i32.load offset=8 (local.get $p)))
    (if (local.get $c) (then (return (i32.load (local.get $p)))))
    (i32.load offset=4 (local.get $p)))
  (func (export "sibling") (param $p i32) (param $c i32) (result i32)
    (if (local.get $c) (then (drop (i32.load offset=8 (local.get $p)))))
    (i32.load offset=4 (local.get $p)))
  (func (export "loop") (param $p i32) (param $n i32) (result i32)
    (local $s i32)
    (drop (i32.load (local.get $p)))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (local.get $p))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
)
(assert_return (invoke "dominating" (i32.const 65524) (i32.const 1)) (i32.const 0))
(assert_return (invoke "dominating" (i32.const 65524) (i32.const 0)) (i32.const 0))
(assert_trap (invoke "dominating" (i32.const 65525) (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "sibling" (i32.const 65524) (i32.const 1)) (i32.const 0))
(assert_trap (invoke "sibling" (i32.const 65532) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "loop" (i32.const 65528) (i32.const 3)) (i32.const 0))
(assert_trap (invoke "loop" (i32.const 65532) (i32.const 3)) "out of bounds memory access")

;; Rule 4: an address whose value range stays below the declared minimum:
;; loop induction variables counting up to a constant bound over a static
;; array, masks. One step further, the last access traps.
(module
  (memory 1)
  (data (i32.const 65532) "\01\00\00\00")
  ;; for (i = 0; i < n; i++) s += a[i], with n a constant.
  (func $sum (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  (func (export "words") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16384))))
    (local.get $s))
  (func (export "words_past") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16385))))
    (local.get $s))
  ;; The offset counts: a[i + 1] with i < 16383 ends at the memory's end.
  (func (export "offset") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (i32.mul (local.get $i) (i32.const 4)))))
      (br_if $l (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16383))))
    (local.get $s))
  (func (export "offset_past") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (i32.mul (local.get $i) (i32.const 4)))))
      (br_if $l (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16384))))
    (local.get $s))
  ;; The compare on i before its increment: the header sees up to the bound.
  (func (export "before_increment") (result i32)
    (local $i i32) (local $s i32) (local $more i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $more (i32.lt_u (local.get $i) (i32.const 16383)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (local.get $more)))
    (local.get $s))
  (func (export "before_increment_past") (result i32)
    (local $i i32) (local $s i32) (local $more i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $more (i32.lt_u (local.get $i) (i32.const 16384)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (local.get $more)))
    (local.get $s))
  ;; `!=` bounds only a start below the bound: from 16385 the loop runs on
  ;; past the end of memory.
  (func (export "until") (param $i i32) (result i32)
    (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16384))))
    (local.get $s))
  (func (export "until_from_zero") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16384))))
    (local.get $s))
  ;; `!=` with a step of four lands on the bound from a multiple of four;
  ;; from 2 it steps over the bound and runs past the end of memory.
  (func (export "until_by_four") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $i))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 65536))))
    (local.get $s))
  (func (export "until_by_four_from_two") (result i32)
    (local $i i32) (local $s i32)
    (local.set $i (i32.const 2))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $i))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 65536))))
    (local.get $s))
  ;; A bound that is not a constant keeps the check.
  (func (export "sum") (param $n i32) (result i32) (call $sum (local.get $n)))
  ;; Masks: an index masked below the minimum needs no check.
  (func (export "masked") (param $x i32) (result i32)
    (i32.load (i32.and (local.get $x) (i32.const 0xfffc))))
  (func (export "masked_past") (param $x i32) (result i32)
    (i32.load (i32.and (local.get $x) (i32.const 0x1fffc))))
)
(assert_return (invoke "words") (i32.const 1))
(assert_trap (invoke "words_past") "out of bounds memory access")
(assert_return (invoke "offset") (i32.const 1))
(assert_trap (invoke "offset_past") "out of bounds memory access")
(assert_return (invoke "before_increment") (i32.const 1))
(assert_trap (invoke "before_increment_past") "out of bounds memory access")
(assert_return (invoke "until" (i32.const 16380)) (i32.const 1))
(assert_trap (invoke "until" (i32.const 16385)) "out of bounds memory access")
(assert_return (invoke "until_from_zero") (i32.const 1))
(assert_return (invoke "until_by_four") (i32.const 1))
(assert_trap (invoke "until_by_four_from_two") "out of bounds memory access")
(assert_return (invoke "sum" (i32.const 16384)) (i32.const 1))
(assert_trap (invoke "sum" (i32.const 16385)) "out of bounds memory access")
(assert_return (invoke "masked" (i32.const 0xfffffffc)) (i32.const 1))
(assert_trap (invoke "masked_past" (i32.const 0xfffffffc)) "out of bounds memory access")

;; Rule 4 over bytes, remainders and quotients: a zero-extending 8-bit load
;; is below 256, `x % c` below c, `x / c` at most (2^32 - 1) / c.
(module
  (memory 1)
  (data (i32.const 0) "\ff")
  (data (i32.const 65532) "\07\00\00\00")
  (func (export "byte_index") (result i32)
    (i32.load (i32.add (i32.shl (i32.load8_u (i32.const 0)) (i32.const 2)) (i32.const 64512))))
  (func (export "byte_index_past") (result i32)
    (i32.load (i32.add (i32.shl (i32.load8_u (i32.const 0)) (i32.const 2)) (i32.const 64516))))
  (func (export "rem_index") (param $x i32) (result i32)
    (i32.load (i32.shl (i32.rem_u (local.get $x) (i32.const 16384)) (i32.const 2))))
  (func (export "rem_index_past") (param $x i32) (result i32)
    (i32.load (i32.shl (i32.rem_u (local.get $x) (i32.const 16385)) (i32.const 2))))
  (func (export "div_index") (param $x i32) (result i32)
    (i32.load8_u (i32.div_u (local.get $x) (i32.const 65537))))
  (func (export "div_index_past") (param $x i32) (result i32)
    (i32.load8_u (i32.div_u (local.get $x) (i32.const 65535))))
)
(assert_return (invoke "byte_index") (i32.const 7))
(assert_trap (invoke "byte_index_past") "out of bounds memory access")
(assert_return (invoke "rem_index" (i32.const 0xffffffff)) (i32.const 7))
(assert_trap (invoke "rem_index_past" (i32.const 16384)) "out of bounds memory access")
(assert_return (invoke "div_index" (i32.const 0xffffffff)) (i32.const 0))
(assert_return (invoke "div_index" (i32.const 0)) (i32.const 255))
(assert_trap (invoke "div_index_past" (i32.const 0xffffffff)) "out of bounds memory access")
