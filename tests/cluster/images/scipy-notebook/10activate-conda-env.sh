#!/bin/bash
# docker-stacks runs `conda shell.bash hook` here; this image's ${CONDA_DIR} is a Python virtual
# environment, so activating it is the equivalent.
# shellcheck disable=SC1091
source "${CONDA_DIR}/bin/activate"
