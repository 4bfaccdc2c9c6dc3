# target: hygiene
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y --no-install-recommends curl jq locales && locale-gen en_US.UTF-8 && rm -rf /var/lib/apt/lists/*
RUN useradd -m worker
RUN curl -fsSLo /usr/local/bin/tool https://example.com/tool-linux-amd64 && chmod +x /usr/local/bin/tool
USER worker
CMD ["bash", "-c", "tool --version"]
