# target: hygiene
FROM golang:1.22
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /usr/local/bin/api ./cmd/api
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]
