ps > /tmp/ps.txt; grep -v ' \[.*\]$' /tmp/ps.txt
