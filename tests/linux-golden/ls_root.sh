ls -1 --color=never /
