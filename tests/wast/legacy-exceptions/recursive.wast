;; Exceptions through self-recursive functions, which `recursive_inline`
;; copies into their own calls: a throw from the copy, a catch in the
;; copy, and a throw that leaves several merged levels at once.

(module
  (tag $e (param i32))

  ;; Throws at the bottom; every level above it adds one, none catches.
  (func $down (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (throw $e (i32.const 100)))
      (else (i32.add (i32.const 1)
        (call $down (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "catch-outside") (param $n i32) (result i32)
    try (result i32)
      (call $down (local.get $n))
    catch $e
      (i32.add (i32.const 1000))
    end)

  ;; Every level catches what its callee throws and throws it on with
  ;; one more: the payload counts the levels, whichever copy ran them.
  (func $relay (export "relay") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (throw $e (i32.const 0)))
      (else
        try (result i32)
          (call $relay (i32.sub (local.get $n) (i32.const 1)))
        catch $e
          (i32.add (i32.const 1))
          (throw $e)
        end)))
  (func (export "relay-caught") (param $n i32) (result i32)
    try (result i32)
      (call $relay (local.get $n))
    catch $e
    end)

  ;; Only odd levels catch, and return what they caught plus ten.
  (func $odd (export "odd") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (throw $e (local.get $n)))
      (else
        (if (result i32) (i32.and (local.get $n) (i32.const 1))
          (then
            try (result i32)
              (call $odd (i32.sub (local.get $n) (i32.const 1)))
            catch $e
              (i32.add (i32.const 10))
            end)
          (else (i32.add (i32.const 1)
            (call $odd (i32.sub (local.get $n) (i32.const 1))))))))))

(assert_return (invoke "catch-outside" (i32.const 0)) (i32.const 1100))
(assert_return (invoke "catch-outside" (i32.const 1)) (i32.const 1100))
(assert_return (invoke "catch-outside" (i32.const 7)) (i32.const 1100))
(assert_return (invoke "relay-caught" (i32.const 0)) (i32.const 0))
(assert_return (invoke "relay-caught" (i32.const 1)) (i32.const 1))
(assert_return (invoke "relay-caught" (i32.const 6)) (i32.const 6))
(assert_return (invoke "relay-caught" (i32.const 9)) (i32.const 9))
;; odd(1): level 1 catches odd(0)'s throw of 0: 10.
(assert_return (invoke "odd" (i32.const 1)) (i32.const 10))
;; odd(2) = 1 + odd(1) = 11; odd(3) catches nothing (odd(2) returns): 11.
(assert_return (invoke "odd" (i32.const 2)) (i32.const 11))
(assert_return (invoke "odd" (i32.const 3)) (i32.const 11))
(assert_return (invoke "odd" (i32.const 4)) (i32.const 12))
(assert_exception (invoke "odd" (i32.const 0)))
