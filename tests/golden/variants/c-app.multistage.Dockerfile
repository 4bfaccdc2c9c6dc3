# target: multistage
# A C program compiled in the final stage against zlib: gcc and the -dev packages ship with it.
FROM debian:bookworm AS builder
RUN apt-get update && apt-get install -y gcc libc6-dev zlib1g-dev && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY crc.c /src/crc.c
RUN gcc -O2 -o /usr/local/bin/crc /src/crc.c -lz
CMD ["crc", "imgopt proves its advice"]

# runtime stage added by imgopt: only what the program needs to run
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends zlib1g && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd -l -m -u 10001 app
COPY --from=builder /usr/local/bin/crc /usr/local/bin/crc
CMD ["crc", "imgopt proves its advice"]
USER app
