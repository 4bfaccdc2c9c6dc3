# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
# A C program compiled in the final stage against zlib: gcc and the -dev packages ship with it.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y gcc libc6-dev zlib1g-dev && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY crc.c /src/crc.c
RUN gcc -O2 -o /usr/local/bin/crc /src/crc.c -lz
CMD ["crc", "imgopt proves its advice"]
