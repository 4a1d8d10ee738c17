#!/usr/bin/env bash
# Installs what the national check on Spark needs on a Debian machine and prints the Python
# to run spark/*.py with: a Java 17 runtime (apt) and a virtual environment with pyspark,
# pyarrow and pandas (which Spark's Arrow exchange imports), kept under $XUEJI_SPARK_HOME
# (default ~/.cache/xueji-spark) so that a second run, or CI on the same machine, installs
# nothing.
set -euo pipefail

home="${XUEJI_SPARK_HOME:-$HOME/.cache/xueji-spark}"
venv="$home/venv"

if ! command -v java >/dev/null 2>&1; then
    echo "setup: installing openjdk-17-jre-headless" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >&2
fi

if ! "$venv/bin/python" -c "import pyspark, pyarrow, pandas" >/dev/null 2>&1; then
    echo "setup: installing pyspark, pyarrow and pandas into $venv" >&2
    mkdir -p "$home"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==4.0.1" "pyarrow==21.0.0" "pandas==2.2.3" >&2
fi

echo "$venv/bin/python"
