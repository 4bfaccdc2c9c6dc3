FROM debian:bookworm AS rootfs
RUN apt-get update && apt-get install -y --no-install-recommends curl

FROM scratch
COPY --from=rootfs / /
CMD ["curl"]
