seq 3 | tac
echo "tac $?"
printf "b\na\n" | sort -r | tac
