FROM ubuntu:24.04
RUN set -eux; \
    apt-get update || true; \
    DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends tzdata; \
    sh -c "pip install --no-cache-dir x || echo skip" && \
    apt-get clean && rm -rf /var/lib/apt/lists/*
RUN bash -c 'apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*' && \
# comment between RUNs keeps them consecutive for DL3059
    echo one
RUN echo two
