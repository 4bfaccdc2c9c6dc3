# target: alpine
# warning: line 8: pip on musl: packages without musllinux wheels build from source (needs build-base and -dev packages) or fail
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# A Python package with a C extension, built and run in one stage: the compiler, the Python
# headers and apt's lists all ship in the final image.
FROM alpine:3.20
RUN apk add --no-cache python3 py3-pip python3-dev py3-setuptools py3-wheel gcc
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir --break-system-packages --no-build-isolation .
CMD ["python3", "-m", "fastsum", "1", "2", "3", "40"]
