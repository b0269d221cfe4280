top -b -n 1 | head -2
