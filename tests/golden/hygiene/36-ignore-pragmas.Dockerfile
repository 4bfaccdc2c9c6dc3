# imgopt global ignore=IMG143
FROM python:3.12
# imgopt ignore=IMG107
RUN pip install flask
# hadolint ignore=DL3009,DL3015
RUN apt-get update && apt-get install -y curl
RUN pip install --no-cache-dir gunicorn
