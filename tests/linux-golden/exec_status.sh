exec /bin/sh -c "exit 5"
