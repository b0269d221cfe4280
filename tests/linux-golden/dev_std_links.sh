echo piped | cat /dev/stdin
readlink /dev/stdin
readlink /dev/fd
echo to-stderr > /dev/stderr
seq 3 | tac /dev/stdin
