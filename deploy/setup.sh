#!/bin/sh
# First set-up of the docker-compose deployment (docs/deploy.md). Run it from anywhere:
#   deploy/setup.sh
# 1. .env: created from .env.example when missing; every empty secret in it gets a random value.
#    Values already set are kept, so running it again changes nothing you chose.
# 2. deploy/secrets/mosquitto.passwd: the broker's password file for the three MQTT users of
#    mosquitto.acl, hashed with mosquitto_passwd (the host's, else the broker image's through
#    docker compose). Rewritten from .env on every run: run it again after changing a password.
# It names what it generates and never prints a secret.
set -eu

cd "$(dirname -- "$0")/.."
# Everything it creates is private unless opened on purpose below: .env stays mode 600.
umask 077

ENV_FILE=.env
SECRETS_DIR=deploy/secrets
PASSWD_FILE=$SECRETS_DIR/mosquitto.passwd
SECRETS="MQTT_DAEMON_PASSWORD MQTT_OPERATOR_PASSWORD MQTT_VIEWER_PASSWORD MONGO_PASSWORD EVCSM_API_TOKEN"

say() { printf 'setup: %s\n' "$*"; }
fail() {
    printf 'setup: %s\n' "$*" >&2
    exit 1
}

random_secret() {
    # 32 random bytes as 64 hex digits: safe in URIs, in .env and on a command line.
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

env_value() {
    # The value of $1 in .env (the last one wins, as in docker compose), empty when unset.
    sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1
}

set_env_value() {
    # Replace $1's line in .env with $1=$2, or append it. The value travels through the
    # environment, never on a command line that `ps` would show.
    KEY=$1 VALUE=$2 awk '
        index($0, ENVIRON["KEY"] "=") == 1 { if (!done) print ENVIRON["KEY"] "=" ENVIRON["VALUE"]; done = 1; next }
        { print }
        END { if (!done) print ENVIRON["KEY"] "=" ENVIRON["VALUE"] }
    ' "$ENV_FILE" >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

compose_command() {
    if docker compose version >/dev/null 2>&1; then
        echo "docker compose"
    elif command -v docker-compose >/dev/null 2>&1; then
        echo "docker-compose"
    else
        return 1
    fi
}

hash_in_place() {
    # Turn the plain-text user:password file $1 into a mosquitto password file.
    if command -v mosquitto_passwd >/dev/null 2>&1; then
        mosquitto_passwd -U "$1"
    elif compose=$(compose_command); then
        say "no mosquitto_passwd on this host: hashing with the broker image"
        touch "$PASSWD_FILE" # the broker service mounts it; it must exist as a file
        $compose run --rm --no-deps --entrypoint mosquitto_passwd \
            -v "$PWD/$SECRETS_DIR:/setup" mosquitto -U "/setup/$(basename -- "$1")"
    else
        fail "neither mosquitto_passwd (Debian: apt-get install mosquitto) nor docker compose found"
    fi
}

# 1. .env with every secret set.
[ -f .env.example ] || fail "no .env.example in $(pwd)"
if [ ! -f "$ENV_FILE" ]; then
    cp .env.example "$ENV_FILE"
    say "created $ENV_FILE from .env.example"
fi
chmod 600 "$ENV_FILE"
for name in $SECRETS; do
    if [ -z "$(env_value "$name")" ]; then
        set_env_value "$name" "$(random_secret)"
        say "generated $name"
    fi
    case "$(env_value "$name")" in
        *[!A-Za-z0-9._~-]*) fail "$name in $ENV_FILE may hold only letters, digits and . _ ~ -" ;;
    esac
done

# 2. The broker's password file, one user per role of mosquitto.acl.
mkdir -p "$SECRETS_DIR"
# The broker, in the container (uid 1883) or on the host (Debian's mosquitto user), reads the
# file as a user that owns neither it nor the folder: the folder must let everyone through.
# It holds the hashed file alone; the plain-text one below is private (umask) while it exists.
chmod 755 "$SECRETS_DIR"
plain=$SECRETS_DIR/mosquitto.passwd.new
# The plain-text passwords never outlive the script, whichever way it ends.
trap 'rm -f "$plain"' EXIT
trap 'exit 1' HUP INT TERM
{
    printf 'evcsm-daemon:%s\n' "$(env_value MQTT_DAEMON_PASSWORD)"
    printf 'evcsm-operator:%s\n' "$(env_value MQTT_OPERATOR_PASSWORD)"
    printf 'evcsm-viewer:%s\n' "$(env_value MQTT_VIEWER_PASSWORD)"
} >"$plain"
hash_in_place "$plain" || fail "hashing the broker's passwords failed"
# Readable by all: it holds only salted PBKDF2 hashes of 256-bit random passwords, and the broker
# reads it as its own unprivileged user (uid 1883 in the image), not as the file's owner.
chmod 644 "$plain"
mv "$plain" "$PASSWD_FILE"
say "wrote $PASSWD_FILE (users evcsm-daemon, evcsm-operator, evcsm-viewer)"
say "next: docker compose up -d --build   (docs/deploy.md)"
