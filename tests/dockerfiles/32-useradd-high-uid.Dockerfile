FROM debian:bookworm-slim
RUN useradd -u 123456789 app
RUN useradd -l -u 123456790 other
USER app
