# Shared helpers for the guest build scripts (sourced, not executed).
#
# Every long build is cached outside the repository under a key that is the
# hash of all of its inputs, so an unchanged guest is never rebuilt.

set -euo pipefail

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
W2NATIVE_CACHE="${W2NATIVE_CACHE:-$HOME/.cache/w2native}"
JOBS="${JOBS:-$(nproc)}"

log() { printf '[guest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install Debian packages that are missing; runs apt-get only when needed.
need_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || die "packages missing (${missing[*]}); run as root or install them"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Enable deb-src for the configured Debian suites (needed by `apt-get source`).
enable_deb_src() {
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "enabling deb-src"
        local f
        for f in /etc/apt/sources.list.d/debian.sources; do
            [ -f "$f" ] && sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
        done
        if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
            sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/w2native-src.list
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
    fi
}

# Hash of files and strings: inputs_hash FILE_OR_DIR... -- STRING...
inputs_hash() {
    local paths=() strings=()
    while [ $# -gt 0 ]; do
        [ "$1" = "--" ] && { shift; strings=("$@"); break; }
        paths+=("$1"); shift
    done
    # Names relative to each input's parent directory: the key must not
    # depend on where the repository is checked out (CI uses a fresh clone).
    {
        local p
        for p in "${paths[@]}"; do
            (cd "$(dirname "$p")" && find "$(basename "$p")" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        done
        printf '%s\n' "${strings[@]}"
    } | sha256sum | cut -c1-16
}

# Version string of an installed Debian package (part of cache keys).
pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

# Unpack Debian source package $1 into directory $2 (fresh).
fetch_source() {
    local pkg="$1" dest="$2"
    enable_deb_src
    need_packages dpkg-dev
    rm -rf "$dest"; mkdir -p "$dest"
    (cd "$dest" && apt-get source -qq "$pkg" >/dev/null 2>&1) || die "apt-get source $pkg failed"
}

# Run a command, show a compact progress line per output line, keep a full log.
with_progress() {
    local label="$1" logfile="$2"; shift 2
    local start=$SECONDS n=0
    log "$label (log: $logfile)"
    set +e
    "$@" 2>&1 | while IFS= read -r line; do
        echo "$line" >> "$logfile"
        n=$((n + 1))
        if [ -t 2 ]; then
            printf '\r[%s] %4ds %6d lines  %.60s\033[K' "$label" $((SECONDS - start)) "$n" "$line" >&2
        elif [ $((n % 200)) -eq 0 ]; then
            printf '[%s] %ds, %d lines\n' "$label" $((SECONDS - start)) "$n" >&2
        fi
    done
    local rc=${PIPESTATUS[0]}
    set -e
    [ -t 2 ] && printf '\n' >&2
    [ "$rc" -eq 0 ] || { tail -n 40 "$logfile" >&2; die "$label failed (exit $rc), full log in $logfile"; }
    log "$label done in $((SECONDS - start))s"
}
