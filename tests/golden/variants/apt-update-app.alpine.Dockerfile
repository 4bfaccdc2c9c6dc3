# target: alpine
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# apt-get update in a layer of its own: the package lists ship in the image.
FROM alpine:3.20
RUN apk add --no-cache jq
CMD ["jq", "-n", "{\"answer\": 42}"]
