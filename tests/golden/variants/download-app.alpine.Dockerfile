# target: alpine
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# A download, its use and its deletion in three layers: the deleted file still ships.
FROM alpine:3.20
RUN apk add --no-cache curl ca-certificates
RUN curl -fsSL -o /tmp/Packages.gz http://deb.debian.org/debian/dists/bookworm/main/binary-all/Packages.gz && \
    gzip -dc /tmp/Packages.gz | grep -c '^Package: ' > /opt/package-count && \
    rm /tmp/Packages.gz
CMD ["sh", "-c", "test \"$(cat /opt/package-count)\" -gt 1000 && echo ok"]
