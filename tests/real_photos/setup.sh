#!/usr/bin/env bash
# Installs what tests/real_photos/build.py needs and prints the Python to run it with, then the
# folder of source photographs: a virtual environment with numpy, OpenCV and Pillow, and the
# photographs taken from the three packages that ship them (see README.md beside this file), all
# kept under $XUEJI_PHOTOS_HOME (default ~/.cache/xueji-photos) so that a second run installs
# nothing.
set -euo pipefail

home="${XUEJI_PHOTOS_HOME:-$HOME/.cache/xueji-photos}"
venv="$home/venv"
sources="$home/sources"

if ! "$venv/bin/python" -c "import cv2, numpy, PIL" >/dev/null 2>&1; then
    echo "setup: installing numpy, opencv-python-headless and pillow into $venv" >&2
    mkdir -p "$home"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "numpy==2.2.6" "opencv-python-headless==4.12.0.88" "pillow==11.3.0" >&2
fi

# The marker names what the folder holds, so that a folder from an older setup is refilled.
if [ ! -f "$sources/.complete-3" ]; then
    echo "setup: taking the source photographs from face_recognition 1.3.0, scikit-image 0.25.2 and matplotlib 3.10.3" >&2
    rm -rf "$sources" "$home/download"
    mkdir -p "$sources" "$home/download"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        "face_recognition==1.3.0" -d "$home/download" >&2
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
        "scikit-image==0.25.2" "matplotlib==3.10.3" -d "$home/download" >&2
    tar -xzf "$home/download/face_recognition-1.3.0.tar.gz" -C "$home/download"
    for photo in biden obama obama2 obama3; do
        cp "$home/download/face_recognition-1.3.0/tests/test_images/$photo.jpg" "$sources/"
    done
    cp "$home/download/face_recognition-1.3.0/LICENSE" "$sources/LICENSE.face_recognition"
    "$venv/bin/python" - "$home/download" "$sources" <<'PY'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/scikit_image-*.whl")[0])
open(sys.argv[2] + "/astronaut.png", "wb").write(wheel.read("skimage/data/astronaut.png"))
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/matplotlib-*.whl")[0])
hopper = "matplotlib/mpl-data/sample_data/grace_hopper.jpg"
open(sys.argv[2] + "/grace_hopper.jpg", "wb").write(wheel.read(hopper))
open(sys.argv[2] + "/LICENSE.matplotlib", "wb").write(wheel.read("matplotlib-3.10.3.dist-info/LICENSE"))
PY
    touch "$sources/.complete-3"
fi

echo "$venv/bin/python"
echo "$sources"
