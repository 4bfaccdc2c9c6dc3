# syntax=docker/dockerfile:1.4
FROM debian:bookworm-slim
RUN <<-SCRIPT bash
	set -euo pipefail
	apt-get update
	apt-get install -y --no-install-recommends python3
	rm -rf /var/lib/apt/lists/*
	SCRIPT
