# target: distroless
# warning: gcr.io/distroless/python3-debian12 sets its own ENTRYPOINT; reset so CMD runs as in the original
# A Python package with a C extension, built and run in one stage: the compiler, the Python
# headers and apt's lists all ship in the final image.
FROM debian:bookworm AS builder
RUN apt-get update && \
    apt-get install -y python3 python3-pip python3-dev python3-setuptools python3-wheel gcc && \
    apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir --break-system-packages --no-build-isolation .
CMD ["python3", "-m", "fastsum", "1", "2", "3", "40"]

# runtime stage added by imgopt: only what the program needs to run
FROM gcr.io/distroless/python3-debian12
ENTRYPOINT []
COPY --from=builder /src /src
COPY --from=builder /usr/local/lib/python3.11/dist-packages /usr/local/lib/python3.11/dist-packages
COPY --from=builder /usr/local/bin /usr/local/bin
WORKDIR /src
CMD ["python3", "-m", "fastsum", "1", "2", "3", "40"]
USER 65532:65532
