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
