# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
# notes: a small C service on SQLite, built where it runs. It makes its own user and data
# directory, and starts through an entrypoint script that prepares the data and execs it.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends gcc libc6-dev make libsqlite3-dev; \
    rm -rf /var/lib/apt/lists/*

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
