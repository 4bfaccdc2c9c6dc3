# target: alpine
# warning: stage 0: added shadow (not in Alpine's base)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# Files COPYed as root, then handed to the app user in a later layer: every byte ships twice.
FROM alpine:3.20
RUN apk add --no-cache shadow
RUN useradd -m app
COPY --chown=app:app data/ /app/data/
USER app
CMD ["sh", "-c", "stat -c '%U %s %n' /app/data /app/data/* && cat /app/data/* | cksum"]
