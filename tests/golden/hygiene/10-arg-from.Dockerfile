ARG PYTHON_VERSION=3.12
ARG VARIANT=
FROM python:${PYTHON_VERSION}${VARIANT}
RUN pip install --no-cache-dir requests
