#!/usr/bin/env bash
# Checks a built busybox.wasm without the kernel:
#   1. it validates (wabt's wasm-validate with the features the guest uses);
#   2. its imports and exports are exactly the lists in docs/guest-abi.md
#      (the fenced blocks between the guest-abi:imports / guest-abi:exports
#      markers);
#   3. the applets of cases.jsonl run on a minimal syscall shim (shim.mjs, on
#      Node's wasm engine) with the expected stdout and exit status;
#   4. the C programs in c/ (threads, TLS, setjmp) built against our libc run
#      on the same shim with the expected output.
# Usage: check.sh [path/to/busybox.wasm]   (default: build it, or take it from
# the cache, with guest/build-userland.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
doc="$root/docs/guest-abi.md"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
for t in wasm-objdump wasm-validate; do
    command -v "$t" >/dev/null || die "$t not found (install the wabt package)"
done
[ -f "$doc" ] || die "$doc not found"

wasm="${1:-}"
if [ -z "$wasm" ]; then
    wasm="$("$root/guest/build-userland.sh" | tail -n1)"
fi
[ -f "$wasm" ] || die "no such file: $wasm"

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# 1. validation
if wasm-validate --enable-threads --enable-exceptions "$wasm" 2> "$tmp/validate.err"; then
    ok "validates (threads, exceptions)"
else
    sed 's/^/    /' "$tmp/validate.err" | head -n 20
    bad "validates (threads, exceptions)"
fi

