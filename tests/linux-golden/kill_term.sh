sleep 100 & kill -TERM $!; wait $!; echo status $?
