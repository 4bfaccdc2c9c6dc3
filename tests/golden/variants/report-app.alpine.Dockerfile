# target: alpine
# warning: stage 0: added shadow (not in Alpine's base)
# warning: LANG/LC_* are set: musl's locale support differs from glibc's (collation, formats)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# A small reporting job, written the way many projects write theirs: packages first, a download
# the build needs once, the program and its data, and the data handed to the service user last.
FROM alpine:3.20
RUN apk add --no-cache shadow

ENV LANG=C.UTF-8
RUN apk add --no-cache curl xz

# the package index the report summarises, fetched once at build time
RUN curl -fsSL -o /tmp/Packages.xz http://deb.debian.org/debian/dists/bookworm/main/binary-all/Packages.xz
ENV REPORT_DIR=/var/lib/report
RUN mkdir -p "$REPORT_DIR" \
 && xz -dc /tmp/Packages.xz \
    | awk '/^Section:/ { n[$2]++ } END { for (s in n) print n[s], s }' \
    | sort -rn > "$REPORT_DIR/sections.txt" && \
    rm /tmp/Packages.xz

RUN useradd --system --create-home --uid 10001 report
COPY report.sh /usr/local/bin/report
COPY --chown=report:report data/ /srv/report/data/
USER report
CMD ["report"]