# 2. interface: normalise wasm-objdump's view into the lines the doc uses.
wasm-objdump -x "$wasm" > "$tmp/objdump.txt" 2>/dev/null || die "wasm-objdump cannot read $wasm"
awk -v out="$tmp" '
    /^[A-Za-z]+(\[[0-9]+\])?:/ { sec = $0; sub(/[\[:].*/, "", sec); next }
    sec == "Type" && /^ - type\[/ {
        i = $2; gsub(/[^0-9]/, "", i)
        s = $0; sub(/^ - type\[[0-9]+\] /, "", s); type[i] = s; next
    }
    sec == "Function" && /^ - func\[/ {
        i = $2; gsub(/[^0-9]/, "", i)
        t = $3; sub(/sig=/, "", t); fsig[i] = t; next
    }
    sec == "Import" && /^ - / {
        n = split($0, w, " ")
        name = w[n]; kind = w[2]; sub(/\[.*/, "", kind)
        if (kind == "func") {
            i = w[2]; gsub(/[^0-9]/, "", i)
            t = w[3]; sub(/sig=/, "", t); fsig[i] = t
            imp[++ni] = "func " name " @" t
        } else if (kind == "memory") {
            imp[++ni] = "memory " name ($0 ~ / shared / ? " shared" : "")
        } else if (kind == "table") {
            tt = w[3]; sub(/type=/, "", tt)
            imp[++ni] = "table " name " " tt
        } else if (kind == "global") {
            imp[++ni] = "global " name " " w[3] ($0 ~ /mutable=1/ ? " mutable" : "")
        } else {
            imp[++ni] = kind " " name
        }
        next
    }
    sec == "Export" && /^ - / {
        kind = $2; sub(/\[.*/, "", kind)
        name = $NF; gsub(/"/, "", name)
        i = $2; gsub(/[^0-9]/, "", i)
        exps[++ne] = kind " " name (kind == "func" ? " #" i : "")
        next
    }
    END {
        for (k = 1; k <= ni; k++) {
            s = imp[k]
            if (match(s, /@[0-9]+$/)) s = substr(s, 1, RSTART - 1) type[substr(s, RSTART + 1)]
            print s > (out "/imports.txt")
        }
        for (k = 1; k <= ne; k++) {
            s = exps[k]
            if (match(s, /#[0-9]+$/)) s = substr(s, 1, RSTART - 1) type[fsig[substr(s, RSTART + 1)]]
            print s > (out "/exports.txt")
        }
    }
' "$tmp/objdump.txt"
touch "$tmp/imports.txt" "$tmp/exports.txt"

doc_block() {
    awk -v tag="$1" '
        $0 ~ "<!-- guest-abi:" tag ":begin -->" { on = 1; next }
        $0 ~ "<!-- guest-abi:" tag ":end -->"   { on = 0 }
        on && !/^```/ && NF { print }
    ' "$doc"
}

for what in imports exports; do
    doc_block "$what" | LC_ALL=C sort > "$tmp/doc-$what.txt"
    LC_ALL=C sort "$tmp/$what.txt" > "$tmp/got-$what.txt"
    [ -s "$tmp/doc-$what.txt" ] || die "no guest-abi:$what block in $doc"
    if diff -u "$tmp/doc-$what.txt" "$tmp/got-$what.txt" > "$tmp/$what.diff"; then
        ok "$what match docs/guest-abi.md ($(wc -l < "$tmp/got-$what.txt") entries)"
    else
        sed 's/^/    /' "$tmp/$what.diff"
        bad "$what match docs/guest-abi.md"
    fi
done

# 3. run applets on the syscall shim (Node's wasm engine stands in for the
#    Runner: write/read/exit/mmap and a few more; see shim.mjs).
if command -v node >/dev/null; then
    node "$here/run-cases.mjs" "$wasm" "$here/cases.jsonl" > "$tmp/cases.out" 2>&1 || true
    grep -v ' passed, .* failed$' "$tmp/cases.out" || true
    pass=$((pass + $(grep -c '^ok ' "$tmp/cases.out" || true)))
    fail=$((fail + $(grep -c '^FAIL ' "$tmp/cases.out" || true)))
    grep -q ' passed, ' "$tmp/cases.out" || bad "shim cases ran (node failed: $(tail -n1 "$tmp/cases.out"))"
else
    echo "skip shim cases: node not installed"
fi

# 4. C programs (c/NAME.c, expected stdout c/NAME.out) built against the same
#    libc (the sysroot/ kept next to busybox.wasm) and run on the shim:
#    threads, TLS, futexes, setjmp/longjmp.
sysroot="$(dirname "$wasm")/sysroot"
if ! command -v node >/dev/null; then
    echo "skip C cases: node not installed"
elif [ ! -f "$sysroot/lib/libc.a" ]; then
    echo "skip C cases: no sysroot next to $wasm"
else
    rt="$(clang-19 -print-resource-dir)/lib/wasi/libclang_rt.builtins-wasm32.a"
    for src in "$here"/c/*.c; do
        name="$(basename "$src" .c)"
        obj="$tmp/$name.o" prog="$tmp/$name.wasm"
        if ! clang-19 --target=wasm32 -D__linux__ -O2 -fPIC -fvisibility=hidden \
                -matomics -mbulk-memory -mexception-handling -mllvm -wasm-enable-sjlj \
                -nostdinc -isystem "$sysroot/include" \
                -isystem "$(clang-19 -print-resource-dir)/include" \
                -c "$src" -o "$obj" 2> "$tmp/$name.err" ||
           ! W2N_SYSROOT="$sysroot" W2N_RTLIB="$rt" W2N_CC=clang-19 \
                "$sysroot/link.sh" "$prog" "$obj" 2>> "$tmp/$name.err"; then
            sed 's/^/    /' "$tmp/$name.err" | head -n 20
            bad "C case $name builds"
            continue
        fi
        if timeout 60 node "$here/shim.mjs" "$prog" -- "$name" > "$tmp/$name.got" 2> "$tmp/$name.err" &&
           diff -u "$here/c/$name.out" "$tmp/$name.got" > "$tmp/$name.diff"; then
            ok "C case $name"
        else
            sed 's/^/    /' "$tmp/$name.diff" "$tmp/$name.err" 2>/dev/null | head -n 20
            bad "C case $name"
        fi
    done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
