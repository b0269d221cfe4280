read v < /proc/version; echo x > /tmp/f && read y < /tmp/f || exit 1; case "$v$y" in "Linux version 6.1"*x) exit 61;; esac; exit 2
