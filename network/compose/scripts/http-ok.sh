#!/bin/sh
# Container healthcheck: GET http://127.0.0.1:PORT/PATH and look for PATTERN in the answer.
#
#   sh /vpp/scripts/http-ok.sh 9443 /healthz '"status":"OK"'
#
# The official images differ in what they ship (no curl in fabric-peer/-orderer or couchdb; busybox wget
# only in Alpine-based ones), so this uses curl, then wget, then bash's /dev/tcp, whichever exists.
set -u
port="$1" path="$2" pattern="$3"
url="http://127.0.0.1:${port}${path}"
if command -v curl >/dev/null 2>&1; then
    body="$(curl -fsS --max-time 3 "$url")" || exit 1
elif command -v wget >/dev/null 2>&1; then
    body="$(wget -q -T 3 -O - "$url")" || exit 1
elif command -v bash >/dev/null 2>&1; then
    # HTTP/1.0: the server closes the connection after its answer, so the read ends.
    body="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3 && cat <&3' _ "$port" "$path")" || exit 1
else
    echo "http-ok.sh: no curl, wget or bash in this image" >&2
    exit 1
fi
case "$body" in
    *"$pattern"*) exit 0 ;;
    *) echo "http-ok.sh: ${url} answered without ${pattern}: ${body}" >&2; exit 1 ;;
esac
