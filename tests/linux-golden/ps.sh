ps > /tmp/ps.txt; grep -v ' \[.*\]$' /tmp/ps.txt
echo "pid 1 is $(cat /proc/1/comm)"
