FROM debian:bookworm-slim
RUN apt-get update \
    # the package we need
    && apt-get install -y --no-install-recommends \
       curl \
       # and certificates

       ca-certificates \
    && rm -rf /var/lib/apt/lists/*
