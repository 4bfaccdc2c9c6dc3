# target: alpine
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# A C program compiled in the final stage against zlib: gcc and the -dev packages ship with it.
FROM alpine:3.20
RUN apk add --no-cache gcc musl-dev zlib-dev
COPY crc.c /src/crc.c
RUN gcc -O2 -o /usr/local/bin/crc /src/crc.c -lz
CMD ["crc", "imgopt proves its advice"]
