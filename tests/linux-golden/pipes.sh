seq 1 100 | sort -rn | head -3
