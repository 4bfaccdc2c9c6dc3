# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
# greeter: a static Go program and the configuration the build writes for it.
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src/greeter
COPY go.mod main.go ./
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod GOCACHE=/tmp/go-cache
RUN go build -trimpath -o /usr/local/bin/greeter . \
 && mkdir -p /etc/greeter \
 && printf '{"greeting": "hello", "name": "%s"}\n' "$(go version | cut -d' ' -f3)" > /etc/greeter/config.json

CMD ["/usr/local/bin/greeter", "-config", "/etc/greeter/config.json"]
