# target: aggressive
# warning: line 11: IMG141 not fixed automatically: /tmp/Packages.xz is deleted at line 13 but still shipped in this layer: fetch, use and delete it in one RUN
# A small reporting job, written the way many projects write theirs: packages first, a download
# the build needs once, the program and its data, and the data handed to the service user last.
FROM debian:bookworm-slim

ENV LANG=C.UTF-8
RUN apt-get update \
 && apt-get install --no-install-recommends -y curl xz-utils \
 && rm -rf /var/lib/apt/lists/*

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
