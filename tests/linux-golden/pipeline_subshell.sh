seq 20000 | while read x; do echo "line $x"; done | tail -1
i=0
while [ $i -lt 2000 ]; do echo "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; i=$((i+1)); done | wc -c
