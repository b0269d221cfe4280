mkdir /tmp/d && echo hello > /tmp/d/f && cd /tmp/d && cat f && rm f && ls -A /tmp/d && cd / && rmdir /tmp/d && echo removed
