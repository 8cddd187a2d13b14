# syntax=docker/dockerfile:1
#
# Adding gowsgi to an existing python:3.x-slim image is one pip install
# line, like any other server's: the wheel holds the static binary, and pip
# puts it on PATH (/usr/local/bin/gowsgi). Or list gowsgi in your
# requirements.txt.
#
#   docker build -f python-slim.Dockerfile -t myapp .
#
# While gowsgi is not on your package index, install the wheel built by
# `bash scripts/build-wheels.sh` instead, passing its dist/ as a build
# context:
#
#   docker build -f python-slim.Dockerfile --build-context gowsgi-dist=/path/to/gowsgi/dist -t myapp .
#
# with the pip line below replaced by
#
#   RUN --mount=type=bind,from=gowsgi-dist,target=/dist \
#       pip install --no-cache-dir -r requirements.txt /dist/gowsgi-*-manylinux*_$(uname -m).whl

FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt gowsgi
COPY . .
USER nobody
EXPOSE 8000
CMD ["gowsgi", "myproject.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
