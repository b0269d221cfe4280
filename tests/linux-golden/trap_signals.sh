trap 'echo got USR1' USR1
trap 'echo got USR2' USR2
kill -USR1 $$; kill -USR2 $$; kill -USR1 $$
echo masks restored
sh -c 'usleep 300000; kill -USR2 $PPID' &
wait $!
echo wait interrupted $?
wait
echo reaped $?
sh -c 'trap "echo child USR1" USR1; kill -USR1 $$; trap - USR1; kill -USR1 $$; echo not reached'
echo child status $?
trap '' USR1
kill -USR1 $$
echo USR1 ignored
sh -c 'kill -USR1 $$; echo ignored in child too'
