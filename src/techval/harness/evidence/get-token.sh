#!/bin/sh
# get-token.sh: fetches an access token with curl and prints it, for the scripts beside it:
#   export REDOX_TOKEN="$(sh get-token.sh)"
# It reads the credentials from the variables the environment files read (never written here):
#   REDOX_CLIENT_ID          the OAuth API key's client ID
#   REDOX_KEY_ID             the kid of your key (RS384, ES384)
#   REDOX_PRIVATE_KEY_FILE   the PEM private key (RS384, ES384)
#   REDOX_CLIENT_SECRET      the client secret (HS384; it is on openssl's command line)
#   REDOX_API_KEY, REDOX_API_SECRET   the API key and secret (legacy)
# REDOX_AUTH ('jwt RS384', 'jwt ES384', 'jwt HS384' or 'legacy'), REDOX_BASE_URL and
# REDOX_TOKEN_URL change how and where; the run that wrote this copy set their defaults below.
# As the harness does (techval.core.auth): a JWT client assertion (iss and sub the client ID,
# aud the token URL, iat, exp assertion_lifetime seconds later, a new jti) signed with openssl,
# POSTed as a form (client_credentials); legacy: the API key and secret as JSON.
# Needs curl, openssl, awk, sed.
#
# Shipped with techval (src/techval/harness/evidence/get-token.sh); `techval run` copies it
# into reports/reproduce/ with the run's defaults in place of the block between the markers.
set -eu
# --- run defaults ---
: "${REDOX_TOKEN_URL:?set REDOX_TOKEN_URL (the token endpoint)}"
REDOX_AUTH=${REDOX_AUTH:-'jwt RS384'}
assertion_lifetime=300
assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
# --- end of run defaults ---
sha384() { openssl dgst -sha384 -binary "$@"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '=\n'; }
json_string() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
hex_to_binary() {
  printf "$(awk 'BEGIN { d = "0123456789abcdef" }
    { h = tolower($0); for (i = 1; i < length(h); i += 2)
        printf "\\%03o", (index(d, substr(h, i, 1)) - 1) * 16 \
          + index(d, substr(h, i + 1, 1)) - 1 }')"
}
der_to_raw() {  # ES384: the DER signature openssl writes -> r||s, 48 bytes each (JWS)
  openssl asn1parse -inform DER | awk -F: '/INTEGER/ { h = $NF; sub(/^0+/, "", h)
    while (length(h) < 96) h = "0" h; printf "%s", h }' | hex_to_binary
}
answer=$(mktemp)
trap 'rm -f "$answer" "$answer.status"' EXIT

case "$REDOX_AUTH" in
  legacy*)
    : "${REDOX_API_KEY:?set REDOX_API_KEY (the legacy API key)}"
    : "${REDOX_API_SECRET:?set REDOX_API_SECRET (the legacy API secret)}"
    field=accessToken
    printf '{"apiKey":"%s","secret":"%s"}' "$(json_string "$REDOX_API_KEY")" \
      "$(json_string "$REDOX_API_SECRET")" |
      curl -sS -o "$answer" -w '%{http_code}' -X POST "$REDOX_TOKEN_URL" \
        -H 'Content-Type: application/json' --data-binary @- >"$answer.status"
    ;;
  *)
    alg=${REDOX_AUTH##* }
    : "${REDOX_CLIENT_ID:?set REDOX_CLIENT_ID (the OAuth client ID)}"
    field=access_token
    case "$alg" in
      RS384 | ES384)
        : "${REDOX_KEY_ID:?set REDOX_KEY_ID (the kid of your key)}"
        : "${REDOX_PRIVATE_KEY_FILE:?set REDOX_PRIVATE_KEY_FILE (your PEM private key)}"
        kid=$(json_string "$REDOX_KEY_ID")
        header=$(printf '{"alg":"%s","typ":"JWT","kid":"%s"}' "$alg" "$kid")
        ;;
      HS384)
        : "${REDOX_CLIENT_SECRET:?set REDOX_CLIENT_SECRET (the client secret)}"
        header='{"alg":"HS384","typ":"JWT"}'
        ;;
      *)
        echo "get-token.sh: REDOX_AUTH: 'jwt RS384', 'jwt ES384', 'jwt HS384' or 'legacy'" >&2
        exit 2
        ;;
    esac
    now=$(date +%s)
    id=$(json_string "$REDOX_CLIENT_ID")
    aud=$(json_string "$REDOX_TOKEN_URL")
    jti=$(openssl rand -hex 16)
    claims=$(printf '{"iss":"%s","sub":"%s","aud":"%s","iat":%s,"exp":%s,"jti":"%s"}' \
      "$id" "$id" "$aud" "$now" "$((now + assertion_lifetime))" "$jti")
    input="$(printf '%s' "$header" | b64url).$(printf '%s' "$claims" | b64url)"
    key=${REDOX_PRIVATE_KEY_FILE:-}
    case "$alg" in
      RS384) signature=$(printf '%s' "$input" | sha384 -sign "$key" | b64url) ;;
      ES384) signature=$(printf '%s' "$input" | sha384 -sign "$key" | der_to_raw | b64url) ;;
      HS384) signature=$(printf '%s' "$input" | sha384 -hmac "$REDOX_CLIENT_SECRET" | b64url) ;;
    esac
    if [ -z "$signature" ]; then
      echo "get-token.sh: openssl could not sign the client assertion" >&2
      exit 2
    fi
    printf '%s' "$input.$signature" |
      curl -sS -o "$answer" -w '%{http_code}' -X POST "$REDOX_TOKEN_URL" \
        --data-urlencode 'grant_type=client_credentials' \
        --data-urlencode "client_assertion_type=$assertion_type" \
        --data-urlencode 'client_assertion@-' >"$answer.status"
    ;;
esac
status=$(cat "$answer.status")
token=$(sed -n "s/.*\"$field\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$answer")
if [ "$status" != 200 ] || [ -z "$token" ]; then
  why=$(cut -c1-300 "$answer" | head -n 5)
  echo "get-token.sh: $REDOX_TOKEN_URL answered HTTP $status: $why" >&2
  exit 1
fi
printf '%s\n' "$token"
