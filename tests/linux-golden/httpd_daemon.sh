mkdir -p /www && echo hello-web > /www/index.html
httpd -p 127.0.0.1:8080 -h /www
echo "httpd $?"
wget -q -O - http://127.0.0.1:8080/index.html
wget -q -O - http://127.0.0.1:8080/missing.html
echo "missing $?"
kill $(pidof httpd)
