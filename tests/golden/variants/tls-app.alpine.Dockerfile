# target: alpine
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# curl for HTTPS downloads at run time: the CA bundle comes in as one of curl's Recommends.
FROM alpine:3.20
RUN apk add --no-cache curl
CMD ["sh", "-c", "test -s /etc/ssl/certs/ca-certificates.crt && echo tls-ready || echo no-ca-bundle"]
