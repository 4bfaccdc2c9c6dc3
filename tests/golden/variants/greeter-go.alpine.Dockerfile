# target: alpine
# warning: line 4: no known Alpine name for package 'golang-go'; kept as is (apk add may fail)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
# greeter: a static Go program and the configuration the build writes for it.
FROM alpine:3.20

RUN apk add --no-cache golang-go

WORKDIR /src/greeter
COPY go.mod main.go ./
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod GOCACHE=/tmp/go-cache
RUN go build -trimpath -o /usr/local/bin/greeter . \
 && mkdir -p /etc/greeter \
 && printf '{"greeting": "hello", "name": "%s"}\n' "$(go version | cut -d' ' -f3)" > /etc/greeter/config.json

CMD ["/usr/local/bin/greeter", "-config", "/etc/greeter/config.json"]
