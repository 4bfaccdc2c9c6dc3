FROM python:3.12-slim
RUN useradd -m app
COPY --chown=app:app . /home/app/src
USER app
