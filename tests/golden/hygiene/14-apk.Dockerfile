FROM alpine:3.20
RUN apk update && apk add --no-cache curl
RUN apk add --no-cache jq
