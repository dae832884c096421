#!/usr/bin/env bash
# Makes the village's own certificate authority and the certificates its TLS links need:
#   - one server certificate per agent node's Docker engine (dockerd --tlsverify on :2376),
#   - the control plane's client certificate for those engines (given to POST /api/nodes, sealed there),
#   - the reverse proxy's server certificate (replace it with one from your site's CA if browsers connect).
#
#   deploy/tls/make-certs.sh <out dir> <proxy host name> <node name>[=<address>] ...
#   deploy/tls/make-certs.sh ./tls village.example.org sparky1=10.0.0.11 sparky2=10.0.0.12
#
# Keys are written mode 0600; the CA key (ca.key) signs new nodes later: keep it offline. Certificates last
# 825 days. Re-running keeps an existing CA and any certificate already made.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <out dir> <proxy host name> [<node>[=<address>] ...]" >&2
  exit 2
fi
out=$1 proxy=$2
shift 2
mkdir -p "$out"
cd "$out"
umask 077
days=825

if [ ! -f ca.key ]; then
  openssl genrsa -out ca.key 4096 2>/dev/null
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=AI Village CA" -out ca.crt
  echo "made the village CA: $out/ca.crt (keep $out/ca.key offline)" >&2
fi

# sign <name> <subject CN> <extendedKeyUsage> [subjectAltName]
sign() {
  local name=$1 cn=$2 usage=$3 san=${4:-}
  [ -f "$name.crt" ] && return 0
  openssl genrsa -out "$name.key" 2048 2>/dev/null
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  {
    echo "extendedKeyUsage = $usage"
    [ -n "$san" ] && echo "subjectAltName = $san"
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  echo "made $out/$name.crt" >&2
}

# The control plane, as a client of every node's engine.
sign control-plane-client village-control-plane clientAuth
# The reverse proxy.
sign proxy "$proxy" serverAuth "DNS:$proxy"
# Each node's engine: its name, and its address when given.
for node in "$@"; do
  name=${node%%=*}
  address=${node#*=}
  san="DNS:$name"
  [ "$address" != "$node" ] && san="$san,IP:$address"
  sign "engine-$name" "$name" serverAuth "$san"
done
chmod 0644 ./*.crt
