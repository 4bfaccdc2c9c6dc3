# target: hygiene
# apt-get update in a layer of its own: the package lists ship in the image.
FROM debian:bookworm-slim
RUN apt-get update && \
    apt-get install -y --no-install-recommends jq && \
    apt-get clean && rm -rf /var/lib/apt/lists/*
CMD ["jq", "-n", "{\"answer\": 42}"]
