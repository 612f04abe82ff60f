#!/usr/bin/env bash
# A development CA and one certificate for every shadowkpi service (server
# and client identity, for mutual TLS), for deploy/compose.tls.yaml:
#
#   deploy/gen-grpc-certs.sh [DIR]     # default deploy/certs
#
# Writes DIR/ca.crt, DIR/tls.crt and DIR/tls.key (EC P-256). The certificate
# names ingestd, shadowd, exportd, dryrund, localhost and 127.0.0.1. The key
# is made readable by the containers' user (uid 65532): keep DIR private, and
# use your own CA (cert-manager in Kubernetes: deploy/k8s/components/grpc-tls)
# for anything but development.
set -euo pipefail
DIR=${1:-$(dirname "$0")/certs}
mkdir -p "$DIR"
cd "$DIR"
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout ca.key -out ca.crt -days 365 -subj "/CN=shadowkpi dev CA" 2>/dev/null
openssl req "${EC[@]}" -keyout tls.key -out tls.csr -subj "/CN=shadowkpi" 2>/dev/null
cat > tls.ext <<'EXT'
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:ingestd, DNS:shadowd, DNS:exportd, DNS:dryrund, DNS:localhost, IP:127.0.0.1
EXT
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
    -days 365 -extfile tls.ext 2>/dev/null
rm -f tls.csr tls.ext ca.srl
chmod 0644 tls.key
chmod 0600 ca.key
echo "wrote $(pwd)/ca.crt, tls.crt, tls.key"
