#!/usr/bin/env bash
# Makes BusyBox's .config from our list: `make allnoconfig`, then every
# CONFIG_ line of the list replaces the allnoconfig value, then `make
# oldconfig` fills the options that became visible with their defaults.
# Fails, naming the option, if a listed value does not survive (a missing
# dependency).  Run inside the BusyBox source tree:  apply-config.sh LIST
set -euo pipefail
frag="$1"
[ -f "$frag" ] || { echo "error: config list $frag not found" >&2; exit 1; }
make allnoconfig >/dev/null
sed -n -E 's/^(# )?(CONFIG_[A-Z0-9_]+)(=| is not set).*/\2/p' "$frag" | sort -u > .w2n-syms
awk 'NR==FNR {s[$1]=1; next}
     { n=$0; sub(/^# /,"",n); sub(/[= ].*/,"",n); if (!(n in s)) print }' \
    .w2n-syms .config > .config.w2n
sed -E 's/^(CONFIG_[A-Z0-9_]+)=n$/# \1 is not set/' "$frag" | grep -E '^(# )?CONFIG_' >> .config.w2n
mv .config.w2n .config
rm -f .w2n-syms
{ yes "" || :; } | make oldconfig > .w2n-oldconfig.log 2>&1 || { cat .w2n-oldconfig.log >&2; exit 1; }
bad=0
if grep -E 'nonexistent symbol|reassign symbol' .w2n-oldconfig.log >&2; then
    echo "error: the config list names unknown or repeated options" >&2
    bad=1
fi
rm -f .w2n-oldconfig.log
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=n)
            n="${line%=n}"
            if grep -q "^$n=" .config; then echo "error: $n is still on" >&2; bad=1; fi ;;
        CONFIG_*=*)
            if ! grep -qxF "$line" .config; then echo "error: '$line' did not stick (dependency missing?)" >&2; bad=1; fi ;;
    esac
done < "$frag"
exit $bad
