FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl
RUN apt-get clean && rm -rf /var/lib/apt/lists/*
