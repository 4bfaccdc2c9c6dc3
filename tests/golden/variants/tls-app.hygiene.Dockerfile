# target: hygiene
# curl for HTTPS downloads at run time: the CA bundle comes in as one of curl's Recommends.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*
CMD ["sh", "-c", "test -s /etc/ssl/certs/ca-certificates.crt && echo tls-ready || echo no-ca-bundle"]
