# target: alpine
# warning: line 2: `locale-gen` is glibc/Debian-only; musl has no locale database like glibc
# warning: line 4: https://example.com/tool-linux-amd64 looks like a glibc binary; it will not run on musl
# warning: stage 0: added bash, shadow (not in Alpine's base)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
FROM alpine:3.20
RUN apk add --no-cache bash shadow
RUN apk add --no-cache curl jq musl-locales
RUN useradd -m worker
RUN curl -fsSLo /usr/local/bin/tool https://example.com/tool-linux-amd64 && chmod +x /usr/local/bin/tool
USER worker
CMD ["bash", "-c", "tool --version"]
