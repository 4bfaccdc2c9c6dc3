# syntax=docker/dockerfile:1.4
FROM debian:bookworm-slim
RUN <<EOF
set -e
apt-get update
apt-get install -y --no-install-recommends python3
apt-get clean && rm -rf /var/lib/apt/lists/*
EOF
COPY <<EOF /etc/app.conf
listen = 8080
apt-get update
EOF
CMD ["python3"]
