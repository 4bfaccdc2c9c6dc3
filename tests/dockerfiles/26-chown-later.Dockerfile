FROM python:3.12-slim
RUN useradd -m app
COPY . /home/app/src
RUN chown -R app:app /home/app/src
USER app
