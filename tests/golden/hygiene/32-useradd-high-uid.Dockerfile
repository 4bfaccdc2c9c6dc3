FROM debian:bookworm-slim
RUN useradd -l -u 123456789 app && \
    useradd -l -u 123456790 other
USER app
