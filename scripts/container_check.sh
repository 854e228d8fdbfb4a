#!/usr/bin/env bash
# Build the Dockerfile and check the container as a user would meet it: the page is served,
# the HEALTHCHECK passes (on 8501 and on a $PORT the platform sets), the server runs as the
# unprivileged user, and a real photo is analysed inside the container.
#   scripts/container_check.sh                # with docker
#   ENGINE=podman scripts/container_check.sh  # podman needs --format docker to keep HEALTHCHECK
# Ports are published on 127.0.0.1 only. Exits non-zero at the first failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${ENGINE:-docker}
IMAGE=${IMAGE:-fer-app}
PY=${PY:-.venv/bin/python}
build_flags=()
[ "$ENGINE" = podman ] && build_flags=(--format docker)

say() { printf '### %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
wait_healthy() {  # port
    for _ in $(seq 1 90); do
        [ "$(curl -s -m 3 "http://127.0.0.1:$1/_stcore/health" || true)" = ok ] && return 0
        sleep 1
    done
    fail "no health answer on 127.0.0.1:$1"
}
healthcheck() {  # container
    $ENGINE healthcheck run "$1" >/dev/null 2>&1 && return 0
    # docker has no 'healthcheck run': run the image's own HEALTHCHECK command instead.
    local test_cmd
    test_cmd=$($ENGINE inspect "$1" --format '{{range $i, $a := .Config.Healthcheck.Test}}{{if $i}}{{$a}} {{end}}{{end}}')
    [ "$ENGINE" = docker ] && $ENGINE exec "$1" sh -c "$test_cmd"
}

work=$(mktemp -d)
remove_containers() { for c in fer-check fer-check-port; do $ENGINE rm -f "$c" >/dev/null 2>&1 || true; done; }
trap 'remove_containers; rm -rf "$work"' EXIT
remove_containers

say "$ENGINE build -t $IMAGE ."
$ENGINE build "${build_flags[@]}" -t "$IMAGE" . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail build; }
$ENGINE image inspect "$IMAGE" --format 'image size: {{.Size}} bytes'

say "run on 127.0.0.1:8599 -> 8501"
$ENGINE run -d --name fer-check -p 127.0.0.1:8599:8501 "$IMAGE" >/dev/null
wait_healthy 8599
page=$(curl -sf http://127.0.0.1:8599/) && [[ $page == *"<title>Streamlit</title>"* ]] || fail "GET / did not serve the app's page"
healthcheck fer-check || fail "HEALTHCHECK on 8501"
uid=$($ENGINE exec fer-check sh -c 'id -u') && [ "$uid" != 0 ] || fail "the server runs as root"
echo "served, healthy, uid $uid"

say "a real photo, analysed inside the container"
"$PY" -c "import sys, cv2, skimage.data; cv2.imwrite(sys.argv[1], cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))" "$work/astronaut.png"
$ENGINE cp "$work/astronaut.png" fer-check:/tmp/astronaut.png
$ENGINE exec fer-check python -m fer_app image /tmp/astronaut.png --json >"$work/result.json"
"$PY" - "$work/result.json" <<'EOF'
import json, sys
faces = json.load(open(sys.argv[1]))["faces"]
assert len(faces) == 1 and faces[0]["emotion"] == "happy", faces
print(f"1 face, {faces[0]['emotion']} {faces[0]['confidence']:.0%}")
EOF
if $ENGINE logs fer-check 2>&1 | grep -q "external IP"; then fail "Streamlit looked up the public address at start"; fi

say "PORT=9000, as Heroku's container stack sets it"
$ENGINE run -d --name fer-check-port -e PORT=9000 -p 127.0.0.1:8600:9000 "$IMAGE" >/dev/null
wait_healthy 8600
healthcheck fer-check-port || fail "HEALTHCHECK with PORT=9000"
echo "served and healthy on \$PORT"
say "all checks passed"
