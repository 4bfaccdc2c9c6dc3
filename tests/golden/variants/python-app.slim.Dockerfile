# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
# A Python package with a C extension, built and run in one stage: the compiler, the Python
# headers and apt's lists all ship in the final image.
FROM debian:bookworm-slim
RUN apt-get update && \
    apt-get install -y python3 python3-pip python3-dev python3-setuptools python3-wheel gcc && \
    apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir --break-system-packages --no-build-isolation .
CMD ["python3", "-m", "fastsum", "1", "2", "3", "40"]
