# target: alpine
# warning: stage 0: added shadow (not in Alpine's base)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# notes: a small C service on SQLite, built where it runs. It makes its own user and data
# directory, and starts through an entrypoint script that prepares the data and execs it.
FROM alpine:3.20
RUN apk add --no-cache shadow

ARG DEBIAN_FRONTEND=noninteractive
RUN set -eux ; \
    apk add --no-cache gcc musl-dev make sqlite-dev

WORKDIR /usr/src/notes
COPY Makefile notes.c ./
RUN make && cp notes /usr/local/bin/notes

RUN groupadd --system notes \
 && useradd --system --gid notes --home-dir /var/lib/notes --shell /usr/sbin/nologin notes \
 && mkdir -p /var/lib/notes \
 && chown notes:notes /var/lib/notes
COPY docker-entrypoint.sh /usr/local/bin/
ENV NOTES_DB=/var/lib/notes/notes.db
USER notes
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["notes", "add", "built by imgopt's tests"]
