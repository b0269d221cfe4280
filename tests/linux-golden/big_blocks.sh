dd if=/dev/zero bs=8M count=1 2>/dev/null | wc -c
truncate -s 6M /tmp/big && wc -c < /tmp/big
