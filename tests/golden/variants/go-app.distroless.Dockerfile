# target: distroless
FROM golang:1.22 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /usr/local/bin/api ./cmd/api
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]

# runtime stage added by imgopt: only what the program needs to run
FROM gcr.io/distroless/static-debian12
COPY --from=builder /usr/local/bin/api /usr/local/bin/api
WORKDIR /src
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]
USER 65532:65532
