{ sleep 100 & kill -TERM $!; wait $!; echo status $?; } 2>/dev/null
