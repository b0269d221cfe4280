nc -l -p 5555 > /tmp/got &
i=0
while ! netstat -ltn | grep -q ':5555 '; do
    i=$((i+1)); [ $i -gt 250 ] && break; usleep 20000
done
echo 'over loopback' | nc 127.0.0.1 5555
wait
cat /tmp/got
ip -4 addr show lo | grep inet
