# target: hygiene
# A download, its use and its deletion in three layers: the deleted file still ships.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL -o /tmp/Packages.gz http://deb.debian.org/debian/dists/bookworm/main/binary-all/Packages.gz && \
    gzip -dc /tmp/Packages.gz | grep -c '^Package: ' > /opt/package-count && \
    rm /tmp/Packages.gz
CMD ["sh", "-c", "test \"$(cat /opt/package-count)\" -gt 1000 && echo ok"]
