n=0
trap 'n=$((n+1))' USR1
sh -c 'i=0; while [ $i -lt 1000 ]; do kill -USR1 $PPID 2>/dev/null || break; i=$((i+1)); done' &
k=0; fails=0
while [ $k -lt 200 ]; do /bin/true || fails=$((fails+1)); k=$((k+1)); done
wait
echo "forks $k failures $fails"
