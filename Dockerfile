FROM debian:bookworm-slim
RUN mkdir -p /data/sub /cache && head -c 300000 /dev/urandom > /data/a.bin \
 && head -c 200000 /dev/urandom > /data/sub/b.bin && head -c 100000 /dev/urandom > /cache/x \
 && ln /data/a.bin /data/hard.bin
RUN head -c 50000 /dev/urandom > /data/a.bin && rm -rf /data/sub && chmod 600 /data/hard.bin
# rm -rf then mkdir makes an opaque directory in overlay2
RUN rm -rf /cache && mkdir /cache && echo hi > /cache/y && rm /data/a.bin && rm -rf /var/lib/apt/lists/*
RUN chown -R 1000:1000 /data /usr/share/doc
CMD ["cat", "/cache/y"]
