# target: hygiene
# Files COPYed as root, then handed to the app user in a later layer: every byte ships twice.
FROM debian:bookworm-slim
RUN useradd -m app
COPY --chown=app:app data/ /app/data/
USER app
CMD ["sh", "-c", "stat -c '%U %s %n' /app/data /app/data/* && cat /app/data/* | cksum"]
